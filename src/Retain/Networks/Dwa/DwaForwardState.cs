using static TorchSharp.torch;

namespace Retain.Networks.Dwa;

/// <summary>
/// DWA's part of a forward pass (<see cref="ForwardContext.Get{T}"/>): what the approach asks of the masked layers,
/// and what they leave behind for its regularisers.
/// </summary>
internal sealed class DwaForwardState
{
    /// <summary>An embedding to use instead of the context processor's (a vector for all samples, or one row per sample).</summary>
    public Tensor? Embedding { get; init; }
    /// <summary>
    /// Per masked layer (by layer name), a non-negative weight per mask entry (the merged Fisher diagonal of the
    /// layer's weight). Each <see cref="MaskSummary"/> then also holds the weighted mask magnitude.
    /// </summary>
    public IReadOnlyDictionary<string, Tensor>? MaskImportance { get; init; }
    /// <summary>
    /// Also put every per-sample mask (B x weight shape) into <see cref="Masks"/>. Off by default because the
    /// factorised dense masks are never materialised for a whole batch (introspection and tests ask for them).
    /// </summary>
    public bool KeepMasks { get; init; }
    /// <summary>Also count each sample's mask entries in use (<see cref="MaskSummary.ActiveCount"/>; the binary sparsity needs it).</summary>
    public bool CountActiveMaskEntries { get; init; }

    /// <summary>The embedding computed in this pass (B x E).</summary>
    public Tensor? EmbeddingOut { get; set; }
    /// <summary>What the regularisers need from each masked layer's masks, by layer name.</summary>
    public Dictionary<string, MaskSummary> MaskSummaries { get; } = [];
    /// <summary>With <see cref="KeepMasks"/>: each masked layer's per-sample masks (B x weight shape), by layer name.</summary>
    public Dictionary<string, Tensor> Masks { get; } = [];
}

/// <summary>
/// Per-sample statistics of one masked layer's masks M (B x n entries), all a regulariser needs:
/// <c>Magnitude[b] = Σ_w |M_bw|</c>, <c>WeightedMagnitude[b] = Σ_w |M_bw| F_w</c> (null without importance weights)
/// and <c>ActiveCount[b] = #{w : |M_bw| &gt;= threshold}</c> (no gradient; null unless asked for), over n =
/// <see cref="Elements"/> entries per sample.
/// </summary>
public sealed record MaskSummary(Tensor Magnitude, Tensor? WeightedMagnitude, Tensor? ActiveCount, long Elements);
