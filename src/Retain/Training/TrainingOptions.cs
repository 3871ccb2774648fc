namespace Retain.Training;

/// <summary>
/// Options of the base training loop (seed: BaseApproach). Defaults are the seed's base-class defaults; an approach
/// may change them (e.g. ewc clips at 100).
/// </summary>
public sealed record TrainingOptions
{
    /// <summary>Epochs per task (upper bound: the lr schedule may stop earlier).</summary>
    public int Epochs { get; init; } = 100;
    public int BatchSize { get; init; } = 64;
    public double LearningRate { get; init; } = 0.05;
    /// <summary>Training of a task stops once the decayed learning rate falls below this.</summary>
    public double MinLearningRate { get; init; } = 1e-4;
    /// <summary>The learning rate is divided by this after <see cref="Patience"/> epochs without improvement.</summary>
    public double LearningRateFactor { get; init; } = 3;
    public int Patience { get; init; } = 5;
    /// <summary>Global L2 norm to which gradients are clipped.</summary>
    public double ClipGradient { get; init; } = 10000;
    /// <summary>Warm-up: the first <c>Epochs</c> epochs train at lr / <c>Divisor</c>; null or 0 epochs: none.</summary>
    public Warmup? Warmup { get; init; }
    /// <summary>
    /// Entropy curriculum: each epoch trains only on samples whose complexity is at most the schedule's threshold.
    /// Null: every sample, every epoch.
    /// </summary>
    [System.Text.Json.Serialization.JsonConverter(typeof(CurriculumJsonConverter))]
    public Curriculum.CurriculumSchedule? Curriculum { get; init; }
    /// <summary>The optimiser (plain SGD, the seed's, by default); the rate is <see cref="LearningRate"/>.</summary>
    public OptimizerOptions Optimizer { get; init; } = new SgdOptimizer();
    /// <summary>The loss that fits each task's head (cross-entropy, the seed's, by default); approaches add their regularisers to it.</summary>
    public LossFunction Loss { get; init; } = new CrossEntropyLoss();

    /// <summary>Throws a <see cref="SettingException"/> naming the first option out of its range.</summary>
    public void Validate()
    {
        if (Epochs < 1) throw Invalid(nameof(Epochs), $"must be at least 1 (got {Epochs})");
        if (BatchSize < 1) throw Invalid(nameof(BatchSize), $"must be at least 1 (got {BatchSize})");
        if (!(LearningRate > 0)) throw Invalid(nameof(LearningRate), $"must be positive (got {LearningRate})");
        if (!(MinLearningRate >= 0)) throw Invalid(nameof(MinLearningRate), $"must not be negative (got {MinLearningRate})");
        if (!(LearningRateFactor > 1)) throw Invalid(nameof(LearningRateFactor), $"must be greater than 1 (got {LearningRateFactor})");
        if (Patience < 1) throw Invalid(nameof(Patience), $"must be at least 1 (got {Patience})");
        if (!(ClipGradient > 0)) throw Invalid(nameof(ClipGradient), $"must be positive (got {ClipGradient})");
        if (Warmup is { } w && (w.Epochs < 0 || !(w.Divisor > 0)))
            throw Invalid(nameof(Warmup), $"must be EPOCHS,DIVISOR with EPOCHS >= 0 and DIVISOR > 0 (got {w.Epochs},{w.Divisor})");
        Optimizer.Validate();
        Loss.Validate();
    }

    private static SettingException Invalid(string property, FormattableString problem) =>
        new(typeof(TrainingOptions), property, FormattableString.Invariant(problem));
}

public sealed record Warmup(int Epochs, double Divisor)
{
    /// <summary>Parses the seed's <c>[W,D]</c> form, also written <c>W,D</c>.</summary>
    public static Warmup? Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        var parts = text.Trim('[', ']', '(', ')', ' ').Split(',');
        if (parts.Length != 2 || !int.TryParse(parts[0], out var w) ||
            !double.TryParse(parts[1], System.Globalization.CultureInfo.InvariantCulture, out var d))
            throw new RetainException($"--warmup: expected EPOCHS,DIVISOR such as 10,750 (got '{text}')");
        return new Warmup(w, d);
    }
}

/// <summary>Writes a curriculum as its option string (<c>linear:100:0.2</c>) in result records.</summary>
internal sealed class CurriculumJsonConverter : System.Text.Json.Serialization.JsonConverter<Curriculum.CurriculumSchedule?>
{
    public override Curriculum.CurriculumSchedule? Read(ref System.Text.Json.Utf8JsonReader reader, Type type, System.Text.Json.JsonSerializerOptions options) =>
        Curriculum.CurriculumSchedule.Parse(reader.GetString());

    public override void Write(System.Text.Json.Utf8JsonWriter writer, Curriculum.CurriculumSchedule? value, System.Text.Json.JsonSerializerOptions options)
    {
        if (value is null) writer.WriteNullValue();
        else writer.WriteStringValue(value.ToString());
    }
}
