using Retain.Approaches;
using Retain.Data;
using Retain.Experiments;
using Retain.Networks;
using Retain.Training;
using static TorchSharp.torch;

namespace Retain.Tests.Extending;

// docs/extending.md, "Add an approach": an L2 anchor, written as the approaches in src/Retain/Approaches are.

/// <summary>The options of <see cref="L2Anchor"/>: <c>retain run -a l2 --lamb 0.05</c>.</summary>
public sealed record L2Options : IValidatedOptions
{
    [Option("lamb", "Weight λ of the pull towards the weights the previous task ended with: λ/2 ‖θ − θ_old‖².")]
    public double Lambda { get; init; } = 0.01;

    public void Validate() => OptionValues.RequireNotNegative("--lamb", Lambda);
}

/// <summary>
/// L2 transfer, the L2 baseline of Kirkpatrick et al. (2017): after each task, keep the weights it ended with; while
/// later tasks train, pull every weight back towards them, all alike (EWC weighs each one by its Fisher information):
/// <code>L = CE + λ/2 Σ_w (θ_w − θ_old,w)²</code>
/// </summary>
public sealed class L2Anchor(ApproachContext context, L2Options options) : Approach(context)
{
    /// <summary>θ_old: the weights after the previous task (null while the first task trains).</summary>
    private Dictionary<string, Tensor>? _anchor;

    protected override Tensor Penalty(int task) =>
        _anchor is null ? base.Penalty(task) : options.Lambda * ParameterSet.HalfSquaredDistance(Model, _anchor);

    protected override void FinishTask(int task, TaskData data)
    {
        ParameterSet.DisposeAll(_anchor);
        _anchor = Model.CopyParameters();
    }

    protected override void SaveState(StateDict state) => state.Set("anchor", _anchor);

    protected override void LoadState(StateDict state) => _anchor = state.Tensors("anchor", Device);

    public override void Dispose()
    {
        ParameterSet.DisposeAll(_anchor);
        base.Dispose();
    }

    /// <summary>The registry entry: <c>retain run -a l2</c>, studies and checkpoints know the approach from here on.</summary>
    public static readonly ApproachEntry Entry = new("l2", "L2 transfer: every weight is pulled towards the weights the previous task ended with.", new L2Spec())
    {
        Paper = "the L2 baseline of Kirkpatrick et al., \"Overcoming catastrophic forgetting in neural networks\", PNAS 2017",
    };

    private static readonly Lazy<bool> Registration = new(() =>
    {
        ApproachRegistry.Register(Entry);
        return true;
    });

    /// <summary>Registers the approach once per process (every test that uses it calls this).</summary>
    public static void Register() => _ = Registration.Value;
}

/// <summary>
/// The L2 anchor, described once: its options record, its own base-loop defaults, any backbone (it reads only the
/// network's weights), and how it is built.
/// </summary>
public sealed class L2Spec : PlainApproachSpec<L2Options>
{
    /// <summary>Its own base-loop default on every backbone: gradients clipped at 100, as ewc and lwf have them.</summary>
    public override TrainingOptions TrainingDefaults(BackboneArchitecture backbone, L2Options options) => new() { ClipGradient = 100 };

    public override Approach Create(ApproachContext context, L2Options options) => new L2Anchor(context, options);
}

/// <summary>The example approach, registered and run end to end through the normal runner and the CLI.</summary>
public class ExampleApproachTests : TempFolderTests
{
    public ExampleApproachTests() => L2Anchor.Register();

    private RunConfig Config(string name, int epochs, bool resume = false) => new()
    {
        Experiment = "mnist2", Approach = "l2", DataDir = TestSupport.DataDir, Output = Path.Combine(Folder, name + ".txt"),
        Epochs = epochs, BatchSize = 16, Limit = 300, Resume = resume, CheckpointEvery = 0,
        Parameters = new Dictionary<string, string> { ["lamb"] = "0.05" },
    };

    [Fact]
    public void LearnsBothTasksThroughTheRunner()
    {
        var record = ExperimentRunner.Run(Config("l2", epochs: 5));
        // mnist2: two tasks of five digits each, chance 0.2.
        Assert.True(record.Accuracy[0][0] > 0.6, $"task 0 after task 0: {record.Accuracy[0][0]}");
        Assert.True(record.Accuracy[1][0] > 0.4 && record.Accuracy[1][1] > 0.6, $"after task 1: {record.Accuracy[1][0]}, {record.Accuracy[1][1]}");
        Assert.Equal("0.05", record.Parameters["lamb"]);
        // Its own defaults, declared by its spec from outside the library.
        Assert.Equal(100, record.Training.ClipGradient);
    }

    [Fact]
    public void AnInterruptedRunResumesBitForBit()
    {
        var reference = Config("reference", epochs: 2);
        ExperimentRunner.Run(reference);
        var resumed = Config("resumed", epochs: 2, resume: true);
        // Stopped after task 0 (the anchor holds its weights) and in the middle of task 1's first epoch (pulled towards it).
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
        Assert.Contains("--lamb", CliRunner.Refuses("run", "-e", "mnist2", "-a", "l2", "--lamb", "-1", "--output", Path.Combine(Folder, "bad.txt")));
        Assert.Equal(0, CliRunner.Run("run", "-e", "mnist2", "-a", "l2", "--nepochs", "1", "--limit", "40",
            "--data", TestSupport.DataDir, "--output", Path.Combine(Folder, "cli.txt")).Code);
        Assert.Equal(2, File.ReadAllLines(Path.Combine(Folder, "cli.txt")).Length);
    }
}
