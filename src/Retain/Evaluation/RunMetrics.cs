namespace Retain.Evaluation;

/// <summary>Every metric of one run (see <see cref="Metrics"/>), over its completed tasks; NaN where undefined.</summary>
internal sealed record RunMetrics
{
    public required int CompletedTasks { get; init; }
    public required int TaskCount { get; init; }
    public required double AverageAccuracy { get; init; }
    public required double BackwardTransfer { get; init; }
    /// <summary>NaN when the accuracies before training each task are unknown (see <see cref="Metrics.ForwardTransfer"/>).</summary>
    public required double ForwardTransfer { get; init; }
    /// <summary>ρ^{≤t} for t &lt; <see cref="CompletedTasks"/>.</summary>
    public required double[] ForgettingRatio { get; init; }
    /// <summary>Mean of ρ^{≤t} over t.</summary>
    public required double ForgettingRatioMean { get; init; }
    /// <summary>The notebook's FR_t, indexed by t (entry 0 NaN).</summary>
    public required double[] NotebookForgettingRatio { get; init; }
    /// <summary>The notebook's simple forgetting ratio, indexed by t (entry 0 NaN).</summary>
    public required double[] SimpleForgettingRatio { get; init; }
    public required NotebookSummary Notebook { get; init; }

    public static RunMetrics Compute(AccuracyMatrix run, AccuracyMatrix random, AccuracyMatrix joint, IReadOnlyList<double>? accuracyBeforeTraining)
    {
        var forgettingRatio = Metrics.ForgettingRatio(run, random, joint);
        return new RunMetrics
        {
            CompletedTasks = run.CompletedTasks,
            TaskCount = run.TaskCount,
            AverageAccuracy = Metrics.AverageAccuracy(run),
            BackwardTransfer = Metrics.BackwardTransfer(run),
            ForwardTransfer = accuracyBeforeTraining is null ? double.NaN : Metrics.ForwardTransfer(run, accuracyBeforeTraining, random),
            ForgettingRatio = forgettingRatio,
            ForgettingRatioMean = forgettingRatio.Average(),
            NotebookForgettingRatio = Metrics.NotebookForgettingRatio(run, random, joint),
            SimpleForgettingRatio = Metrics.SimpleForgettingRatio(run),
            Notebook = Metrics.NotebookSummaryOf(run, random, joint),
        };
    }
}

/// <summary>
/// The accuracies before training each task, which forward transfer needs and the accuracy matrix cannot hold
/// (it stores 0 above the diagonal). They are read from the run's JSON record (beside the text file) when it has an
/// <c>accuracy_before_training</c> array: entry u is the accuracy on task u after training tasks 0..u−1.
/// </summary>
public static class AccuracyBeforeTraining
{
    /// <summary>
    /// The recorded accuracies, or null when there is no JSON record or it does not hold them; an error when they
    /// do not cover the <paramref name="completedTasks"/> of the run or are not accuracies.
    /// </summary>
    public static double[]? TryRead(string accuracyMatrixPath, int completedTasks)
    {
        var jsonPath = ResultFiles.JsonPathFor(accuracyMatrixPath);
        if (!File.Exists(jsonPath)) return null;
        var values = Experiments.RunRecordFile.ReadFields(jsonPath).AccuracyBeforeTraining;
        if (values is null) return null;
        if (values.Length < completedTasks)
            throw new DataFileException(jsonPath, $"accuracy_before_training has {values.Length} values, but the run completed {completedTasks} tasks");
        return values;
    }
}

/// <summary>The scenario a run's JSON record names (task-IL for a record from before scenarios), or null without a record.</summary>
internal static class RecordedScenario
{
    private sealed record Recorded
    {
        public Scenario Scenario { get; init; } = Scenario.Task;
    }

    public static Scenario? TryRead(string accuracyMatrixPath)
    {
        var jsonPath = ResultFiles.JsonPathFor(accuracyMatrixPath);
        return File.Exists(jsonPath) ? ResultFiles.ReadRecord<Recorded>(jsonPath).Scenario : null;
    }
}

/// <summary>
/// A run's task-agnostic results, from its JSON record: the accuracy matrix of its own task predictor (each sample's
/// task predicted, that task's head giving the class), and how often the task was predicted right.
/// </summary>
internal sealed record AgnosticRecord(string Predictor, AccuracyMatrix Accuracy, AccuracyMatrix TaskAccuracy)
{
    /// <summary>The agnostic results beside <paramref name="accuracyMatrixPath"/>, or null when the run has none (<c>--eval aware</c>, older records).</summary>
    public static AgnosticRecord? TryRead(string accuracyMatrixPath)
    {
        var jsonPath = ResultFiles.JsonPathFor(accuracyMatrixPath);
        if (!File.Exists(jsonPath)) return null;
        var recorded = Experiments.RunRecordFile.ReadFields(jsonPath);
        if (recorded is not { Agnostic: { } all, AgnosticPredictor: { } predictor } || !all.TryGetValue(predictor, out var matrices)) return null;
        return new AgnosticRecord(predictor, new AccuracyMatrix(matrices.Accuracy, jsonPath), new AccuracyMatrix(matrices.TaskAccuracy, jsonPath));
    }
}
