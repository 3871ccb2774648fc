using Retain.Data;
using Retain.Training;
using static TorchSharp.torch;

namespace Retain.Approaches;

public sealed record AgemOptions : ReplayOptions;

/// <summary>
/// Averaged Gradient Episodic Memory (Chaudhry et al., "Efficient Lifelong Learning with A-GEM", ICLR 2019). The
/// update on the current batch may not increase the average loss on the episodic memory of earlier tasks: with g the
/// gradient of the current batch's loss and g_ref the gradient of the loss on a batch drawn from the memory,
/// <code>
/// g̃ = g − (gᵀ g_ref / g_refᵀ g_ref) g_ref   if gᵀ g_ref &lt; 0,   else g̃ = g     (eq. 11)
/// </code>
/// over all parameters at once, and the step follows g̃. The memory holds samples of finished tasks only: after each
/// task its training samples are offered to a reservoir of fixed total size (instead of a fixed share per task, so
/// that the size need not know the number of tasks).
/// </summary>
public sealed class Agem(ApproachContext context, AgemOptions options) : ReplayApproach(context, options, storesLogits: false)
{
    /// <summary>After the current batch's backward pass: replaces its gradient by the projection when it conflicts with the memory's.</summary>
    protected override void AdjustGradients(int task)
    {
        if (Buffer.Draw(ReplayBatch) is not { } reference) return;
        var parameters = Model.parameters().Where(p => p.requires_grad).ToArray();
        var gradient = Flatten(parameters);
        Optimizer.zero_grad();
        ReplayLoss(reference, task).backward();
        var projected = Project(gradient, Flatten(parameters));
        var offset = 0L;
        foreach (var p in parameters)
        {
            var n = p.numel();
            using var slice = projected.narrow(0, offset, n).view_as(p);
            if (p.grad is { } grad) grad.copy_(slice);
            else p.grad = slice.clone();
            offset += n;
        }
    }

    /// <summary>A-GEM's rule (eq. 11): <paramref name="gradient"/> projected so that it does not conflict with <paramref name="reference"/>.</summary>
    public static Tensor Project(Tensor gradient, Tensor reference)
    {
        var dot = gradient.dot(reference).item<float>();
        if (dot >= 0) return gradient;
        return gradient - dot / reference.dot(reference).item<float>() * reference;
    }

    /// <summary>Every parameter's gradient in one vector (zeros where the loss did not reach a parameter).</summary>
    private static Tensor Flatten(IEnumerable<TorchSharp.Modules.Parameter> parameters) =>
        cat(parameters.Select(p => p.grad is { } g ? g.flatten() : zeros(p.numel(), device: p.device)).ToArray());

    /// <summary>After a task, its training samples join the memory (in batches, so that no copy of the whole split is made).</summary>
    protected override void FinishTask(int task, TaskData data)
    {
        foreach (var batch in data.Train.Batches(Options.BatchSize, Device))
            Buffer.Add(batch.X, batch.Y, batch.TaskIds ?? full(batch.X.shape[0], task, ScalarType.Int64, device: Device));
    }
}

/// <summary>agem: any backbone, the base loop's defaults.</summary>
public sealed class AgemSpec : PlainApproachSpec<AgemOptions>
{
    public override Approach Create(ApproachContext context, AgemOptions options) => new Agem(context, options);
}
