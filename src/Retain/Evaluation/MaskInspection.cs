using Retain.Networks;
using static TorchSharp.torch;

namespace Retain.Evaluation;

/// <summary>
/// One gated layer's task masks: every task's gates, the share of units each task uses (gate &gt; 0.5), the share
/// any task uses, and the overlap between tasks: <c>Overlap[t, u]</c> = Jaccard index |U_t ∩ U_u| / |U_t ∪ U_u| of
/// their used-unit sets (NaN where both use none).
/// </summary>
internal sealed record LayerMasks(string Layer, int Units, double[][] Gates, double[] Used, double UsedByAny, double[,] Overlap);

/// <summary>What a HAT network's task gates look like at a given sharpness (<c>retain inspect masks</c>).</summary>
internal sealed record MaskInspection(double Scale, IReadOnlyList<string> Tasks, IReadOnlyList<LayerMasks> Layers)
{
    /// <summary>The gates of the first <paramref name="taskNames"/>.Count tasks at sharpness <paramref name="scale"/> (HAT tests at smax).</summary>
    public static MaskInspection Of(HatUnitGates gating, IReadOnlyList<string> taskNames, double scale)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var layers = new List<LayerMasks>();
        for (var l = 0; l < gating.Layers.Count; l++)
        {
            var gates = taskNames.Select((_, t) => gating.Gate(l, t, scale).to_type(ScalarType.Float64).cpu().data<double>().ToArray()).ToArray();
            var used = gates.Select(g => g.Select(v => v > 0.5).ToArray()).ToArray();
            var units = gating.Layers[l].Outputs;
            var overlap = new double[gates.Length, gates.Length];
            for (var t = 0; t < gates.Length; t++)
                for (var u = 0; u < gates.Length; u++)
                    overlap[t, u] = Jaccard(used[t], used[u]);
            layers.Add(new LayerMasks(gating.Layers[l].Name, units, gates,
                used.Select(m => m.Count(b => b) / (double)units).ToArray(),
                Enumerable.Range(0, units).Count(i => used.Any(m => m[i])) / (double)units, overlap));
        }
        return new MaskInspection(scale, taskNames, layers);
    }

    private static double Jaccard(bool[] a, bool[] b)
    {
        var union = a.Zip(b).Count(p => p.First || p.Second);
        return union == 0 ? double.NaN : a.Zip(b).Count(p => p.First && p.Second) / (double)union;
    }
}
