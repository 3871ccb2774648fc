using System.ComponentModel;
using System.Globalization;
using System.Runtime.InteropServices;
using Retain.Evaluation;
using Retain.Experiments;
using Retain.Studies;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Retain.Cli;

public class StudySettings : CommandSettings
{
    [CommandArgument(0, "<FILE>")]
    [Description("The study file (YAML): experiments, approaches with their grids, seeds, shared options, output folder.")]
    public string File { get; init; } = "";
}

public sealed class StudyRunSettings : StudySettings
{
    [CommandOption("--jobs <N>")]
    [Description("Runs in parallel, each a process with cores / N torch threads (default: one single-threaded run per core, measured 1.38x the throughput of one run at a time with a thread per core; docs/studies.md).")]
    public int Jobs { get; init; } = Environment.ProcessorCount;

    [CommandOption("--dry-run")]
    [Description("List every run with its state (missing, partial, complete) and command line; run nothing.")]
    public bool DryRun { get; init; }

    [CommandOption("--slurm")]
    [Description("Submit the pending runs as one Slurm job array instead of running them here.")]
    public bool Slurm { get; init; }

    [CommandOption("--partition <P>")]
    [Description("Slurm partition (default: the cluster's default).")]
    public string? Partition { get; init; }

    [CommandOption("--time <T>")]
    [Description("Slurm time limit per run, e.g. 04:00:00 (default: the partition's).")]
    public string? Time { get; init; }

    [CommandOption("--cpus-per-task <C>")]
    [Description("CPUs per array element; each run uses that many torch threads (default 1).")]
    [DefaultValue(1)]
    public int CpusPerTask { get; init; } = 1;

    [CommandOption("--max-parallel <K>")]
    [Description("At most K array elements at a time (the array's %K).")]
    public int? MaxParallel { get; init; }
}

/// <summary>Reading a study file for the study commands: every run's options checked as <c>retain run</c> checks them.</summary>
internal static class Studies
{
    public static Study Load(string file)
    {
        var study = Study.Load(file, RunCommand.OptionNames);
        // Every run whose files were made with other options is named at once, so that one edit of the study file is
        // not followed by one refusal per stale run.
        var stale = new List<(StudyRun Run, ExistingRunMismatchException Mismatch)>();
        foreach (var run in study.Runs)
        {
            try { RunCommand.Plan(run.Arguments); }
            catch (ExistingRunMismatchException m) { stale.Add((run, m)); }
            catch (Exception e) when (e is RetainException or CommandAppException)
            {
                // Name the line of the option the message is about, else the run's line.
                var message = SettingFlags.MessageOf(e);
                var option = run.Options.LastOrDefault(o => message.StartsWith("--" + o.Name, StringComparison.Ordinal) || message.Contains($" --{o.Name} ", StringComparison.Ordinal));
                throw new DataFileException(study.File, $"line {option?.Line ?? run.Line} ({run.Name}): {message}");
            }
        }
        if (stale.Count > 0)
        {
            // A study resumes every run and has no --overwrite: its way out is to remove the runs' files.
            var (first, m) = stale[0];
            var option = first.Options.LastOrDefault(o => m.Option == "--" + o.Name);
            const int named = 10;
            var names = string.Join(", ", stale.Skip(1).Take(named).Select(s => s.Run.Name)) + (stale.Count - 1 > named ? ", …" : "");
            var others = stale.Count == 1 ? "" : $"; {stale.Count - 1} more made with other options than the study's: {names}";
            throw new DataFileException(study.File, $"line {option?.Line ?? first.Line} ({first.Name}): {m.Option} is {m.Asked} in the study but {m.Existing} in {m.Found}{others}; " +
                $"delete {(stale.Count == 1 ? "that run's files" : "those runs' files")} to run {(stale.Count == 1 ? "it" : "them")} again with the study's options, or give the study another output");
        }
        return study;
    }

    /// <summary>Checks the study's output folder and claims <c>&lt;output&gt;/&lt;name&gt;.lock</c> for a command writing there.</summary>
    public static OutputLock Lock(Study study, string name)
    {
        OutputPaths.RequireFolder(study.Output, $"{study.File}: output");
        return OutputLock.Acquire($"study {study.Name} ({study.Output})", Path.Combine(study.Output, name));
    }

    /// <summary>The command that starts <c>retain</c> again in a child process: this process's dotnet host and CLI assembly.</summary>
    public static IReadOnlyList<string> RetainCommand =>
        [Environment.ProcessPath ?? "dotnet", typeof(RunCommand).Assembly.Location];

    /// <summary>How a user types a run's command (the launcher when there is one).</summary>
    public static string ForUser(StudyRun run) =>
        string.Join(' ', new[] { Environment.GetEnvironmentVariable("RETAIN_LAUNCHER") ?? "retain" }.Concat(run.Arguments.Select(Shell.Quote)));

    public static string Describe(ExistingRun existing) => existing.State switch
    {
        RunState.Complete => "complete",
        RunState.Partial => existing.TasksToRun > 0 ? $"partial ({existing.TasksCompleted}/{existing.TasksToRun} tasks)" : "partial",
        _ => "missing",
    };
}

/// <summary><c>retain study run</c>: the study's pending runs here (<c>--jobs</c>) or as a Slurm job array (<c>--slurm</c>).</summary>
public sealed class StudyRunCommand : Command<StudyRunSettings>
{
    public override int Execute(CommandContext context, StudyRunSettings s, CancellationToken cancellation)
    {
        OptionValues.RequireAtLeast("--jobs", s.Jobs, 1);
        OptionValues.RequireAtLeast("--cpus-per-task", s.CpusPerTask, 1);
        if (s.MaxParallel is { } parallel) OptionValues.RequireAtLeast("--max-parallel", parallel, 1);
        var study = Studies.Load(s.File);
        var pending = study.Pending;
        AnsiConsole.MarkupLine(Markup.Escape($"study {study.Name}: {study.Runs.Count} runs ({study.Runs.Count - pending.Count} complete, {pending.Count} to run) in {study.Output}"));
        if (s.DryRun) return DryRun(study);
        if (pending.Count == 0) return 0;
        // Held while this study runs or is submitted: the same study run twice at once would start every run twice.
        using var claim = Studies.Lock(study, "study");
        if (s.Slurm) return Submit(study, pending, s);

        var threads = Math.Max(1, Environment.ProcessorCount / s.Jobs);
        var runner = new LocalStudyRunner(study, s.Jobs, threads, Studies.RetainCommand);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; runner.Stop(); });
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; runner.Stop(); });
        AnsiConsole.MarkupLine(Markup.Escape($"{s.Jobs} at a time, {threads} torch thread{(threads == 1 ? "" : "s")} each; logs in {runner.LogFolder}"));
        var display = new StudyDisplay(pending, s.Jobs);
        IReadOnlyList<RunOutcome> outcomes;
        if (AnsiConsole.Profile.Capabilities.Interactive)
        {
            outcomes = [];
            AnsiConsole.Live(display.Render()).AutoClear(false).Start(live =>
            {
                display.Changed = () => live.UpdateTarget(display.Render());
                outcomes = runner.Run(display);
            });
        }
        else
        {
            display.Changed = null;
            outcomes = runner.Run(new StudyLines());
        }
        return Report(study, outcomes);
    }

    private static int DryRun(Study study)
    {
        var table = new Table().Border(TableBorder.Rounded).AddColumns("run", "state", "command");
        foreach (var run in study.Runs)
            table.AddRow(Markup.Escape(run.Name), Studies.Describe(run.State), Markup.Escape(Studies.ForUser(run)));
        AnsiConsole.Write(table);
        return 0;
    }

    private static int Submit(Study study, IReadOnlyList<StudyRun> pending, StudyRunSettings s)
    {
        var submission = SlurmStudy.Submit(study, pending, new SlurmSettings(s.Partition, s.Time, s.CpusPerTask, s.MaxParallel), Studies.RetainCommand);
        Console.WriteLine($"submitted job array {submission.JobId} ({pending.Count} runs); see `retain study status {s.File}`");
        return 0;
    }

    /// <summary>The failed runs with their logs, and an exit code that says whether everything completed.</summary>
    private static int Report(Study study, IReadOnlyList<RunOutcome> outcomes)
    {
        var failed = outcomes.Where(o => !o.Succeeded && !o.Interrupted).ToArray();
        var stopped = outcomes.Where(o => o.Interrupted).ToArray();
        var remaining = study.Pending.Count;
        Console.WriteLine($"study {study.Name}: {outcomes.Count(o => o.Succeeded)} runs completed, {failed.Length} failed, {stopped.Length} stopped, {remaining} not complete");
        foreach (var f in failed) Console.WriteLine($"  failed (exit code {f.ExitCode}): {f.Run.Name}, log {f.Log}");
        if (stopped.Length > 0) Console.WriteLine("  stopped runs keep their checkpoints: the same command continues them");
        return stopped.Length > 0 ? 130 : failed.Length > 0 || remaining > 0 ? 1 : 0;
    }
}

/// <summary>One line per run start and end, when the output is not a terminal.</summary>
internal sealed class StudyLines : IStudyObserver
{
    public void RunStarted(StudyRun run) => Console.WriteLine($"started  {run.Name}");

    public void RunEnded(RunOutcome outcome) => Console.WriteLine(outcome.Succeeded
        ? $"complete {outcome.Run.Name} ({outcome.Elapsed.TotalSeconds:F0} s)"
        : $"{(outcome.Interrupted ? "stopped " : "FAILED  ")} {outcome.Run.Name} (exit code {outcome.ExitCode}, log {outcome.Log})");
}

/// <summary>The live view of a local study: runs done, running (with task and epoch) and failed, and an estimated time to finish.</summary>
internal sealed class StudyDisplay(IReadOnlyList<StudyRun> pending, int jobs) : IStudyObserver
{
    private readonly object _lock = new();
    private readonly Dictionary<StudyRun, RunProgress?> _running = [];
    private readonly List<RunOutcome> _ended = [];
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();

    public Action? Changed { get; set; }

    public void RunStarted(StudyRun run) { lock (_lock) _running[run] = null; Changed?.Invoke(); }
    public void RunProgressed(RunProgress progress) { lock (_lock) _running[progress.Run] = progress; Changed?.Invoke(); }

    public void RunEnded(RunOutcome outcome)
    {
        lock (_lock) { _running.Remove(outcome.Run); _ended.Add(outcome); }
        Changed?.Invoke();
    }

    public Table Render()
    {
        lock (_lock)
        {
            var done = _ended.Count(o => o.Succeeded);
            var failed = _ended.Count(o => !o.Succeeded && !o.Interrupted);
            var waiting = pending.Count - _ended.Count - _running.Count;
            var table = new Table().Border(TableBorder.Rounded)
                .Title($"{done} done, {_running.Count} running, {failed} failed, {waiting} waiting{Eta(waiting)}")
                .AddColumns("run", "task", "epoch", "elapsed");
            foreach (var (run, p) in _running)
                table.AddRow(Markup.Escape(run.Name), p is null ? "" : $"{p.Task + 1}/{p.Tasks}", p is null ? "" : $"{p.Epoch}/{p.MaxEpochs}",
                    p is null ? "" : $"{p.Elapsed:hh\\:mm\\:ss}");
            foreach (var f in _ended.Where(o => !o.Succeeded && !o.Interrupted))
                table.AddRow($"[red]{Markup.Escape(f.Run.Name)}[/]", "failed", $"exit {f.ExitCode}", Markup.Escape(f.Log));
            return table;
        }
    }

    /// <summary>Remaining runs (waiting, plus what the running ones still have to do) × the time a run takes, over the parallel jobs.</summary>
    private string Eta(int waiting)
    {
        var samples = _ended.Where(o => o.Succeeded).Select(o => o.Elapsed.TotalSeconds)
            .Concat(_running.Values.Where(p => p is { Fraction: > 0.05 }).Select(p => p!.Elapsed.TotalSeconds / p.Fraction)).ToArray();
        if (samples.Length == 0) return "";
        var remaining = waiting + _running.Values.Sum(p => 1 - (p?.Fraction ?? 0));
        var seconds = remaining * samples.Average() / Math.Max(1, Math.Min(jobs, waiting + _running.Count));
        return string.Create(CultureInfo.InvariantCulture, $", about {TimeSpan.FromSeconds(seconds):hh\\:mm\\:ss} to go");
    }
}

/// <summary><c>retain study status</c>: each run as pending, running, done or failed, from Slurm, the result files and the locks of the runs being written.</summary>
public sealed class StudyStatusCommand : Command<StudySettings>
{
    public override int Execute(CommandContext context, StudySettings s, CancellationToken cancellation)
    {
        var study = Studies.Load(s.File);
        var status = SlurmStudy.Status(study);
        var table = new Table().Border(TableBorder.Rounded).AddColumns("run", "status", "detail");
        foreach (var run in study.Runs)
        {
            var (state, detail) = status[run];
            table.AddRow(Markup.Escape(run.Name), state.ToString().ToLowerInvariant(), Markup.Escape(detail ?? ""));
        }
        AnsiConsole.Write(table);
        var counts = status.Values.GroupBy(v => v.Status).OrderBy(g => g.Key).Select(g => $"{g.Count()} {g.Key.ToString().ToLowerInvariant()}");
        Console.WriteLine($"study {study.Name}: {string.Join(", ", counts)}");
        return 0;
    }
}

/// <summary><c>retain study summary</c>: mean and 95% interval over seeds per experiment × approach × grid point, as a table and a CSV.</summary>
public sealed class StudySummaryCommand : Command<StudySettings>
{
    public override int Execute(CommandContext context, StudySettings s, CancellationToken cancellation)
    {
        var study = Studies.Load(s.File);
        using var claim = Studies.Lock(study, "summary");
        var rows = StudySummary.Compute(study);
        if (rows.Count == 0) throw new RetainException($"{s.File}: no complete run with complete joint and random references yet (see `retain study status {s.File}`)");
        static string F(MeanWithConfidence m, string format) => double.IsNaN(m.Mean) ? "n/a"
            : m.Mean.ToString(format, CultureInfo.InvariantCulture) + (double.IsNaN(m.HalfWidth) ? "" : " ± " + m.HalfWidth.ToString(format, CultureInfo.InvariantCulture));
        var table = new Table().Border(TableBorder.Rounded).AddColumns("scenario", "experiment", "approach", "point", "seeds", "ACC", "BWT", "FWT", "ρ (last task)", "valid ACC");
        foreach (var r in rows)
            table.AddRow(r.Scenario.Label(), Markup.Escape(r.Experiment), Markup.Escape(r.Approach), Markup.Escape(r.Label + (r.Selected ? " (best)" : "")),
                $"{r.Seeds.Length}{(r.MissingSeeds > 0 ? $" (+{r.MissingSeeds} missing)" : "")}",
                F(r.Accuracy, "F3"), F(r.BackwardTransfer, "F3"), F(r.ForwardTransfer, "F3"), F(r.ForgettingRatio, "F3"), F(r.ValidAccuracy, "F3"));
        AnsiConsole.Write(table);
        var csv = Path.Combine(study.Output, "summary.csv");
        ResultFiles.WriteText(csv, StudySummary.Csv(rows));
        if (rows.Any(r => r.Selected))
            Console.WriteLine("(best): the grid point of highest mean final validation accuracy of its approach; test numbers never choose it");
        Console.WriteLine("mean ± 95% interval over seeds (Student t); ρ is the forgetting ratio after the last task (0: joint, -1: random)");
        Console.WriteLine($"wrote {csv}");
        return 0;
    }
}
