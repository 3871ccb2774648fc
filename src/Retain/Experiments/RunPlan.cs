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
    /// <summary>Where an unexpected error's full trace goes.</summary>
    public string CrashLog => Path.ChangeExtension(Output, ".crash.log");
    public string Name => Path.GetFileNameWithoutExtension(Output);
}

public enum RunState { Missing, Partial, Complete }

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
            var record = ResultFiles.ReadRecord<RecordProgress>(paths.Json);
            var toRun = record.TestMode ?? record.TaskNames.Length;
            return new ExistingRun(record.TasksCompleted >= toRun ? RunState.Complete : RunState.Partial, record.TasksCompleted, toRun, checkpoint);
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

    private sealed record RecordProgress
    {
        public string[] TaskNames { get; init; } = [];
        public int TasksCompleted { get; init; }
        public int? TestMode { get; init; }
    }
}

/// <summary>How a planned run starts: from the beginning, from its checkpoint, or not at all (already complete).</summary>
public enum RunStart { Fresh, Resume, AlreadyComplete }

/// <summary>
/// A run resolved once, before any data is loaded: the registry entry, the typed and validated approach options, the
/// backbone and the base-loop options for it, the device, the output paths (checked to be writable), and how it starts
/// given what already exists at those paths. The CLI prints it; <see cref="ExperimentRunner"/> runs it.
/// </summary>
public sealed record RunPlan
{
    public required RunConfig Config { get; init; }
    public required ApproachInfo Approach { get; init; }
    public required object? Options { get; init; }
    public required BackboneArchitecture Backbone { get; init; }
    public required TrainingOptions Training { get; init; }
    public required RunPaths Paths { get; init; }
    public required ExistingRun Existing { get; init; }
    public required RunStart Start { get; init; }

    /// <summary>The approach's options with their values (defaults included).</summary>
    public IReadOnlyList<OptionInfo> OptionValues => Approach.Options(Options);

    /// <summary>
    /// Schedules that do not fit in the run's epochs (a default warm-up of 10 epochs in a 2-epoch run never reaches
    /// the learning rate; a curriculum that has not reached every sample by the last epoch never trains on them): the
    /// run is valid, but its result would not show what the options say, so the plan says so.
    /// </summary>
    public IReadOnlyList<string> ScheduleNotes
    {
        get
        {
            var t = Training;
            var notes = new List<string>();
            if (t.Warmup is { Epochs: > 0 } w && w.Epochs >= t.Epochs)
                notes.Add(FormattableString.Invariant($"the warm-up ({w.Epochs} epochs at lr/{w.Divisor}) covers the whole run of {t.Epochs} epochs: the rate never reaches --lr {t.LearningRate} (give a shorter --warmup, e.g. 0,1)"));
            if (t.Curriculum is { } c && c.Threshold(t.Epochs - 1) < 1)
                notes.Add(FormattableString.Invariant($"the curriculum {c} trains the last of the {t.Epochs} epochs only on samples of complexity up to {c.Threshold(t.Epochs - 1):0.##} (give a faster --curriculum, e.g. linear:{Math.Max(1, t.Epochs / 2)}:0.2)"));
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
            var t = Training;
            var identity = new List<KeyValuePair<string, string>>
            {
                new("--experiment", Config.Experiment), new("--approach", Config.Approach), new("--seed", Text(Config.Seed)),
                new("--datasets", Config.Datasets is null ? "none" : string.Join(",", Config.Datasets)),
                new("--network", Backbone.Name), new("--weight-init", Config.WeightInit?.ToString() ?? "none"),
                new("--test-mode", Text(Config.TestMode)), new("--limit", Text(Config.Limit)),
                new("--nepochs", Text(t.Epochs)), new("--sbatch", Text(t.BatchSize)), new("--lr", Text(t.LearningRate)),
                new("--lr-min", Text(t.MinLearningRate)), new("--lr-factor", Text(t.LearningRateFactor)),
                new("--lr-patience", Text(t.Patience)), new("--clipgrad", Text(t.ClipGradient)),
                new("--warmup", t.Warmup is { } w ? $"{Text(w.Epochs)},{Text(w.Divisor)}" : "none"),
                new("--curriculum", t.Curriculum?.ToString() ?? "none"),
                new("--eval", Text(Config.Evaluation)),
            };
            identity.AddRange(OptionValues.Select(o => new KeyValuePair<string, string>("--" + o.Name, o.Value)));
            return identity;
        }
    }

    /// <summary>Resolves and checks everything a run needs before it loads data; every problem is one line naming the option or file.</summary>
    public static RunPlan Resolve(RunConfig config)
    {
        var info = ApproachRegistry.Get(config.Approach);
        var backbone = config.Network ?? ExperimentCatalog.DefaultBackbone(config.Experiment);
        var options = info.BindOptions(config.Parameters, backbone);
        var training = config.ResolveTraining(info.DefaultsFor(backbone, options));
        ExperimentRunner.ParseDevice(config.Device);
        if (config.Limit is < 1) throw new RetainException($"--limit must be at least 1 sample (got {config.Limit})");
        if (config.TestMode is < 1) throw new RetainException($"--test-mode must be at least 1 (got {config.TestMode})");
        if (config.CheckpointEvery is < 0) throw new RetainException($"--checkpoint-every must be 0 (task ends only) or a number of epochs (got {config.CheckpointEvery})");

        if (config.Output.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
            throw new RetainException($"--output {config.Output}: the accuracy matrix needs another extension than .json (the JSON record is written beside it, e.g. {Path.ChangeExtension(config.Output, ".txt")})");
        if (Path.GetExtension(config.Output) is ".ckpt" or ".model")
            throw new RetainException($"--output {config.Output}: the accuracy matrix needs another extension than {Path.GetExtension(config.Output)} (the run's checkpoint and kept model go beside it, e.g. {Path.ChangeExtension(config.Output, ".txt")})");
        var paths = new RunPaths(config.Output, config.LogPath, config.TensorBoard);
        WritablePath.RequireFile(paths.Output, "--output");
        if (paths.LogPath is { } logs) WritablePath.RequireFolder(logs, "--log-path");
        if (paths.TensorBoard is { } board) WritablePath.RequireFolder(board, "--tensorboard");

        var plan = new RunPlan
        {
            Config = config, Approach = info, Options = options, Backbone = backbone, Training = training, Paths = paths,
            Existing = ExistingRun.Inspect(paths), Start = RunStart.Fresh,
        };
        plan = plan with { Start = plan.Decide() };
        if (plan.Start == RunStart.Resume) plan.RequireSameIdentityAs(CheckpointFile.ReadValues(paths.Checkpoint));
        return plan;
    }

    /// <summary>Nothing complete is replaced silently: existing results need --resume or --overwrite.</summary>
    private RunStart Decide()
    {
        if (Config.Resume && Config.Overwrite) throw new RetainException("--resume and --overwrite exclude each other: continue the run, or replace it");
        if (Config.Overwrite) return RunStart.Fresh;
        // --resume continues the run wherever it stands: from its checkpoint, not at all when complete, or from the
        // beginning when nothing of it is there (so one command serves a first start and every restart).
        if (Config.Resume)
            return Existing.Checkpoint is not null ? RunStart.Resume
                : Existing.State == RunState.Complete ? RunStart.AlreadyComplete : RunStart.Fresh;
        if (Existing.State == RunState.Missing && Existing.Checkpoint is null) return RunStart.Fresh;
        throw new RetainException(
            $"{(File.Exists(Paths.Json) ? Paths.Json : File.Exists(Paths.Output) ? Paths.Output : Paths.Checkpoint)}: {Existing} is already there; " +
            "add --resume to continue it, --overwrite to replace it, or --name to write another run");
    }

    /// <summary>A resumed run must have the checkpoint's configuration: the first option that differs is named.</summary>
    private void RequireSameIdentityAs(StateDict checkpoint)
    {
        var saved = checkpoint.Value<Dictionary<string, string>>(ExperimentRun.IdentityKey);
        foreach (var (option, value) in Identity)
        {
            var before = saved.GetValueOrDefault(option, "(not set)");
            if (before != value)
                throw new RetainException($"--resume: {option} is {value} here but {before} in the checkpoint {Paths.Checkpoint}; give the same options as the run it continues, or --overwrite to start again");
        }
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Config.Experiment} / {Config.Approach} / seed {Config.Seed} ({Start})");
}

/// <summary>Checks, before any training, that a file or folder can be written where the user asked.</summary>
public static class WritablePath
{
    /// <summary>A file path: not a folder, no file on its way, and its nearest existing folder writable.</summary>
    public static void RequireFile(string path, string option)
    {
        if (Directory.Exists(path)) throw new RetainException($"{option} {path}: is a folder, not a file");
        RequireWritableAncestor(Path.GetDirectoryName(Path.GetFullPath(path))!, path, option);
    }

    /// <summary>A folder path: not a file, no file on its way, and writable (or creatable).</summary>
    public static void RequireFolder(string path, string option)
    {
        if (File.Exists(path)) throw new RetainException($"{option} {path}: is a file, not a folder");
        RequireWritableAncestor(Path.GetFullPath(path), path, option);
    }

    private static void RequireWritableAncestor(string folder, string given, string option)
    {
        var existing = folder;
        while (!Directory.Exists(existing))
        {
            if (File.Exists(existing)) throw new RetainException($"{option} {given}: {existing} is a file, not a folder");
            existing = Path.GetDirectoryName(existing) ?? throw new RetainException($"{option} {given}: no existing folder on its path");
        }
        // Permissions alone do not tell (root ignores them, read-only file systems do not show in them): try it.
        var probe = Path.Combine(existing, $".retain-write-test-{Environment.ProcessId}");
        try
        {
            using (File.Create(probe, 1, FileOptions.DeleteOnClose)) { }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new RetainException($"{option} {given}: cannot write in {existing} ({e.Message.TrimEnd('.')})");
        }
    }
}
