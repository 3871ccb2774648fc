using System.Globalization;
using System.Reflection;

namespace Retain.Approaches;

/// <summary>
/// Marks a property of an approach's options record as a command-line option <c>--&lt;Name&gt;</c>. The help text
/// should say what the option does in the paper's terms.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class OptionAttribute(string name, string help) : Attribute
{
    public string Name { get; } = name;
    public string Help { get; } = help;
    /// <summary>
    /// Bound before every other option whatever the command-line order: a preset that sets other options' values,
    /// which options given explicitly then override.
    /// </summary>
    public bool BindsFirst { get; init; }
}

/// <summary>
/// An options record whose values have ranges (λ &gt;= 0, counts &gt;= 1, ...). <see cref="ApproachOptions.Bind"/>
/// checks them, so a bad value fails with one line naming the option before any data is loaded.
/// </summary>
public interface IValidatedOptions
{
    /// <summary>Throws a <see cref="RetainException"/> naming the first option out of its range.</summary>
    void Validate();
}

/// <summary>
/// An approach's options record that changes the approach's base-loop defaults (a preset that sets the learning
/// rate, for example). Applied after the backbone's defaults and before the options given on the command line, which
/// still win.
/// </summary>
public interface IAdjustsTrainingDefaults
{
    Training.TrainingOptions AdjustDefaults(Training.TrainingOptions defaults);
}

/// <summary>An approach's options record that needs runs of at least <see cref="FewestEpochs"/> epochs per task (PathNet: one per generation).</summary>
public interface IRequiresEpochs
{
    int FewestEpochs { get; }
}

/// <summary>One declared option of an approach, with its value (the default, or a bound record's) as text.</summary>
public sealed record OptionInfo(string Name, string Help, Type Type, string Value);

/// <summary>
/// Binds <c>--name value</c> pairs to an approach's typed options record. Unknown names, ill-typed values and values
/// out of range (<see cref="IValidatedOptions"/>) are errors naming the option (the seed silently ignored typos).
/// </summary>
public static class ApproachOptions
{
    /// <summary>The declared options with their values in <paramref name="options"/> (default: a fresh record's defaults).</summary>
    public static IReadOnlyList<OptionInfo> Describe(Type optionsType, object? options = null)
    {
        options ??= Activator.CreateInstance(optionsType)!;
        return Declared(optionsType)
            .Select(p => new OptionInfo(p.Attribute.Name, p.Attribute.Help, p.Property.PropertyType, Format(p.Property.GetValue(options))))
            .ToArray();
    }

    public static object Bind(Type optionsType, IReadOnlyDictionary<string, string> values, string approach)
    {
        var options = Activator.CreateInstance(optionsType)!;
        var declared = Declared(optionsType).ToDictionary(p => p.Attribute.Name);
        foreach (var (name, text) in values.OrderBy(v => declared.TryGetValue(v.Key, out var d) && d.Attribute.BindsFirst ? 0 : 1))
        {
            if (!declared.TryGetValue(name, out var target))
                throw new RetainException(declared.Count == 0
                    ? $"--{name}: not an option of {approach} (it has no options of its own)"
                    : $"--{name}: not an option of {approach} (its options: {string.Join(", ", declared.Keys.Select(k => "--" + k))})");
            target.Property.SetValue(options, Parse(target.Property.PropertyType, text, name));
        }
        (options as IValidatedOptions)?.Validate();
        return options;
    }

    public static string Format(object? value) => value switch
    {
        null => "none",
        double d => d.ToString("G", CultureInfo.InvariantCulture),
        bool b => b ? "true" : "false",
        double[] a => string.Join(",", a.Select(v => v.ToString("G", CultureInfo.InvariantCulture))),
        int[] a => string.Join(",", a.Select(v => v.ToString(CultureInfo.InvariantCulture))),
        Enum e => e.ToString().ToLowerInvariant(),
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "",
    };

    private static IEnumerable<(PropertyInfo Property, OptionAttribute Attribute)> Declared(Type type) =>
        type.GetProperties()
            .Select(p => (Property: p, Attribute: p.GetCustomAttribute<OptionAttribute>()))
            .Where(p => p.Attribute is not null)
            .Select(p => (p.Property, p.Attribute!));

    private static object? Parse(Type type, string text, string name)
    {
        var underlying = Nullable.GetUnderlyingType(type);
        if (underlying is not null)
            return text is "" or "none" or "None" ? null : Parse(underlying, text, name);
        if (type == typeof(string)) return text;
        if (type == typeof(int) && int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var i)) return i;
        if (type == typeof(double) && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d)) return d;
        if (type == typeof(bool))
        {
            // The seed's Fire CLI passed "true"/"false" on as strings; here they are booleans, case-insensitively.
            if (text.Equals("true", StringComparison.OrdinalIgnoreCase) || text == "1") return true;
            if (text.Equals("false", StringComparison.OrdinalIgnoreCase) || text == "0") return false;
        }
        if (type == typeof(double[]))
        {
            var parts = text.Trim('[', ']', '(', ')').Split(',', StringSplitOptions.TrimEntries);
            var values = new double[parts.Length];
            if (parts.All(p => p.Length > 0) && parts.Select((p, k) => double.TryParse(p, NumberStyles.Float, CultureInfo.InvariantCulture, out values[k])).All(ok => ok))
                return values;
        }
        if (type == typeof(int[]))
        {
            var parts = text.Trim('[', ']', '(', ')').Split(',', StringSplitOptions.TrimEntries);
            var values = new int[parts.Length];
            if (parts.All(p => p.Length > 0) && parts.Select((p, k) => int.TryParse(p, NumberStyles.Integer, CultureInfo.InvariantCulture, out values[k])).All(ok => ok))
                return values;
        }
        if (type.IsEnum && Enum.TryParse(type, text, ignoreCase: true, out var e)) return e;
        throw OptionValues.Invalid("--" + name, type, text);
    }
}
