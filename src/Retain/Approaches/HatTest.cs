using Retain.Data;
using Retain.Networks;
using Retain.Training;

namespace Retain.Approaches;

/// <summary>hat-test's options: HAT's two search parameters; its thresholds are fixed at the seed's 50 and 6.</summary>
public sealed record HatTestOptions : IValidatedOptions
{
    [Option("lamb", "Weight c of the attention regulariser; larger values compress the task into fewer units.")]
    public double Lamb { get; init; } = 0.75;

    [Option("smax", "Largest gate sharpness s (annealed from 1/smax to smax within each epoch).")]
    public double Smax { get; init; } = 400;

    public HatOptions ToHat() => new() { Lamb = Lamb, Smax = Smax };

    public void Validate() => ToHat().Validate();
}

/// <summary>
/// One point of HAT's compression curve: after <see cref="Epoch"/> epochs of the task (0: before training), the test
/// accuracy and how much of the network the task's gates use.
/// </summary>
internal sealed record CompressionPoint(int Epoch, double TestAccuracy, double UsedWeights, IReadOnlyList<LayerCapacity> Layers);

/// <summary>
/// The HAT paper's compression experiment (its "hat-test"): HAT with every task embedding starting uniform in [0,2),
/// i.e. every unit in use, so one watches the regulariser free units epoch by epoch. Evaluation uses s = 10000 · smax
/// (gates as good as binary: a unit is either in or out). After every epoch it records the test accuracy and the used
/// capacity (<see cref="Curve"/>); <c>retain compress</c> runs it on one task and plots the curve.
/// </summary>
public sealed class HatTest(ApproachContext context, HatTestOptions options, HatUnitGates unitGates) : Hat(context, options.ToHat(), unitGates)
{
    private readonly List<CompressionPoint> _curve = [];

    /// <summary>The compression curve of the task trained last, one point per epoch after the initial one.</summary>
    internal IReadOnlyList<CompressionPoint> Curve => _curve;

    protected override double EvaluationScale => 10000 * Settings.Smax;

    /// <summary>The network hat-test trains: the experiment's HAT network with embeddings uniform in [0,2).</summary>
    public static GatedNetwork<HatUnitGates> CreateNetwork(BackboneArchitecture backbone, int[] inputSize, IReadOnlyList<int> classCounts) =>
        HatUnitGates.CreateNetwork(backbone, inputSize, classCounts, HatEmbeddingInit.UniformZeroToTwo);

    protected override void PrepareTask(int task, TaskData data)
    {
        base.PrepareTask(task, data);
        _curve.Clear();
        _curve.Add(Measure(task, data.Test, epoch: 0));
    }

    protected override void FinishEpoch(int task, int epoch, TaskData data)
    {
        base.FinishEpoch(task, epoch, data);
        _curve.Add(Measure(task, data.Test, _curve.Count));
    }

    /// <summary>The network's point now: test accuracy on <paramref name="test"/> and the capacity task <paramref name="task"/>'s gates use.</summary>
    internal CompressionPoint Measure(int task, Split test, int epoch)
    {
        var layers = UnitGates.UsedCapacity(task, EvaluationScale);
        return new CompressionPoint(epoch, Evaluate(task, test).Accuracy, HatUnitGates.UsedWeightShare(layers), layers);
    }

    protected override void SaveState(StateDict state)
    {
        base.SaveState(state);
        state.SetValue("curve", _curve);
    }

    protected override void LoadState(StateDict state)
    {
        base.LoadState(state);
        _curve.Clear();
        _curve.AddRange(state.Value<List<CompressionPoint>>("curve"));
    }
}

/// <summary>hat-test: HAT's network with every unit in use at the start (<see cref="HatTest.CreateNetwork"/>).</summary>
public sealed class HatTestSpec : GatedApproachSpec<HatTestOptions, HatUnitGates>
{
    public override GatedNetwork<HatUnitGates> CreateNetwork(BackboneArchitecture backbone, NetworkShape shape, HatTestOptions options) =>
        HatTest.CreateNetwork(backbone, shape.InputSize, shape.ClassCounts);

    public override HatTest Create(ApproachContext context, HatTestOptions options, HatUnitGates gating) => new(context, options, gating);
}
