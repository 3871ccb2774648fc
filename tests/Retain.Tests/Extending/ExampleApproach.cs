using Retain.Approaches;
using Retain.Data;
using Retain.Experiments;
using Retain.Networks;
using Retain.Training;
using static TorchSharp.torch;

namespace Retain.Tests.Extending;

// docs/extending.md, "Add an approach": experience replay, written as the approaches in src/Retain/Approaches are.

/// <summary>The options of <see cref="Replay"/>: <c>retain run -a replay --buffer 200 --replay-weight 0.5</c>.</summary>
public sealed record ReplayOptions : IValidatedOptions
{
    [Option("buffer", "Training samples kept from each finished task and replayed while later tasks train.")]
    public int SamplesPerTask { get; init; } = 100;

    [Option("replay-weight", "Weight of the replayed samples' cross-entropy against the current batch's.")]
    public double Weight { get; init; } = 1;

    public void Validate()
    {
        OptionValues.RequireAtLeast("--buffer", SamplesPerTask, 1);
        OptionValues.RequireNotNegative("--replay-weight", Weight);
    }
}

/// <summary>
/// Experience replay: after each task, keep a few of its training samples; while a later task trains, every batch
/// also replays as many kept samples, each through its own task's head:
/// <code>L = CE(batch of task t) + weight · CE(replayed samples of tasks &lt; t)</code>
/// </summary>
public sealed class Replay(ApproachContext context, ReplayOptions options) : Approach(context)
{
    /// <summary>The buffer: kept inputs, their labels and their tasks (null before the first task ends).</summary>
    private Tensor? _inputs, _labels, _tasks;

    public int BufferSize => _inputs is null ? 0 : (int)_inputs.shape[0];

    protected override (Tensor Loss, Tensor Logits) Compute(Batch batch)
    {
        var (loss, logits) = base.Compute(batch);
        // Evaluation reports the task's own objective; only training replays.
        if (_inputs is null || !Model.training) return (loss, logits);
        // torch's generator draws the replayed rows: a checkpoint saves it, so a resumed run draws the same ones.
        var rows = randint(BufferSize, [Math.Min(Options.BatchSize, BufferSize)], dtype: ScalarType.Int64, device: Device);
        var replayed = Model.Forward(_inputs.index_select(0, rows), _tasks!.index_select(0, rows));
        return (loss + options.Weight * nn.functional.cross_entropy(replayed, _labels!.index_select(0, rows)), logits);
    }

    /// <summary>Keeps evenly spaced samples of the task's training split (no generator needed).</summary>
    protected override void FinishTask(int task, TaskData data)
    {
        var count = Math.Min(options.SamplesPerTask, data.Train.Count);
        var rows = Enumerable.Range(0, count).Select(i => (long)i * data.Train.Count / count).ToArray();
        using var scope = NewDisposeScope();
        var kept = data.Train.Rows(rows, Device);
        var taskIds = full(count, task, ScalarType.Int64, device: Device);
        (_inputs, _labels, _tasks) = _inputs is null
            ? (kept.X.DetachFromDisposeScope(), kept.Y.DetachFromDisposeScope(), taskIds.DetachFromDisposeScope())
            : (Append(_inputs, kept.X), Append(_labels!, kept.Y), Append(_tasks!, taskIds));
    }

    private static Tensor Append(Tensor buffer, Tensor more)
    {
        var longer = cat([buffer, more]).DetachFromDisposeScope();
        buffer.Dispose();
        return longer;
    }

    protected override void SaveState(StateDict state)
    {
        state.SetValue("buffer_size", BufferSize);
        if (_inputs is not null) state.Set("inputs", _inputs).Set("labels", _labels!).Set("tasks", _tasks!);
    }

    protected override void LoadState(StateDict state)
    {
        if (state.Value<int>("buffer_size") == 0) return;
        _inputs = state.Tensor("inputs").to(Device, copy: true);
        _labels = state.Tensor("labels").to(Device, copy: true);
        _tasks = state.Tensor("tasks").to(Device, copy: true);
    }

    public override void Dispose()
    {
        _inputs?.Dispose();
        _labels?.Dispose();
        _tasks?.Dispose();
        base.Dispose();
    }

    /// <summary>The registry entry: <c>retain run -a replay</c>, studies and checkpoints know the approach from here on.</summary>
    public static readonly ApproachEntry Entry = new("replay", "Experience replay: a few kept samples of each earlier task are replayed with every batch.", new ReplaySpec());

    private static readonly Lazy<bool> Registration = new(() =>
    {
        ApproachRegistry.Register(Entry);
        return true;
    });

    /// <summary>Registers the approach once per process (every test that uses it calls this).</summary>
    public static void Register() => _ = Registration.Value;
}

/// <summary>
/// Replay, described once: its options record, its own base-loop defaults, any backbone (it reads only the heads'
/// outputs), and how it is built.
/// </summary>
public sealed class ReplaySpec : PlainApproachSpec<ReplayOptions>
{
    /// <summary>Its own base-loop default on every backbone: gradients clipped at 100, as ewc and lwf have them.</summary>
    public override TrainingOptions TrainingDefaults(BackboneArchitecture backbone, ReplayOptions options) => new() { ClipGradient = 100 };

    public override Approach Create(ApproachContext context, ReplayOptions options) => new Replay(context, options);
}

/// <summary>The example approach, registered and run end to end through the normal runner and the CLI.</summary>
public class ExampleApproachTests : TempFolderTests
{
    public ExampleApproachTests() => Replay.Register();

    private RunConfig Config(string name, int epochs, bool resume = false) => new()
    {
        Experiment = "mnist2", Approach = "replay", DataDir = TestSupport.DataDir, Output = Path.Combine(Folder, name + ".txt"),
        Epochs = epochs, BatchSize = 16, Limit = 300, Resume = resume, CheckpointEvery = 0,
        Parameters = new Dictionary<string, string> { ["buffer"] = "30" },
    };

    [Fact]
    public void LearnsBothTasksThroughTheRunner()
    {
        var record = ExperimentRunner.Run(Config("replay", epochs: 5));
        // mnist2: two tasks of five digits each, chance 0.2.
        Assert.True(record.Accuracy[0][0] > 0.6, $"task 0 after task 0: {record.Accuracy[0][0]}");
        Assert.True(record.Accuracy[1][0] > 0.4 && record.Accuracy[1][1] > 0.6, $"after task 1: {record.Accuracy[1][0]}, {record.Accuracy[1][1]}");
        Assert.Equal("30", record.Parameters["buffer"]);
        // Its own defaults, declared by its spec from outside the library.
        Assert.Equal(100, record.Training.ClipGradient);
    }

    [Fact]
    public void AnInterruptedRunResumesBitForBit()
    {
        var reference = Config("reference", epochs: 2);
        ExperimentRunner.Run(reference);
        var resumed = Config("resumed", epochs: 2, resume: true);
        // Stopped after task 0 (the buffer holds its samples) and in the middle of task 1's first epoch (replaying).
        foreach (var stop in new[] { new InterruptAt(taskTested: 0), new InterruptAt(step: 3) })
        {
            var plan = RunPlan.Resolve(resumed);
            Assert.Throws<RunInterruptedException>(() => ExperimentRunner.Run(plan, [.. plan.FileSinks(), stop], stop.Interruption));
        }
        ExperimentRunner.Run(resumed);
        ResultComparison.AssertSameResults(reference.Output, resumed.Output);
    }

    [Fact]
    public void TheCommandLineKnowsItAndChecksItsOptions()
    {
        Assert.Contains("--buffer", CliRunner.Refuses("run", "-e", "mnist2", "-a", "replay", "--buffer", "0", "--output", Path.Combine(Folder, "bad.txt")));
        Assert.Equal(0, CliRunner.Run("run", "-e", "mnist2", "-a", "replay", "--nepochs", "1", "--limit", "40",
            "--data", TestSupport.DataDir, "--output", Path.Combine(Folder, "cli.txt")).Code);
        Assert.Equal(2, File.ReadAllLines(Path.Combine(Folder, "cli.txt")).Length);
    }
}
