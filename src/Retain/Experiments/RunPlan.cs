using System.Globalization;
using Retain.Approaches;
using Retain.Data;
using Retain.Evaluation;
using Retain.Networks;
using Retain.Training;

namespace Retain.Experiments;

/// <summary>The files of one run, all beside the accuracy matrix (logs and TensorBoard where the user asked).</summary>
public sealed record RunPaths(string Output, string? LogPath, string? TensorBoard)
{
    public string Json => ResultFiles.JsonPathFor(Output);
    public string Checkpoint => CheckpointFile.PathFor(Output);
    /// <summary>Claimed by the run for its whole life (<see cref="RunOutputs.Lock"/>).</summary>
    public string Lock => Path.ChangeExtension(Output, OutputLock.Extension);
    /// <summary>Where an unexpected error's full trace goes.</summary>
    public string CrashLog => Path.ChangeExtension(Output, ".crash.log");
    public string Name => Path.GetFileNameWithoutExtension(Output);
}

public enum RunState { Missing, Partial, Complete }

/// <summary>
/// <c>--resume</c> found a checkpoint or a complete run made with another value of <see cref="Option"/>: the files are
/// left as they are. A study, which resumes every run, words the way out its own way.
/// </summary>
public sealed class ExistingRunMismatchException(string option, string asked, string existing, string source, bool complete)
    : RetainException($"--resume: {option} is {asked} here but {existing} in the {(complete ? "complete run" : "checkpoint")} {source}; " +
        (complete ? "give the same options, --overwrite to replace it, or another --name or --output to write another run" : "give the same options as the run it continues, or --overwrite to start again"))
{
    public string Option { get; } = option;
    public string Asked { get; } = asked;
    public string Existing { get; } = existing;
    /// <summary>The checkpoint or the complete run's JSON record found at the run's outputs.</summary>
    public string Found { get; } = source;
}

/// <summary>What already exists at a run's paths: its result record's state and whether a checkpoint is there.</summary>
public sealed record ExistingRun(RunState State, int TasksCompleted, int TasksToRun, string? Checkpoint)
{
    /// <summary>
    /// Reads the JSON record beside the output (an accuracy matrix without one, as the seed wrote them, counts as
    /// complete: nothing tells that it is not) and looks for the checkpoint.
    /// </summary>
    public static ExistingRun Inspect(RunPaths paths)
    {
        var checkpoint = File.Exists(paths.Checkpoint) ? paths.Checkpoint : null;
        if (File.Exists(paths.Json))
        {
            var record = RunRecordFile.ReadFields(paths.Json);
            if (record.TaskNames is null) throw new DataFileException(paths.Json, "\"task_names\" is missing or null: not the record of a retain run");
            var toRun = record.TestMode ?? record.TaskNames.Length;
            var completed = record.TasksCompleted ?? 0;
            return new ExistingRun(completed >= toRun ? RunState.Complete : RunState.Partial, completed, toRun, checkpoint);
        }
        if (File.Exists(paths.Output)) return new ExistingRun(RunState.Complete, 0, 0, checkpoint);
        return new ExistingRun(checkpoint is null ? RunState.Missing : RunState.Partial, 0, 0, checkpoint);
    }

    public override string ToString() => State switch
    {
        RunState.Complete when TasksToRun == 0 => "a complete run (an accuracy matrix without a JSON record)",
        RunState.Complete => $"a complete run ({TasksCompleted} of {TasksToRun} tasks)",
        _ when TasksToRun == 0 => "an unfinished run (a checkpoint, no task finished yet)",
        _ => $"an unfinished run ({TasksCompleted} of {TasksToRun} tasks{(Checkpoint is null ? ", no checkpoint" : "")})",
    };
}

/// <summary>How a planned run starts: from the beginning, from its checkpoint, or not at all (already complete).</summary>
public enum RunStart { Fresh, Resume, AlreadyComplete }

/// <summary>
/// A <c>retain run</c> resolved once, before any data is loaded, and immutable: the run's set-up (<see cref="RunSetup"/>:
/// the approach with its typed options, the backbone, the base loop as it runs, the device, ...), the names its record
/// gives it, where its tasks come from, its files (checked to be writable), and how it starts given what already exists
/// there (a resumed run's checkpoint read and checked against it). The CLI prints it and chooses its sinks
/// (<see cref="FileSinks"/> and the console); <see cref="ExperimentRunner"/> runs it.
/// </summary>
public sealed class RunPlan
{
    private RunPlan(RunSetup setup, RunNames names, BenchmarkSource data, RunPaths paths, int? checkpointEvery, bool saveModel, bool overwrite,
        ExistingRun existing, RunStart start, StateDict? checkpoint)
    {
        (Setup, Names, Data, Paths, CheckpointEvery, SaveModel) = (setup, names, data, paths, checkpointEvery, saveModel);
        (Overwrite, Existing, Start, Checkpoint) = (overwrite, existing, start, checkpoint);
    }

    public RunSetup Setup { get; }
    public RunNames Names { get; }
    public BenchmarkSource Data { get; }
    public RunPaths Paths { get; }
    /// <summary>Checkpoint every N epochs (0: only at task ends; null: automatically, costing under 5% of the run).</summary>
    public int? CheckpointEvery { get; }
    /// <summary>Keep the trained model and the approach's state beside the results when the run completes (<see cref="KeptModel"/>).</summary>
    public bool SaveModel { get; }
    /// <summary>The user asked to replace what exists (<c>--overwrite</c>).</summary>
    public bool Overwrite { get; }
    public ExistingRun Existing { get; }
    public RunStart Start { get; }
    /// <summary>The checkpoint's values (its tensors are read when the run starts) when the run resumes, else null.</summary>
    public StateDict? Checkpoint { get; }

    /// <summary>The approach's options with their values (defaults included).</summary>
    public IReadOnlyList<OptionInfo> OptionValues => Setup.Approach.OptionValues;

    /// <summary>
    /// What the run's record, checkpoint, logs and TensorBoard need, in the order they receive each event: the sinks
    /// the command line gives every run (with the console's after them).
    /// </summary>
    public IReadOnlyList<IRunSink> FileSinks()
    {
        var sinks = new List<IRunSink>
        {
            new CheckpointSink(Paths.Checkpoint, CheckpointEvery, Identity), new ResultFilesSink(this),
            new KeptModelSink(KeptModel.PathFor(Paths.Output), SaveModel),
        };
        if (Paths.LogPath is { } logPath) sinks.Add(new RunLogsSink(logPath, Paths.Name));
        if (Paths.TensorBoard is { } board) sinks.Add(new TensorBoardSink(board));
        return sinks;
    }

    /// <summary>
    /// What the user should know before the run starts: base-loop options the approach does not use (joint trains
    /// without a warm-up or curriculum), and schedules that do not fit in the run's epochs (a default warm-up of 10
    /// epochs in a 2-epoch run never reaches the learning rate; a curriculum that has not reached every sample by the
    /// last epoch never trains on them). The run is valid, but its result would not show what the options say.
    /// </summary>
    public IReadOnlyList<string> ScheduleNotes
    {
        get
        {
            var (asked, t) = (Setup.RequestedTraining, Setup.Training);
            var notes = new List<string>();
            if (asked.Warmup is { } unusedWarmup && t.Warmup is null)
                notes.Add(FormattableString.Invariant($"{Names.Approach} trains without a warm-up: --warmup {unusedWarmup.Epochs},{unusedWarmup.Divisor} is not used"));
            if (asked.Curriculum is { } unusedCurriculum && t.Curriculum is null)
                notes.Add($"{Names.Approach} trains on every sample: --curriculum {unusedCurriculum} is not used");
            if (t.Warmup is { Epochs: > 0 } w && w.Epochs >= t.Epochs)
                notes.Add(FormattableString.Invariant($"the warm-up ({w.Epochs} epochs at lr/{w.Divisor}) covers the whole run of {t.Epochs} epochs: the rate never reaches --lr {t.LearningRate} (give a shorter --warmup, e.g. 0,1)"));
            if (t.Curriculum is { } c && c.Threshold(t.Epochs - 1) < 1)
                notes.Add(FormattableString.Invariant($"the curriculum {c} trains the last of the {t.Epochs} epochs only on samples of complexity up to {c.Threshold(t.Epochs - 1):0.##} (give a faster --curriculum, e.g. {(t.Epochs < 2 ? "linear:1:1, every sample from the start" : $"linear:{t.Epochs / 2}:0.2")})"));
            notes.AddRange(Setup.Approach.Notes(t));
            return notes;
        }
    }

    /// <summary>
    /// Everything that determines the run's results, as command-line option and value: a resumed run must agree
    /// with its checkpoint on each of them.
    /// </summary>
    public IReadOnlyList<KeyValuePair<string, string>> Identity
    {
        get
        {
            static string Text(object? value) => ApproachOptions.Format(value);
            var t = Setup.Training;
            var identity = new List<KeyValuePair<string, string>>
            {
                new("--experiment", Names.Experiment), new("--approach", Names.Approach), new("--seed", Text(Setup.Seed)),
                new("--datasets", Data.Datasets is null ? "none" : string.Join(",", Data.Datasets)),
                new("--network", Setup.Backbone.Name), new("--weight-init", Setup.WeightInit?.ToString() ?? "none"),
                new("--test-mode", Text(Setup.TestMode)), new("--limit", Text(Data.Limit)),
                new("--nepochs", Text(t.Epochs)), new("--sbatch", Text(t.BatchSize)), new("--lr", Text(t.LearningRate)),
                new("--lr-min", Text(t.MinLearningRate)), new("--lr-factor", Text(t.LearningRateFactor)),
                new("--lr-patience", Text(t.Patience)), new("--clipgrad", Text(t.ClipGradient)),
                new("--warmup", t.Warmup is { } w ? $"{Text(w.Epochs)},{Text(w.Divisor)}" : "none"),
                new("--curriculum", t.Curriculum?.ToString() ?? "none"),
                new("--eval", Text(Setup.Evaluation)),
            };
            // Task-IL checkpoints were written before scenarios existed: only another scenario is part of the identity.
            if (Setup.Scenario != Scenario.Task) identity.Add(new("--scenario", Setup.Scenario.Name()));
            identity.AddRange(OptionValues.Select(o => new KeyValuePair<string, string>("--" + o.Name, o.Value)));
            return identity;
        }
    }

    /// <summary>Resolves and checks everything a run needs before it loads data; every problem is one line naming the option or file.</summary>
    public static RunPlan Resolve(RunConfig config)
    {
        var approach = ApproachRegistry.Get(config.Approach);
        var backbone = config.Network ?? ExperimentCatalog.DefaultBackbone(config.Experiment);
        ExperimentCatalog.Scenarios(config.Experiment, config.Datasets).Require(config.Experiment, config.Scenario);
        var setup = RunSetup.Resolve(approach.Bind(config.Parameters, backbone), backbone, config.ApplyTraining,
            config.Seed, config.Device, config.WeightInit, config.TestMode, config.Evaluation, config.Scenario);
        // A built-in experiment's task count is known now: --test-mode is checked before the data is loaded.
        if (ExperimentCatalog.TaskCount(config.Experiment, config.Datasets) is { } taskCount) setup.TasksToRun(taskCount);
        if (File.Exists(config.DataDir)) throw new RetainException($"--data {config.DataDir}: a file, where the data folder goes (--data or RETAIN_DATA)");
        var data = new BenchmarkSource(config.Experiment, config.DataDir, config.Datasets, config.Limit);
        if (config.CheckpointEvery is < 0) throw new RetainException($"--checkpoint-every must be 0 (task ends only) or a number of epochs (got {config.CheckpointEvery})");

        var paths = new RunPaths(config.Output, config.LogPath, config.TensorBoard);
        RunOutputs.Check(paths);

        var (existing, start, checkpoint) = LookAtFiles(config.Resume, config.Overwrite, paths);
        var plan = new RunPlan(setup, new RunNames(config.Experiment, config.Approach), data, paths, config.CheckpointEvery, config.SaveModel, config.Overwrite,
            existing, start, checkpoint);
        if (checkpoint is not null) plan.RequireSameIdentity(checkpoint.Value<Dictionary<string, string>>(CheckpointFile.IdentityKey), paths.Checkpoint, complete: false);
        // A complete run is only taken as this run's result if it was made with the same options.
        else if (start == RunStart.AlreadyComplete && File.Exists(paths.Json) && RunRecordFile.ReadFields(paths.Json).Identity is { } recorded)
            plan.RequireSameIdentity(recorded, paths.Json, complete: true);
        return plan;
    }

    /// <summary>
    /// What is at the run's paths, how the run starts, and the checkpoint it resumes. The run may be running elsewhere
    /// (a study's job polled by <c>study status</c>): when it finishes between the look and the read, its checkpoint is
    /// gone, and the files are looked at again rather than reported as unreadable.
    /// </summary>
    private static (ExistingRun Existing, RunStart Start, StateDict? Checkpoint) LookAtFiles(bool resume, bool overwrite, RunPaths paths)
    {
        for (var look = 1; ; look++)
        {
            var existing = ExistingRun.Inspect(paths);
            var start = Decide(resume, overwrite, existing, paths);
            if (start != RunStart.Resume) return (existing, start, null);
            try { return (existing, start, CheckpointFile.ReadValues(paths.Checkpoint)); }
            catch (DataFileException e) when (e.InnerException is FileNotFoundException && look < MaxLooks)
            {
                // A shared file system may show the deleted file a little longer.
                Thread.Sleep(20 * look);
            }
        }
    }

    /// <summary>A run's files change a few times a run, not continuously: a handful of looks finds them settled.</summary>
    private const int MaxLooks = 5;

    /// <summary>Nothing complete is replaced silently: existing results need --resume or --overwrite.</summary>
    private static RunStart Decide(bool resume, bool overwrite, ExistingRun existing, RunPaths paths)
    {
        if (resume && overwrite) throw new RetainException("--resume and --overwrite exclude each other: continue the run, or replace it");
        if (overwrite) return RunStart.Fresh;
        // --resume continues the run wherever it stands: from its checkpoint, not at all when complete, or from the
        // beginning when nothing of it is there (so one command serves a first start and every restart).
        if (resume)
            return existing.Checkpoint is not null ? RunStart.Resume
                : existing.State == RunState.Complete ? RunStart.AlreadyComplete : RunStart.Fresh;
        if (existing.State == RunState.Missing && existing.Checkpoint is null) return RunStart.Fresh;
        throw new RetainException(
            $"{(File.Exists(paths.Json) ? paths.Json : File.Exists(paths.Output) ? paths.Output : paths.Checkpoint)}: {existing} is already there; " +
            "add --resume to continue it, --overwrite to replace it, or another --name or --output to write another run");
    }

    /// <summary>
    /// A resumed run must have the configuration of the checkpoint it continues, or of the complete run it finds
    /// (<paramref name="saved"/>, from <paramref name="source"/>): the first option that differs is named.
    /// </summary>
    private void RequireSameIdentity(IReadOnlyDictionary<string, string> saved, string source, bool complete)
    {
        // The scenario is compared whatever it is (the identity names only the others, and a record none for task-IL).
        var identity = complete ? [.. Identity.Where(o => o.Key != "--scenario"), new("--scenario", Setup.Scenario.Name())] : Identity;
        foreach (var (option, value) in identity)
        {
            var before = saved.TryGetValue(option, out var recorded) ? recorded
                : option == "--scenario" ? Scenario.Task.Name()   // task-IL names no scenario
                : !complete ? "(not set)"
                : null;   // an option added to Retain after the record was written: a record is kept for good
            if (before is not null && before != value) throw new ExistingRunMismatchException(option, value, before, source, complete);
        }
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Names.Experiment} / {Names.Approach} / seed {Setup.Seed} ({Start})");
}
