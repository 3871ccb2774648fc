using Retain.Evaluation;

namespace Retain.Reports;

/// <summary>
/// A column of a report's summary table, and a metric its grid figures can show (<c>--grid-metric NAME</c>):
/// how it is named, labelled and scaled (100 for percentages), and where a series' summary holds it.
/// </summary>
public sealed record SummaryMetric(string Name, string Header, string Label, double Scale, Func<SeriesSummary, MeanWithConfidence?> Value)
{
    /// <summary>The table's columns in order.</summary>
    public static readonly IReadOnlyList<SummaryMetric> All =
    [
        new("acc", "ACC (%)", "ACC: mean test accuracy after the last task (%)", 100, s => s.Accuracy),
        new("bwt", "BWT (%)", "BWT: backward transfer (%)", 100, s => s.BackwardTransfer),
        new("fwt", "FWT (%)", "FWT: forward transfer (%)", 100, s => s.ForwardTransfer),
        new("rho", "ρ after the last task", "forgetting ratio ρ after the last task", 1, s => s.FinalForgettingRatio),
        new("rho-mean", "ρ≤t, mean over t", "forgetting ratio ρ≤t, mean over t", 1, s => s.MeanForgettingRatio),
        new("valid-acc", "valid ACC (%)", "mean validation accuracy after the last task (%)", 100, s => s.ValidAccuracy),
        new("acc-agnostic", "ACC without task id (%)", "ACC when each sample's task is predicted by the run's own predictor (%)", 100, s => s.AgnosticAccuracy),
        new("task-predicted", "task predicted (%)", "how often the predictor named the right task after the last task (%)", 100, s => s.TaskPrediction),
    ];

    public static SummaryMetric Named(string name) => All.FirstOrDefault(m => m.Name == name)
        ?? throw new RetainException($"--grid-metric: expected one of {string.Join(", ", All.Select(m => m.Name))} (got '{name}')");
}
