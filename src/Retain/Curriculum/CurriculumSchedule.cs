using System.Globalization;

namespace Retain.Curriculum;

/// <summary>How the curriculum threshold grows from <c>Start</c> to 1 over <c>Epochs</c> epochs.</summary>
public enum CurriculumType
{
    /// <summary><c>s + (1-s) * x / m</c>.</summary>
    Linear,
    /// <summary><c>s + (1-s) * x^p / m^p</c> with <c>p = param[0]</c>, 2 by default.</summary>
    Exp,
    /// <summary><c>s + (1-s) * ln(1+x) / ln(1+m)</c>.</summary>
    Log,
}

/// <summary>
/// The curriculum option <c>--curriculum TYPE:EPOCHS[:START[:PARAM...]]</c>: at epoch <c>x</c> of a task only the
/// samples whose normalised complexity (<see cref="EntropyComplexity"/>) is at most <see cref="Threshold"/> are used.
/// The threshold is capped at 1, so from epoch <c>Epochs</c> on every sample is used.
/// The seed's log schedule, <c>s + (1-s) * ln(x) / ln(m)</c>, is -inf at epoch 0, selects no sample and crashes;
/// this uses the corrected <c>ln(1+x) / ln(1+m)</c>, which also starts at <c>s</c> and reaches 1 at epoch <c>m</c>.
/// </summary>
public sealed class CurriculumSchedule
{
    public const double DefaultStart = 0.2;
    /// <summary>The exponent of the exp schedule when the option gives none.</summary>
    public const double DefaultExpPower = 2;

    private const string Grammar = "TYPE:EPOCHS[:START[:PARAM...]] such as linear:100:0.2";

    private CurriculumSchedule(CurriculumType type, int epochs, double start, IReadOnlyList<double> parameters)
    {
        Type = type;
        Epochs = epochs;
        Start = start;
        Parameters = parameters;
    }

    public CurriculumType Type { get; }
    /// <summary>The epoch index from which the threshold is 1 (<c>m</c>).</summary>
    public int Epochs { get; }
    /// <summary>The threshold at epoch 0 (<c>s</c>), in [0, 1].</summary>
    public double Start { get; }
    /// <summary>Extra numbers after START. Only exp uses one (its power); linear and log accept and ignore them, as the seed did.</summary>
    public IReadOnlyList<double> Parameters { get; }

    /// <summary>The power of the exp schedule: the first parameter, or <see cref="DefaultExpPower"/>.</summary>
    public double ExpPower => Parameters.Count > 0 ? Parameters[0] : DefaultExpPower;

    /// <summary>Parses the option; null, empty or blank means no curriculum.</summary>
    /// <exception cref="RetainException">The text is not a valid curriculum; the message starts with <c>--curriculum:</c>.</exception>
    public static CurriculumSchedule? Parse(string? option)
    {
        if (string.IsNullOrWhiteSpace(option)) return null;
        var fields = option.Trim().Split(':').Select(f => f.Trim()).ToArray();
        if (fields.Length < 2)
            throw new RetainException($"--curriculum: expected {Grammar} (got '{option}')");

        var type = fields[0].ToLowerInvariant() switch
        {
            "linear" => CurriculumType.Linear,
            "exp" => CurriculumType.Exp,
            "log" => CurriculumType.Log,
            _ => throw new RetainException($"--curriculum: unknown type '{fields[0]}' (expected linear, exp or log)"),
        };
        if (!int.TryParse(fields[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var epochs) || epochs < 1)
            throw new RetainException($"--curriculum: EPOCHS must be a whole number of at least 1 (got '{fields[1]}')");

        var start = DefaultStart;
        if (fields.Length > 2 && (!TryParseFinite(fields[2], out start) || start is < 0 or > 1))
            throw new RetainException($"--curriculum: START must be a number in [0, 1] (got '{fields[2]}')");

        var parameters = new double[Math.Max(0, fields.Length - 3)];
        for (var k = 0; k < parameters.Length; k++)
            if (!TryParseFinite(fields[k + 3], out parameters[k]))
                throw new RetainException($"--curriculum: PARAM must be a number (got '{fields[k + 3]}')");
        // A power <= 0 makes x^p / m^p 1 or infinite at epoch 0: the curriculum would do nothing.
        if (type == CurriculumType.Exp && parameters.Length > 0 && !(parameters[0] > 0))
            throw new RetainException($"--curriculum: the exp power must be positive (got '{fields[3]}')");

        return new CurriculumSchedule(type, epochs, start, parameters);
    }

    /// <summary>The complexity threshold used at epoch index <paramref name="epoch"/> (0-based), capped at 1.</summary>
    public double Threshold(int epoch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        double x = epoch, m = Epochs, s = Start;
        var progress = Type switch
        {
            CurriculumType.Linear => x / m,
            CurriculumType.Exp => Math.Pow(x, ExpPower) / Math.Pow(m, ExpPower),
            CurriculumType.Log => Math.Log(1 + x) / Math.Log(1 + m),
            _ => throw new InvalidOperationException($"unhandled curriculum type {Type}"),
        };
        return Math.Min(1, s + (1 - s) * progress);
    }

    /// <summary>
    /// Indices, ascending, of the samples used at <paramref name="epoch"/>: those with complexity &lt;= the threshold.
    /// The comparison is in float32, as numpy compares a float32 array with a Python float.
    /// </summary>
    public int[] SelectedSamples(IReadOnlyList<float> complexities, int epoch)
    {
        var threshold = (float)Threshold(epoch);
        var selected = new List<int>(complexities.Count);
        for (var i = 0; i < complexities.Count; i++)
            if (complexities[i] <= threshold) selected.Add(i);
        return selected.ToArray();
    }

    /// <summary>The option in canonical form, START included: <c>Parse(ToString())</c> gives the same schedule.</summary>
    public override string ToString()
    {
        var fields = new List<string>
        {
            Type.ToString().ToLowerInvariant(),
            Epochs.ToString(CultureInfo.InvariantCulture),
            Start.ToString(CultureInfo.InvariantCulture),
        };
        fields.AddRange(Parameters.Select(p => p.ToString(CultureInfo.InvariantCulture)));
        return string.Join(':', fields);
    }

    private static bool TryParseFinite(string text, out double value) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value) && double.IsFinite(value);
}
