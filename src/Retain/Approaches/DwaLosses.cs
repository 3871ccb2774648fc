using Retain.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace Retain.Approaches;

/// <summary>
/// DWA's auxiliary losses (approaches.md §15.4) as functions of tensors, in their corrected form. Every per-sample
/// term is averaged over the batch, like the cross-entropy, so a λ means the same at any batch size (the seed summed
/// the sparsity over the batch and scaled the triplet term by Σ_b (1 - c_b)).
/// </summary>
public static class DwaLosses
{
    /// <summary>
    /// Anchor (triplet) loss, paper eq. 3-4, with squared per-sample distances d(e, a) = ‖e_b - a‖²:
    /// <c>mean_b w_b ( [d(e_b,P) - d(e_b,N) + α]_+ + δ [d(e_b,P) - d(e_b,N_T) + α]_+ )</c>, the task-negative term only
    /// when <paramref name="taskNegative"/> exists. <paramref name="weights"/> is <c>1 - complexity</c> per sample:
    /// simple samples carry the task's identity most clearly. (The seed took Frobenius norms over the whole batch,
    /// unsquared, and divided by 1 + δ.)
    /// </summary>
    public static Tensor Triplet(Tensor embeddings, Tensor positive, Tensor negative, Tensor? taskNegative,
        double margin, double taskNegativeWeight, Tensor weights)
    {
        using var scope = NewDisposeScope();
        var toPositive = SquaredDistances(embeddings, positive);
        var perSample = (toPositive - SquaredDistances(embeddings, negative) + margin).clamp_min(0);
        if (taskNegative is not null)
            perSample = perSample + taskNegativeWeight * (toPositive - SquaredDistances(embeddings, taskNegative) + margin).clamp_min(0);
        return (weights * perSample).mean().MoveToOuterDisposeScope();
    }

    /// <summary><c>‖e_b - a‖²</c> for every row b.</summary>
    public static Tensor SquaredDistances(Tensor embeddings, Tensor anchor) => (embeddings - anchor).square().sum(1L);

    /// <summary>
    /// The fixed code of task t for the ideal-embedding loss: zeros with ones on <c>[floor(t E / T), floor((t+1) E / T))</c>
    /// (the seed's upper bound <c>floor(t + E/T)</c> gave task 1 one index and later tasks none).
    /// </summary>
    public static Tensor TaskCode(int task, int taskCount, int embeddingSize, Device device)
    {
        var code = zeros(embeddingSize, device: device);
        var (from, to) = (task * embeddingSize / taskCount, (task + 1) * embeddingSize / taskCount);
        if (to > from) code.narrow(0, from, to - from).fill_(1);
        return code;
    }

    /// <summary>Ideal-embedding loss: <c>mean_b w_b mean_k (e_bk - I_t,k)²</c>.</summary>
    public static Tensor TaskCodeDistance(Tensor embeddings, Tensor code, Tensor weights)
    {
        using var perSample = (embeddings - code).square().mean([1]);
        using var weighted = weights * perSample;
        return weighted.mean();
    }

    /// <summary>
    /// Plasticity (attention) loss, t &gt; 0: <c>Σ_ℓ η_ℓ mean_{b,w} |M_ℓ,b,w| F_ℓ,w</c>, F the merged Fisher diagonal of
    /// layer ℓ's weight: using a weight that mattered to earlier tasks costs in proportion to its importance.
    /// <paramref name="summaries"/> must carry the weighted magnitudes (<see cref="MaskSummary.WeightedMagnitude"/>).
    /// </summary>
    public static Tensor Attention(IReadOnlyList<MaskSummary> summaries, IReadOnlyList<double> layerScales)
    {
        Tensor? total = null;
        for (var l = 0; l < summaries.Count; l++)
        {
            var weighted = summaries[l].WeightedMagnitude ?? throw new ArgumentException("the attention loss needs the masks' Fisher-weighted magnitudes");
            var term = weighted.mean() * (layerScales[l] / summaries[l].Elements);
            total = total is null ? term : total + term;
        }
        return total ?? zeros(1).squeeze();
    }

    /// <summary>
    /// The seed's layer scaling η_ℓ = 0.2 + 0.8 ℓ / L of the attention loss (ℓ = 0-based masked-layer index, L = number
    /// of masked layers: 0.2, 0.4, 0.6, 0.8 for AlexNet with one stem layer), or 1 for every layer.
    /// </summary>
    public static double[] LayerScales(int maskedLayers, bool scaled) =>
        Enumerable.Range(0, maskedLayers).Select(l => scaled ? 0.2 + l * 0.8 / maskedLayers : 1.0).ToArray();

    /// <summary>
    /// Sparsity regulariser: <c>Σ_ℓ mean_b [ρ_ℓ,b - μ]_+</c>, ρ the fraction of layer ℓ's mask entries in use by sample
    /// b. Soft: ρ = mean |M| (the seed's mean(1 - |M|) measured the unused fraction and pushed masks to be dense).
    /// Binary (paper eq. 6): ρ = #{|M| &gt;= 0.5} / n in value, with the gradient of the soft ρ (straight-through; the
    /// seed's count had no gradient).
    /// </summary>
    /// <param name="seedMeasure">The seed's term exactly: the unused fraction mean(1 - |M|) instead of mean |M|, summed over the batch.</param>
    public static Tensor Sparsity(IReadOnlyList<MaskSummary> summaries, double target, bool binary, bool seedMeasure = false)
    {
        Tensor? total = null;
        foreach (var s in summaries)
        {
            Tensor term;
            using (NewDisposeScope())
            {
                var soft = seedMeasure ? 1 - s.Magnitude / s.Elements : s.Magnitude / s.Elements;
                var used = binary ? StraightThrough(s.ActiveCount is { } active ? active / s.Elements : null, soft) : soft;
                var excess = (used - target).clamp_min(0);
                term = (seedMeasure ? excess.sum() : excess.mean()).MoveToOuterDisposeScope();
            }
            total = total is null ? term : total + term;
        }
        return total ?? zeros(1).squeeze();
    }

    /// <summary>The value of <paramref name="hard"/> with the gradient of <paramref name="soft"/>.</summary>
    private static Tensor StraightThrough(Tensor? hard, Tensor soft) =>
        hard is null
            ? throw new ArgumentException("the binary sparsity needs the masks' active counts (ForwardContext.CountActiveMaskEntries)")
            : soft + (hard - soft).detach();

    /// <summary>Stiffness k_e: the auxiliary losses' weight ramps as e / stiff over the first epochs, clamped to [0, 1] (the seed let it grow past 1).</summary>
    public static double Stiffness(int epoch, int? rampEpochs) => rampEpochs is { } s ? Math.Clamp((double)epoch / s, 0, 1) : 1;
}
