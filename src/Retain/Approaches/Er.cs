using Retain.Training;
using static TorchSharp.torch;

namespace Retain.Approaches;

public sealed record ErOptions : ReplayOptions;

/// <summary>
/// Experience replay (Chaudhry et al., "On Tiny Episodic Memories in Continual Learning", 2019). A memory of fixed
/// total size is filled from the stream of training samples by reservoir sampling; every step draws a batch from it
/// and trains on the union of the current batch B and the replayed one M, with one cross-entropy:
/// <code>
/// L = CE(f(x), y) averaged over (x, y) in B ∪ M,   then M ← reservoir(M, B)
/// </code>
/// Every training step offers its batch to the memory.
/// </summary>
public sealed class Er(ApproachContext context, ErOptions options) : ReplayApproach(context, options, storesLogits: false)
{
    protected override (Tensor Loss, Tensor Logits) Compute(Batch batch)
    {
        // Evaluation reports the task's own objective; only training replays.
        if (!Model.training || Buffer.Draw(ReplayBatch) is not { } replayed) return base.Compute(batch);
        var rows = batch.X.shape[0];
        var logits = Model.Forward(cat([batch.X, replayed.X]), cat([TaskIdsOf(batch), replayed.Tasks]), batch.Task);
        return (nn.functional.cross_entropy(logits, cat([batch.Y, replayed.Y])), logits.narrow(0, 0, rows));
    }

    protected override void TrainStep(Batch batch)
    {
        base.TrainStep(batch);
        Offer(batch);
    }
}

/// <summary>er: any backbone, the base loop's defaults.</summary>
public sealed class ErSpec : PlainApproachSpec<ErOptions>
{
    public override Approach Create(ApproachContext context, ErOptions options) => new Er(context, options);
}
