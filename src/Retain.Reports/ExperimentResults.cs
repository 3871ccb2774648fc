using System.Globalization;
using Retain.Evaluation;
using Retain.Studies;

namespace Retain.Reports;

/// <summary>
/// Everything a report shows of one experiment: its series (approach × grid point or name × folder, seeds
/// aggregated), which of them the comparison figures show, and notes on what is partial, missing or single-seed.
/// </summary>
internal sealed record ExperimentResults(string Experiment, int Tasks, IReadOnlyList<string> TaskNames, IReadOnlyList<Series> Series,
    IReadOnlyList<string> Notes)
{
    /// <summary>The scenario of every run shown (runs of two scenarios are never in one section).</summary>
    public Scenario Scenario { get; init; } = Scenario.Task;

    /// <summary>What the page, the figures and the CSV call it: the experiment, and its scenario outside task-IL (<c>split-fashion (class-IL)</c>).</summary>
    public string Title => Scenario == Scenario.Task ? Experiment : $"{Experiment} ({Scenario.Label()})";

    /// <summary>How its figures' file names start: the experiment, and its scenario outside task-IL (<c>split-fashion_class</c>).</summary>
    public string FileStem => Scenario == Scenario.Task ? Experiment : $"{Experiment}_{Scenario.Name()}";

    /// <summary>The series the comparison figures draw: every approach once per folder, references last.</summary>
    public IEnumerable<Series> Shown => Series.Where(s => s.Shown);

    /// <summary>One entry per experiment and scenario, in the order they first appear among the runs.</summary>
    public static IReadOnlyList<ExperimentResults> Of(ReportSources sources)
    {
        var byPath = sources.Runs.ToDictionary(r => r.MatrixPath);
        // Each scenario's runs sit in a folder of their own: only other folders than that make a series name its folder.
        var multipleFolders = sources.Runs.GroupBy(r => r.Scenario).Any(g => g.Select(r => r.Folder).Distinct().Count() > 1);
        return sources.Runs.GroupBy(r => (r.Name.Experiment, r.Scenario))
            .Select(g => Of(g.Key.Experiment, g.ToArray(), path => byPath.GetValueOrDefault(Path.GetFullPath(path)), multipleFolders) with { Scenario = g.Key.Scenario })
            .ToArray();
    }

    private static ExperimentResults Of(string experiment, IReadOnlyList<ReportRun> runs, Func<string, ReportRun?> find, bool multipleFolders)
    {
        var notes = new List<string>();
        var references = new ReferenceCheck(find);
        var series = new List<Series>();
        foreach (var group in runs.GroupBy(r => (r.Folder, r.Name.Approach, r.Name.Name)).OrderBy(g => Order(g.Key.Approach)).ThenBy(g => g.Key.Name, StringComparer.Ordinal))
        {
            var (folder, approach, label) = group.Key;
            var name = approach + (label is null ? "" : " " + label) + (multipleFolders ? $" ({Path.GetFileName(folder)})" : "");
            var s = Reports.Series.Of(name, Comparable(group.OrderBy(r => r.Name.Seed).ToArray(), name, notes), run => run.IsReference ? null : Measure(run, references));
            series.Add(s);
            Describe(s, notes);
        }
        Select(series, notes);
        notes.AddRange(references.Notes);

        var tasks = series.Max(s => s.Tasks);
        var named = runs.FirstOrDefault(r => r.Record is not null);
        var taskNames = Enumerable.Range(0, tasks).Select(u => named?.TaskName(u) ?? $"task {u + 1}").ToArray();
        return new ExperimentResults(experiment, tasks, taskNames, series, notes);
    }

    /// <summary>The seeds that may be averaged with the first (<see cref="RunCompatibility.AsSeeds"/>); each other one is left out with a note naming the difference.</summary>
    private static ReportRun[] Comparable(ReportRun[] seeds, string series, List<string> notes)
    {
        var first = RunDescription.Read(seeds[0].MatrixPath, seeds[0].Name, seeds[0].Accuracy);
        return seeds.Where((run, i) =>
        {
            if (i == 0 || RunCompatibility.AsSeeds(first, RunDescription.Read(run.MatrixPath, run.Name, run.Accuracy)) is not { } difference) return true;
            notes.Add($"{run.Label}: left out of {series}'s means ({difference})");
            return false;
        }).ToArray();
    }

    /// <summary>A seed's metrics, as <c>retain metrics</c> computes them; ρ and FWT need both references.</summary>
    private static SeedMetrics Measure(ReportRun run, ReferenceCheck references)
    {
        var accuracy = Metrics.AverageAccuracy(run.Accuracy);
        var backward = Metrics.BackwardTransfer(run.Accuracy);
        var valid = run.Record is { } record ? StudySummary.FinalMeanValidAccuracy(record) : double.NaN;
        var agnostic = run.AgnosticAccuracy is { } a ? Metrics.AverageAccuracy(a) : double.NaN;
        var taskPrediction = run.TaskPrediction is { } p ? Metrics.AverageAccuracy(p) : double.NaN;
        if (references.For(run) is not { } found)
            return new SeedMetrics(accuracy, backward, double.NaN, null, valid) { AgnosticAccuracy = agnostic, TaskPrediction = taskPrediction };
        var (random, joint) = found;
        var forward = run.Record is { } r ? Metrics.ForwardTransfer(run.Accuracy, r.AccuracyBeforeTraining, random.Accuracy) : double.NaN;
        return new SeedMetrics(accuracy, backward, forward, Metrics.ForgettingRatio(run.Accuracy, random.Accuracy, joint.Accuracy), valid)
        {
            AgnosticAccuracy = agnostic, TaskPrediction = taskPrediction,
        };
    }

    private static void Describe(Series s, List<string> notes)
    {
        foreach (var left in s.Runs.Except(s.Seeds))
            notes.Add($"{left.Label}: completed {left.CompletedTasks} of {left.TasksToRun} tasks, fewer than the other seeds' {s.Tasks}; left out of {s.DisplayName}'s means (a partial run)");
        if (s.Seeds.Any(r => r.IsPartial))
            notes.Add($"{s.DisplayName}: partial run{(s.Seeds.Count > 1 ? "s" : "")}, {s.Tasks} of {s.Seeds[0].TasksToRun} tasks so far");
        if (s.Seeds.Count == 1)
            notes.Add($"{s.DisplayName}: a single seed ({s.Seeds[0].Name.Seed}), so no confidence interval");
        if (!s.IsReference && s.ForgettingRatio is { } rho && rho.PerTask[0].Count < s.Seeds.Count)
            notes.Add($"{s.DisplayName}: ρ and FWT over {rho.PerTask[0].Count} of {s.Seeds.Count} seeds (the others lack usable references)");
        if (!s.IsReference && s.ForgettingRatio is null)
            notes.Add($"{s.DisplayName}: no forgetting ratio ρ and no FWT (no usable random and joint references)");
    }

    /// <summary>
    /// Per folder and approach, the series the comparison figures show: the only one, or of several grid points or
    /// names the one of best mean final validation accuracy (as <c>retain study summary</c> selects; test accuracy
    /// never chooses).
    /// </summary>
    private static void Select(List<Series> series, List<string> notes)
    {
        foreach (var group in series.GroupBy(s => (s.Folder, s.Approach)))
        {
            var candidates = group.ToArray();
            var best = candidates.MaxBy(s => s.Summary.ValidAccuracy?.Mean ?? double.NegativeInfinity)!;
            best.Shown = true;
            if (candidates.Length == 1) continue;
            notes.Add(best.Summary.ValidAccuracy is { } valid
                ? string.Create(CultureInfo.InvariantCulture, $"{best.Approach}: {candidates.Length} grid points or names; the figures show {best.DisplayName}, best by mean final validation accuracy ({100 * valid.Mean:F2}%), the table lists all")
                : $"{best.Approach}: {candidates.Length} grid points or names and no validation accuracy recorded; the figures show {best.DisplayName}, the table lists all");
        }
        foreach (var sameApproach in series.Where(s => s.Shown).GroupBy(s => s.Approach))
        {
            var variant = 0;
            foreach (var s in sameApproach) s.Variant = variant++;
        }
    }

    /// <summary>Approaches in the registry's order, unknown ones after them, the references last.</summary>
    private static int Order(string approach) => approach switch
    {
        ReferenceRuns.Joint => int.MaxValue - 1,
        ReferenceRuns.Random => int.MaxValue,
        _ => ApproachColours.RegistryIndex(approach),
    };
}
