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
    /// <summary>
    /// DWA: per masked layer (by layer name), a non-negative weight per mask entry (the merged Fisher diagonal of the
    /// layer's weight). Each <see cref="MaskSummary"/> then also holds the weighted mask magnitude.
    /// </summary>
    public IReadOnlyDictionary<string, Tensor>? MaskImportance { get; init; }
    /// <summary>
    /// DWA: also put every per-sample mask (B x weight shape) into <see cref="Gates"/>. Off by default because the
    /// factorised dense masks are never materialised for a whole batch (introspection and tests ask for them).
    /// </summary>
    public bool KeepMasks { get; init; }
    /// <summary>DWA: also count each sample's mask entries in use (<see cref="MaskSummary.ActiveCount"/>; the binary sparsity needs it).</summary>
    public bool CountActiveMaskEntries { get; init; }

    /// <summary>Unit gates per layer name (HAT), or per-sample weight masks per layer name (DWA, with <see cref="KeepMasks"/>), of this pass.</summary>
    public Dictionary<string, Tensor> Gates { get; } = [];
    /// <summary>The DWA embedding computed in this pass (B x E).</summary>
    public Tensor? EmbeddingOut { get; set; }
    /// <summary>DWA: what the regularisers need from each masked layer's masks, by layer name.</summary>
    public Dictionary<string, MaskSummary> MaskSummaries { get; } = [];
    /// <summary>
    /// Block outputs a gating strategy keeps for later blocks of the same pass (DWA's context processor reads the
    /// earlier stem outputs with use_concat), by layer name; "input" is the backbone's input.
    /// </summary>
    public Dictionary<string, Tensor> Activations { get; } = [];
}

/// <summary>
/// Per-sample statistics of one masked layer's masks M (B x n entries), all a regulariser needs:
/// <c>Magnitude[b] = Σ_w |M_bw|</c>, <c>WeightedMagnitude[b] = Σ_w |M_bw| F_w</c> (null without importance weights)
/// and <c>ActiveCount[b] = #{w : |M_bw| &gt;= threshold}</c> (no gradient; null unless asked for), over n =
/// <see cref="Elements"/> entries per sample.
/// </summary>
public sealed record MaskSummary(Tensor Magnitude, Tensor? WeightedMagnitude, Tensor? ActiveCount, long Elements);
