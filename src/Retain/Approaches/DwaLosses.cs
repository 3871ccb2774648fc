using Retain.Networks;
using Retain.Networks.Dwa;
using TorchSharp;
using static TorchSharp.torch;

namespace Retain.Approaches;

/// <summary>
/// DWA's auxiliary losses (the paper's eq. 3-6; docs/dwa.md) as functions of tensors, in either formulation. Corrected: every
/// per-sample term is averaged over the batch, like the cross-entropy, so a λ means the same at any batch size.
/// Seed: the seed code's formulas, which sum over the batch and differ term by term (each function says how).
/// </summary>
internal static class DwaLosses
{
    /// <summary>
    /// Anchor (triplet) loss. <paramref name="weights"/> is <c>1 - complexity</c> per sample: simple samples carry the
    /// task's identity most clearly. The task-negative part only when <paramref name="taskNegative"/> exists.
    /// <para>Corrected (paper eq. 3-4), with squared per-sample distances d(e, a) = ‖e_b - a‖²:
    /// <c>mean_b w_b ( [d(e_b,P) - d(e_b,N) + α]_+ + δ [d(e_b,P) - d(e_b,N_T) + α]_+ )</c>.</para>
    /// <para>Seed: Frobenius norms over the whole batch, D_A = ‖E - A‖_F (E the B x E embedding matrix, A broadcast to
    /// every row), unsquared; <c>ℓ = ( [D_P - D_N + α]_+ + δ [D_P - D_T + α]_+ ) / (1 + δ)</c> (without N_T:
    /// <c>[D_P - D_N + α]_+</c>), and the loss is <c>ℓ Σ_b w_b</c>.</para>
    /// </summary>
    public static Tensor Triplet(Tensor embeddings, Tensor positive, Tensor negative, Tensor? taskNegative,
        double margin, double taskNegativeWeight, Tensor weights, DwaFormulation formulation = DwaFormulation.Corrected)
    {
        using var scope = NewDisposeScope();
        if (formulation == DwaFormulation.Seed)
        {
            var batchToPositive = (embeddings - positive).norm();
            var hinge = (batchToPositive - (embeddings - negative).norm() + margin).clamp_min(0);
            if (taskNegative is not null)
                hinge = (hinge + taskNegativeWeight * (batchToPositive - (embeddings - taskNegative).norm() + margin).clamp_min(0)) / (1 + taskNegativeWeight);
            return (hinge * weights.sum()).MoveToOuterDisposeScope();
        }
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
    /// (corrected), or on the seed's <c>[floor(t E / T), floor(t + E / T))</c>, which gives task 1 one index and later
    /// tasks none.
    /// </summary>
    public static Tensor TaskCode(int task, int taskCount, int embeddingSize, Device device, DwaFormulation formulation = DwaFormulation.Corrected)
    {
        var code = zeros(embeddingSize, device: device);
        var perTask = (double)embeddingSize / taskCount;
        var (from, to) = formulation == DwaFormulation.Seed
            ? ((int)(task * perTask), (int)(task + perTask))
            : (task * embeddingSize / taskCount, (task + 1) * embeddingSize / taskCount);
        if (to > from) code.narrow(0, from, to - from).fill_(1);
        return code;
    }

    /// <summary>Ideal-embedding loss: <c>w_b mean_k (e_bk - I_t,k)²</c>, averaged over the batch (corrected) or summed (seed).</summary>
    public static Tensor TaskCodeDistance(Tensor embeddings, Tensor code, Tensor weights, DwaFormulation formulation = DwaFormulation.Corrected)
    {
        using var perSample = (embeddings - code).square().mean([1]);
        using var weighted = weights * perSample;
        return formulation == DwaFormulation.Seed ? weighted.sum() : weighted.mean();
    }

    /// <summary>
    /// Plasticity (attention) loss, t &gt; 0: <c>Σ_ℓ η_ℓ mean_{b,w} |M_ℓ,b,w| F_ℓ,w</c>, F the merged Fisher diagonal of
    /// layer ℓ's weight: using a weight that mattered to earlier tasks costs in proportion to its importance. Both
    /// formulations take this mean (the paper's eq. 5 sums over the weights); they differ in F (<see cref="Training.FisherAccumulation"/>).
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
    /// Sparsity regulariser over the masked layers ℓ, each sample's excess of ρ_ℓ,b over the target μ.
    /// <para>Corrected: <c>Σ_ℓ mean_b [ρ_ℓ,b - μ]_+</c> with ρ the fraction of mask entries in use: soft, mean |M|;
    /// binary (paper eq. 6), #{|M| &gt;= 0.5} / n in value with the gradient of the soft ρ (straight-through).</para>
    /// <para>Seed: <c>Σ_ℓ Σ_b [ρ_ℓ,b - μ]_+</c> (summed over the batch) with ρ the unused fraction mean(1 - |M|) (soft:
    /// the penalty pushes masks towards 1, a dense network), or the count of entries M ≠ 0 over n (binary). A sigmoid or
    /// tanh is 0 only at an input of exactly 0, so that count is 1: the seed's binary term is the constant
    /// B Σ_ℓ [1 - μ]_+ without gradient, and so it is here.</para>
    /// </summary>
    public static Tensor Sparsity(IReadOnlyList<MaskSummary> summaries, double target, bool binary, DwaFormulation formulation = DwaFormulation.Corrected)
    {
        Tensor? total = null;
        foreach (var s in summaries)
        {
            Tensor term;
            using (NewDisposeScope())
            {
                var used = formulation == DwaFormulation.Seed
                    ? binary ? ones_like(s.Magnitude).detach() : 1 - s.Magnitude / s.Elements
                    : binary ? StraightThrough(s.ActiveCount is { } active ? active / s.Elements : null, s.Magnitude / s.Elements) : s.Magnitude / s.Elements;
                var excess = (used - target).clamp_min(0);
                term = (formulation == DwaFormulation.Seed ? excess.sum() : excess.mean()).MoveToOuterDisposeScope();
            }
            total = total is null ? term : total + term;
        }
        return total ?? zeros(1).squeeze();
    }

    /// <summary>The value of <paramref name="hard"/> with the gradient of <paramref name="soft"/>.</summary>
    private static Tensor StraightThrough(Tensor? hard, Tensor soft) =>
        hard is null
            ? throw new ArgumentException("the binary sparsity needs the masks' active counts (DwaForwardState.CountActiveMaskEntries)")
            : soft + (hard - soft).detach();

    /// <summary>
    /// Stiffness k_e: the auxiliary losses' weight ramps as e / stiff over the first epochs; clamped to [0, 1]
    /// (corrected) or growing past 1 after <c>stiff</c> epochs (seed).
    /// </summary>
    public static double Stiffness(int epoch, int? rampEpochs, DwaFormulation formulation = DwaFormulation.Corrected) => rampEpochs is not { } s ? 1
        : formulation == DwaFormulation.Seed ? (double)epoch / s : Math.Clamp((double)epoch / s, 0, 1);
}
