using Retain.Training;

namespace Retain.Approaches;

/// <summary>
/// Fine-tuning: the whole shared network is trained with cross-entropy on each task in turn. The reference for
/// catastrophic forgetting; every hook is the base loop's.
/// </summary>
public sealed class Sgd(ApproachContext context) : Approach(context)
{
    // Fine-tuning carries nothing of its own: the model and the loop are saved by the base class.
    protected override void SaveState(StateDict state) { }
    protected override void LoadState(StateDict state) { }
}

/// <summary>sgd: any backbone, the base loop's defaults.</summary>
public sealed class SgdSpec : PlainApproachSpec<NoOptions>
{
    public override Approach Create(ApproachContext context, NoOptions options) => new Sgd(context);
}
