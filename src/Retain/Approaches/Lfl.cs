using Retain.Networks;
using Retain.Training;
using static TorchSharp.torch;

namespace Retain.Approaches;

public sealed record LflOptions : IValidatedOptions
{
    [Option("lamb", "Weight λ of the feature-distance term that keeps the last hidden layer where it was (the seed's grid: 1e-1 to 5e-5).")]
    public double Lamb { get; init; } = 0.05;

    public void Validate() => OptionValues.RequireNotNegative("--lamb", Lamb);
}

/// <summary>
/// Less-Forgetting Learning (Jung et al., 2016). The heads read the features of the last hidden layer; if those
/// features stay as they were, earlier heads keep working. So while task t trains, the features of the model are
/// pulled towards those of the frozen model after task t-1, on task t's own inputs:
/// <code>
/// L = CE(head_t(h), y) + λ · ½ Σ_{b,f} (h_old,bf − h_bf)²
/// </code>
/// summed over the batch and the features (not averaged), as the seed does. The network is the experiment's backbone
/// with no dropout on its last layer (the seed's alexnet_lfl; the MLP gets the same treatment), so the distance
/// compares features rather than dropout noise. θ_old answers in eval mode.
/// </summary>
public sealed class Lfl : Approach
{
    private readonly LflOptions _options;
    /// <summary>θ_old: the model as it was after the previous task (null while task 0 trains).</summary>
    private MultiHeadNetwork? _old;

    public Lfl(ApproachContext context, LflOptions options) : base(context) => _options = options;

    /// <summary>The experiment's backbone without dropout on the layer whose features are distilled.</summary>
    public static MultiHeadNetwork CreateNetwork(BackboneArchitecture backbone, NetworkShape shape)
    {
        var specs = backbone.Layers(shape.InputSize);
        IReadOnlyList<LayerSpec> undropped = [.. specs.Take(specs.Count - 1), specs[^1] with { Dropout = 0 }];
        return new MultiHeadNetwork(new Backbone(undropped, new Gating(), shape.ClassCounts.Count), shape.Heads);
    }

    protected override (Tensor Loss, Tensor Logits) Compute(Batch batch)
    {
        var features = Model.Features(batch.X, new ForwardContext(batch.Task));
        var logits = Model.Head(batch.Task, features);
        var loss = TaskLoss(logits, batch.Y);
        if (_old is not null && batch.Task > 0)
        {
            Tensor oldFeatures;
            using (no_grad()) oldFeatures = _old.Features(batch.X, new ForwardContext(batch.Task));
            loss = loss + _options.Lamb * FeatureDistance(features, oldFeatures);
        }
        return (loss, logits);
    }

    /// <summary>½ Σ (h_old − h)² over every sample and feature.</summary>
    public static Tensor FeatureDistance(Tensor features, Tensor oldFeatures) => (oldFeatures - features).square().sum() / 2;

    protected override void FinishTask(int task, Data.TaskData data) => _old = FrozenCopy.Refresh(_old, Model, Context);

    protected override void SaveState(StateDict state) => state.Set("old_model", FrozenCopy.Parameters(_old));

    protected override void LoadState(StateDict state) => _old = FrozenCopy.Restore(state, "old_model", Context);

    public override void Dispose()
    {
        _old?.Dispose();
        base.Dispose();
    }
}

/// <summary>
/// lfl: any backbone (without dropout on the distilled layer), gradients clipped at 200. The seed's λ = 0.05 holds the
/// features so hard that the second task stays at chance on the MLP or barely learns on AlexNet; there λ is the value
/// of best mean validation accuracy over both tasks (docs/defaults.md).
/// </summary>
public sealed class LflSpec : PlainApproachSpec<LflOptions>
{
    public override LflOptions DefaultOptions(BackboneArchitecture backbone) =>
        backbone == BackboneRegistry.Mlp ? new LflOptions { Lamb = 1e-4 }
        : backbone == BackboneRegistry.AlexNet ? new LflOptions { Lamb = 1e-3 }
        : new LflOptions();

    public override TrainingOptions TrainingDefaults(BackboneArchitecture backbone, LflOptions options) => new() { ClipGradient = 200 };

    /// <summary>A module of your own is distilled as it is (its own dropout, if any, included): it declares no blocks to change.</summary>
    public override MultiHeadNetwork CreateNetwork(BackboneArchitecture backbone, NetworkShape shape, LflOptions options) =>
        backbone.DeclaresLayers ? Lfl.CreateNetwork(backbone, shape) : base.CreateNetwork(backbone, shape, options);

    public override Approach Create(ApproachContext context, LflOptions options) => new Lfl(context, options);
}
