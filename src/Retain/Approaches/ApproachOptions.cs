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
/// An options record whose values have ranges (λ &gt;= 0, counts &gt;= 1, ...). An approach's spec checks them when it
/// takes the options (<see cref="ApproachSpec{TOptions}.With"/>), so a bad value fails with one line naming the option
/// before any data is loaded.
/// </summary>
public interface IValidatedOptions
{
    /// <summary>Throws a <see cref="RetainException"/> naming the first option out of its range.</summary>
    void Validate();
}

/// <summary>One declared option of an approach, with its value (the default, or a bound record's) as text.</summary>
public sealed record OptionInfo(string Name, string Help, Type Type, string Value);

/// <summary>
/// Binds <c>--name value</c> pairs to an approach's typed options record. Unknown names and ill-typed values are errors
/// naming the option (the seed silently ignored typos); values out of range are the spec's to refuse
/// (<see cref="IValidatedOptions"/>).
/// </summary>
public static class ApproachOptions
{
    /// <summary>The declared options of <paramref name="optionsType"/> with a fresh record's defaults.</summary>
    public static IReadOnlyList<OptionInfo> Describe(Type optionsType) => Describe(optionsType, Activator.CreateInstance(optionsType)!);

    /// <summary>The declared options with their values in <paramref name="options"/>.</summary>
    public static IReadOnlyList<OptionInfo> Describe<TOptions>(TOptions options) where TOptions : class => Describe(typeof(TOptions), options);

    private static OptionInfo[] Describe(Type optionsType, object options) =>
        Declared(optionsType)
            .Select(p => new OptionInfo(p.Attribute.Name, p.Attribute.Help, p.Property.PropertyType, Format(p.Property.GetValue(options))))
            .ToArray();

    /// <summary>
    /// A <typeparamref name="TOptions"/> record from <paramref name="values"/> (option name → text): the options
    /// <paramref name="start"/> sets differently from a fresh record's defaults first (an approach's defaults on a
    /// backbone), then presets (<see cref="OptionAttribute.BindsFirst"/>), then the other values.
    /// <paramref name="approach"/> names the approach in errors.
    /// </summary>
    public static TOptions Bind<TOptions>(IReadOnlyDictionary<string, string> values, string approach, TOptions? start = null) where TOptions : class, new()
    {
        var options = new TOptions();
        var declared = Declared(typeof(TOptions)).ToDictionary(p => p.Attribute.Name);
        if (start is not null)
        {
            var fresh = new TOptions();
            foreach (var (property, _) in declared.Values)
                if (Format(property.GetValue(start)) != Format(property.GetValue(fresh))) property.SetValue(options, property.GetValue(start));
        }
        foreach (var (name, text) in values.OrderBy(v => declared.TryGetValue(v.Key, out var d) && d.Attribute.BindsFirst ? 0 : 1))
        {
            if (!declared.TryGetValue(name, out var target))
                throw new RetainException(declared.Count == 0
                    ? $"--{name}: not an option of {approach} (it has no options of its own)"
                    : $"--{name}: not an option of {approach} (its options: {string.Join(", ", declared.Keys.Select(k => "--" + k))})");
            target.Property.SetValue(options, Parse(target.Property.PropertyType, text, name));
        }
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
