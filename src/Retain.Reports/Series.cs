using Retain.Evaluation;
using Retain.Studies;

namespace Retain.Reports;

/// <summary>What one seed of a series measures (<see cref="Metrics"/>); ρ and FWT only where its references are usable.</summary>
internal sealed record SeedMetrics(double Accuracy, double BackwardTransfer, double ForwardTransfer, double[]? ForgettingRatio, double ValidAccuracy)
{
    /// <summary>ACC without the task id (the run's own task predictor), NaN when the run has no task-agnostic results.</summary>
    public double AgnosticAccuracy { get; init; } = double.NaN;
    /// <summary>How often that predictor named the right task after the last task (mean over tasks), NaN without results.</summary>
    public double TaskPrediction { get; init; } = double.NaN;
}

/// <summary>The summary row of a series: each metric's mean and 95% interval over the seeds where it is defined, or null.</summary>
public sealed record SeriesSummary(MeanWithConfidence? Accuracy, MeanWithConfidence? BackwardTransfer, MeanWithConfidence? ForwardTransfer,
    MeanWithConfidence? FinalForgettingRatio, MeanWithConfidence? MeanForgettingRatio, MeanWithConfidence? ValidAccuracy,
    MeanWithConfidence? AgnosticAccuracy = null, MeanWithConfidence? TaskPrediction = null);

/// <summary>
/// The seeds of one approach (with one grid point or run name) on one experiment in one folder, aggregated as
/// <c>plot_results.py</c> aggregates: per quantity the mean over seeds and the 95% Student-t half-width
/// (<see cref="MeanWithConfidence"/>; NaN for a single seed). Seeds that completed fewer tasks than the others (a
/// run stopped early) are left out, so every mean is over the same seeds and tasks.
/// </summary>
internal sealed class Series
{
    public required string Folder { get; init; }
    public required string Experiment { get; init; }
    public required string Approach { get; init; }
    /// <summary>The grid point or run name (the result file's name part), null for none.</summary>
    public string? Label { get; init; }
    /// <summary>How figures and tables name it: the approach, its label, and the folder when the report spans several.</summary>
    public required string DisplayName { get; init; }
    /// <summary>Every run of the series, including the seeds left out.</summary>
    public required IReadOnlyList<ReportRun> Runs { get; init; }
    /// <summary>The seeds aggregated: those that completed the most tasks.</summary>
    public required IReadOnlyList<ReportRun> Seeds { get; init; }
    public int Tasks => Seeds[0].CompletedTasks;
    public bool IsReference => Seeds[0].IsReference;
    public IReadOnlyList<StudyOption> Options => Seeds[0].Options;

    /// <summary><c>Accuracy[t][u]</c> for u ≤ t: test accuracy on task u after training task t, over seeds.</summary>
    public required MeanWithConfidence[][] Accuracy { get; init; }
    /// <summary>Mean accuracy over the tasks learnt so far after training task t (ACC after t), over seeds.</summary>
    public required MeanWithConfidence[] AverageAccuracy { get; init; }
    /// <summary>
    /// Like <see cref="AverageAccuracy"/> without the task id (each seed's own task predictor), where every seed has
    /// task-agnostic results; else null.
    /// </summary>
    public MeanWithConfidence[]? AgnosticAverageAccuracy { get; init; }
    /// <summary>ρ^{≤t} over the seeds with usable references; null without any (and for the references themselves).</summary>
    public ForgettingRatioAggregate? ForgettingRatio { get; init; }
    public required SeriesSummary Summary { get; init; }
    /// <summary>Shown in the figures that compare approaches (the best grid point by validation accuracy where there are several).</summary>
    public bool Shown { get; set; }
    /// <summary>Where another series of the same approach is shown too (another folder): 0, 1, ... selects the line pattern.</summary>
    public int Variant { get; set; }

    /// <param name="measure">a seed's metrics (null for a reference run, which is not evaluated).</param>
    public static Series Of(string displayName, IReadOnlyList<ReportRun> runs, Func<ReportRun, SeedMetrics?> measure)
    {
        var tasks = runs.Max(r => r.CompletedTasks);
        var seeds = runs.Where(r => r.CompletedTasks == tasks).OrderBy(r => r.Name.Seed).ToArray();
        var first = seeds[0];
        MeanWithConfidence Over(Func<ReportRun, double> value) => MeanWithConfidence.Of(seeds.Select(value).ToArray());

        var accuracy = Enumerable.Range(0, tasks)
            .Select(t => Enumerable.Range(0, t + 1).Select(u => Over(r => r.Accuracy[t, u])).ToArray()).ToArray();
        // At t = n−1 this is ACC (Metrics.AverageAccuracy); a test checks that they agree.
        var average = Enumerable.Range(0, tasks)
            .Select(t => Over(r => Enumerable.Range(0, t + 1).Average(u => r.Accuracy[t, u]))).ToArray();

        var agnostic = seeds.Select(r => r.AgnosticAccuracy).ToArray();
        var agnosticAverage = agnostic.All(m => m is not null)
            ? Enumerable.Range(0, tasks).Select(t => MeanWithConfidence.Of(agnostic.Select(m => Enumerable.Range(0, t + 1).Average(u => m![t, u])).ToArray())).ToArray()
            : null;

        var metrics = seeds.Select(measure).Where(m => m is not null).Select(m => m!).ToArray();
        var ratios = metrics.Where(m => m.ForgettingRatio is not null).Select(m => (IReadOnlyList<double>)m.ForgettingRatio!).ToArray();
        var rho = ratios.Length > 0 ? ForgettingRatioAggregate.Of(ratios) : null;
        var summary = metrics.Length == 0 ? new SeriesSummary(null, null, null, null, null, null) : new SeriesSummary(
            Defined(metrics.Select(m => m.Accuracy)), Defined(metrics.Select(m => m.BackwardTransfer)),
            Defined(metrics.Select(m => m.ForwardTransfer)), Defined(ratios.Select(r => r[^1])), rho?.Overall,
            Defined(metrics.Select(m => m.ValidAccuracy)), Defined(metrics.Select(m => m.AgnosticAccuracy)), Defined(metrics.Select(m => m.TaskPrediction)));
        return new Series
        {
            Folder = first.Folder, Experiment = first.Name.Experiment, Approach = first.Name.Approach, Label = first.Name.Name,
            DisplayName = displayName, Runs = runs, Seeds = seeds, Accuracy = accuracy, AverageAccuracy = average, AgnosticAverageAccuracy = agnosticAverage,
            ForgettingRatio = rho, Summary = summary,
        };
    }

    /// <summary>Mean and interval over the values that are defined (not NaN), or null when none is.</summary>
    private static MeanWithConfidence? Defined(IEnumerable<double> values)
    {
        var defined = values.Where(v => !double.IsNaN(v)).ToArray();
        return defined.Length == 0 ? null : MeanWithConfidence.Of(defined);
    }
}
