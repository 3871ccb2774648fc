using static TorchSharp.torch;

namespace Retain.Networks;

/// <summary>
/// What one forward pass needs besides the input, and what the gating leaves behind for the approach. Created per
/// batch; tensors it holds belong to the batch's dispose scope.
/// </summary>
public sealed class ForwardContext(int task)
{
    /// <summary>The task whose head (and, for HAT, whose gates) are used.</summary>
    public int Task { get; } = task;
    /// <summary>HAT's gate sharpness s: gates are sigmoid(s * e).</summary>
    public double Scale { get; init; } = 1;
    /// <summary>A DWA embedding to use instead of the context processor's (a vector for all samples, or one row per sample).</summary>
    public Tensor? Embedding { get; init; }

    /// <summary>Unit gates per layer name (HAT), or per-sample weight masks per layer name (DWA), of this pass.</summary>
    public Dictionary<string, Tensor> Gates { get; } = [];
    /// <summary>The DWA embedding computed in this pass (B x E).</summary>
    public Tensor? EmbeddingOut { get; set; }
}
