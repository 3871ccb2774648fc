using System.ComponentModel;
using System.Globalization;
using Retain.Evaluation;
using Retain.Experiments;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Retain.Cli;

public sealed class MetricsSettings : CommandSettings
{
    [CommandArgument(0, "<FILES>")]
    [Description("Accuracy-matrix files named <experiment>_<approach>_<seed>[[_<name>]].txt. Random and joint runs among them are not evaluated (they are the references).")]
    public string[] Files { get; init; } = [];

    [CommandOption("--references <DIR>")]
    [Description("Folder with the reference runs <experiment>_random_<seed>.txt and <experiment>_joint_<seed>.txt (default: each file's own folder).")]
    public string? References { get; init; }
}

/// <summary>
/// <c>retain metrics</c>: per run, ACC, BWT, FWT, the HAT forgetting ratio ρ^{≤t} and the DWA notebook's forgetting
/// ratios; then, where several seeds of one approach are given, ρ^{≤t} as mean and 95% interval over the seeds.
/// </summary>
public sealed class MetricsCommand(IAnsiConsole console) : Command<MetricsSettings>
{
    private sealed record Run(string Path, ResultFileName Name, AccuracyMatrix Accuracy, string ReferenceFolder);

    public override int Execute(CommandContext context, MetricsSettings settings, CancellationToken cancellation)
    {
        if (settings.References is { } folder && !Directory.Exists(folder))
            throw new RetainException($"--references: folder '{folder}' not found");

        var runs = ReadRuns(settings);
        var descriptions = runs.Select(r => RunDescription.Read(r.Path, r.Name, r.Accuracy)).ToArray();
        // Its message lists each missing reference once, with the command that makes it.
        ReferenceRuns.RequireAll(runs.Select((r, i) => (r.Name, r.ReferenceFolder, descriptions[i].ReferenceArguments)));

        var references = new Dictionary<string, (AccuracyMatrix Matrix, RunDescription Description)>();
        (AccuracyMatrix Matrix, RunDescription Description) Reference(Run run, string approach)
        {
            var path = ReferenceRuns.PathFor(run.Name, approach, run.ReferenceFolder);
            var key = Path.GetFullPath(path);
            if (!references.TryGetValue(key, out var reference))
            {
                var matrix = AccuracyMatrix.Read(path);
                references[key] = reference = (matrix, RunDescription.Read(path, ResultFileName.Parse(path), matrix));
            }
            return reference;
        }

        // Every reference must be of the run's tasks (a joint run of another experiment or --limit gives nonsense
        // ratios); all are checked before any metric is printed.
        var notes = new List<string>();
        foreach (var (run, description) in runs.Zip(descriptions))
        {
            foreach (var approach in new[] { ReferenceRuns.Random, ReferenceRuns.Joint })
            {
                var reference = Reference(run, approach).Description;
                if (RunCompatibility.AsReference(description, reference, approach) is { } difference) throw new RetainException(difference);
                if (RunCompatibility.Unchecked(description, reference) is { } note && !notes.Contains(note)) notes.Add(note);
            }
        }
        // Seeds averaged into one interval must differ in their seed only.
        foreach (var seeds in runs.Zip(descriptions).GroupBy(r => GroupOf(r.First)))
            foreach (var (_, other) in seeds.Skip(1))
                if (RunCompatibility.AsSeeds(seeds.First().Second, other) is { } difference) throw new RetainException(difference);
        foreach (var note in notes) Line(note);

        var results = new List<(Run Run, RunMetrics Metrics)>();
        foreach (var (run, description) in runs.Zip(descriptions))
        {
            var beforeTraining = AccuracyBeforeTraining.TryRead(run.Path, run.Accuracy.CompletedTasks);
            var metrics = RunMetrics.Compute(run.Accuracy, Reference(run, ReferenceRuns.Random).Matrix, Reference(run, ReferenceRuns.Joint).Matrix, beforeTraining);
            PrintRun(run, metrics, beforeTraining is not null, description.Record?.TestMode);
            PrintAgnostic(run);
            results.Add((run, metrics));
        }
        PrintAggregate(results);
        return 0;
    }

    /// <summary>Reads every file given (each once), so a missing or malformed one fails before any metric is printed.</summary>
    private List<Run> ReadRuns(MetricsSettings settings)
    {
        var runs = new List<Run>();
        var seen = new HashSet<string>();
        foreach (var path in settings.Files)
        {
            if (!seen.Add(Path.GetFullPath(path))) continue;
            if (!File.Exists(path)) throw new DataFileException(path, Directory.Exists(path) ? "a folder, where an accuracy matrix (.txt) goes" : "file not found");
            var name = ResultFileName.Parse(path);
            var accuracy = AccuracyMatrix.Read(path);
            if (name.IsReference)
            {
                Line($"{path}: a {name.Approach} reference run, used to normalise the others, not evaluated");
                continue;
            }
            runs.Add(new Run(path, name, accuracy, settings.References ?? Path.GetDirectoryName(path) ?? ""));
        }
        if (runs.Count == 0)
            throw new RetainException("metrics: nothing to evaluate, every file given is a random or joint reference run");
        return runs;
    }

    private void PrintRun(Run run, RunMetrics m, bool hasAccuracyBeforeTraining, int? testMode)
    {
        console.WriteLine();
        console.Write(new Rule($"[bold]{Markup.Escape(run.Path)}[/]").LeftJustified());
        var completed = m.CompletedTasks == m.TaskCount ? $"{m.TaskCount} tasks"
            // A complete run of --test-mode N trained the first N tasks by design: it is not a partial run.
            : m.CompletedTasks == testMode ? $"the first {testMode} of {m.TaskCount} tasks (--test-mode {testMode})"
            : $"{m.CompletedTasks} of {m.TaskCount} tasks completed (a partial run: metrics over the completed tasks)";
        var scenario = RecordedScenario.TryRead(run.Path);
        Line($"experiment {run.Name.Experiment}, approach {run.Name.Approach}, seed {run.Name.Seed}" +
             $"{(run.Name.Name is { } n ? $", name {n}" : "")}{(scenario is { } s and not Scenario.Task ? $", scenario {s.Label()}" : "")}: {completed}");

        var table = new Table().Border(TableBorder.Rounded)
            .AddColumn(new TableColumn("after task t").RightAligned())
            .AddColumn(new TableColumn("forgetting ratio ρ≤t").RightAligned())
            .AddColumn(new TableColumn("notebook FR_t").RightAligned())
            .AddColumn(new TableColumn("simple FR_t").RightAligned());
        for (var t = 0; t < m.CompletedTasks; t++)
            table.AddRow(t.ToString(CultureInfo.InvariantCulture), Format(m.ForgettingRatio[t], "F3"),
                Format(m.NotebookForgettingRatio[t], "F3"), Format(m.SimpleForgettingRatio[t], "F3"));
        console.Write(table);

        var forwardTransfer = !double.IsNaN(m.ForwardTransfer) ? Percent(m.ForwardTransfer)
            : m.CompletedTasks == 1 ? "n/a (one task)"
            : hasAccuracyBeforeTraining ? "n/a (undefined)"
            : "n/a (needs each task's accuracy before training it; the matrix stores 0 there and the JSON record has no accuracy_before_training)";
        Line($"ACC {Percent(m.AverageAccuracy)}   BWT {(m.CompletedTasks == 1 ? "n/a (one task)" : Percent(m.BackwardTransfer))}   FWT {forwardTransfer}");
        Line($"forgetting ratio ρ≤t, mean over t: {Format(m.ForgettingRatioMean, "F3")}   (0 = joint level, -1 = random level)");
        Line($"notebook: acc = {Format(m.Notebook.Accuracy, "F4")}, forgotten = {PercentOf(m.Notebook.Forgotten)}");
        if (m.ForgettingRatio.Concat(m.NotebookForgettingRatio.Skip(1)).Concat(m.SimpleForgettingRatio.Skip(1)).Any(double.IsNaN))
            Line("n/a in the table: undefined, a division by zero (the joint reference scores exactly the random one on a task, or a task's accuracy was 0)");
    }

    /// <summary>
    /// The same metrics without the task id at test time, where the run and both references recorded it: each
    /// normalised by the references' own task-agnostic matrices.
    /// </summary>
    private void PrintAgnostic(Run run)
    {
        var own = AgnosticRecord.TryRead(run.Path);
        if (own is null) return;
        if (RecordedScenario.TryRead(run.Path) is { } scenario and not Scenario.Task)
        {
            // Outside task-IL the run's own matrix is already without the task id: only the task prediction is new.
            var final = own.Accuracy.CompletedTasks - 1;
            Line($"task predicted right ({own.Predictor} predictor): {Percent(Enumerable.Range(0, final + 1).Average(u => own.TaskAccuracy[final, u]))}" +
                 $" (it needs the task id, which {scenario.Label()} does not give)");
            return;
        }
        var random = AgnosticRecord.TryRead(ReferenceRuns.PathFor(run.Name, ReferenceRuns.Random, run.ReferenceFolder));
        var joint = AgnosticRecord.TryRead(ReferenceRuns.PathFor(run.Name, ReferenceRuns.Joint, run.ReferenceFolder));
        var last = own.Accuracy.CompletedTasks - 1;
        var taskPrediction = Enumerable.Range(0, last + 1).Average(u => own.TaskAccuracy[last, u]);
        var rho = random is null || joint is null ? "n/a (the references have no task-agnostic results)"
            : Format(Metrics.ForgettingRatio(own.Accuracy, random.Accuracy, joint.Accuracy).Average(), "F3");
        Line($"task-agnostic ({own.Predictor} predictor): ACC {Percent(Metrics.AverageAccuracy(own.Accuracy))}   " +
             $"BWT {(last == 0 ? "n/a (one task)" : Percent(Metrics.BackwardTransfer(own.Accuracy)))}   ρ≤t mean {rho}   task predicted right {Percent(taskPrediction)}");
    }

    /// <summary>ρ^{≤t} over seeds per experiment/approach/name (and folder), the numbers plot_results.py prints.</summary>
    private void PrintAggregate(List<(Run Run, RunMetrics Metrics)> results)
    {
        var groups = results
            .GroupBy(r => GroupOf(r.Run))
            .Select(g => (Label: LabelOf(g.First().Run) + (g.Key.Scenario is not Scenario.Task ? $" ({g.Key.Scenario.Label()})" : ""),
                          Seeds: g.Select(r => r.Run.Name.Seed).Order().ToArray(),
                          Aggregate: ForgettingRatioAggregate.Of(g.Select(r => (IReadOnlyList<double>)r.Metrics.ForgettingRatio).ToArray()),
                          UnequalTasks: g.Select(r => r.Metrics.CompletedTasks).Distinct().Count() > 1))
            .ToArray();
        if (groups.All(g => g.Seeds.Length < 2)) return; // nothing to aggregate: one seed per approach

        // One column per approach and one row per t, so many tasks do not squeeze the table on a narrow console.
        console.WriteLine();
        var table = new Table().Border(TableBorder.Rounded)
            .Title("Forgetting ratio ρ≤t over seeds: mean (95% confidence half-width)")
            .AddColumn(new TableColumn("after task t").RightAligned());
        foreach (var g in groups)
            table.AddColumn(new TableColumn(Markup.Escape($"{g.Label} (seeds {string.Join(",", g.Seeds)})")).RightAligned());
        for (var t = 0; t < groups.Max(g => g.Aggregate.Tasks); t++)
            table.AddRow([t.ToString(CultureInfo.InvariantCulture), .. groups.Select(g => t < g.Aggregate.Tasks ? Describe(g.Aggregate.PerTask[t]) : "")]);
        table.AddRow(["mean over t", .. groups.Select(g => Describe(g.Aggregate.Overall))]);
        console.Write(table);
        foreach (var g in groups.Where(g => g.UnequalTasks))
            Line($"{g.Label}: its seeds completed different numbers of tasks; aggregated over the first {g.Aggregate.Tasks}, which all completed");
        if (groups.Any(g => g.Seeds.Length < 2))
            Line("n/a: a confidence interval needs at least two seeds");
    }

    /// <summary>The runs aggregated over seeds together: one folder, experiment, approach, name and scenario (task-IL without a record).</summary>
    private static (string Folder, string Experiment, string Approach, string? Name, Scenario Scenario) GroupOf(Run run) =>
        (Path.GetFullPath(Path.GetDirectoryName(run.Path) is { Length: > 0 } d ? d : "."), run.Name.Experiment, run.Name.Approach, run.Name.Name,
         RecordedScenario.TryRead(run.Path) ?? Scenario.Task);

    // Plain lines go straight to the console's writer: Spectre would wrap them at the console width (80 columns when
    // output is redirected), which breaks the commands and paths they carry.
    private void Line(string text) => console.Profile.Out.Writer.WriteLine(text);

    private static string LabelOf(Run run)
    {
        var folder = Path.GetDirectoryName(run.Path);
        var label = $"{run.Name.Experiment}_{run.Name.Approach}{(run.Name.Name is { } n ? $"_*_{n}" : "")}";
        return string.IsNullOrEmpty(folder) ? label : Path.Combine(folder, label);
    }

    private static string Describe(MeanWithConfidence value) => $"{Format(value.Mean, "F3")} ({Format(value.HalfWidth, "F3")})";

    private static string Percent(double fraction) => PercentOf(100 * fraction);

    private static string PercentOf(double percent) => double.IsNaN(percent) ? "n/a" : Format(percent, "F2") + "%";

    private static string Format(double value, string format) =>
        double.IsNaN(value) ? "n/a" : value.ToString(format, CultureInfo.InvariantCulture);
}
