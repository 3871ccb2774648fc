using Retain.Data;
using Retain.Networks;
using static TorchSharp.torch;

namespace Retain.Training;

/// <summary>How the Fisher pass accumulates gradients over its batches.</summary>
internal enum FisherAccumulation
{
    /// <summary>Gradients are zeroed before every batch, and each batch is weighted by its own size: F = Σ_k n_k g_k² / N.</summary>
    PerBatch,
    /// <summary>
    /// DWA's seed pass (docs/dwa.md, "Corrections of the seed"): gradients are never zeroed, so batch k adds the square of the running
    /// sum S_k = s_0 + g_1 + … + g_k, s_0 being whatever gradient the last training step left; every batch is weighted by
    /// the full batch size, the last shorter one too: F = batch Σ_k S_k² / N. Larger than the per-batch F by about K/2
    /// (batch gradients that are pure noise) to K²/3 (all alike) for K batches, and it ranks weights by their mean
    /// gradient rather than its spread.
    /// </summary>
    SeedRunningSum,
}

/// <summary>
/// The seed's empirical Fisher diagonal (used by ewc, imm-mode and dwa): in train mode, over the task's training set
/// in stored order in batches of 20, <c>F += n_b * (d loss_b / d w)^2</c> with the gradient of the batch-mean loss,
/// then <c>F /= N</c>. By default gradients are zeroed before every batch and the last, shorter batch is weighted by its
/// own size (the seed used 20); <see cref="FisherAccumulation.SeedRunningSum"/> is DWA's seed variant.
/// </summary>
internal static class FisherDiagonal
{
    public const int BatchSize = 20;

    /// <param name="loss">The approach's training objective on a batch (inputs and labels already on the device).</param>
    public static Dictionary<string, Tensor> Compute(MultiHeadNetwork model, Split data, Device device,
        Func<Tensor, Tensor, Tensor> loss, int batchSize = BatchSize, FisherAccumulation accumulation = FisherAccumulation.PerBatch)
    {
        var parameters = model.named_parameters().ToArray();
        var fisher = parameters.ToDictionary(p => p.name, p => zeros_like(p.parameter).detach());
        var runningSum = accumulation == FisherAccumulation.SeedRunningSum;
        model.train();
        foreach (var batch in data.Batches(batchSize, device))
        {
            var count = batch.X.shape[0];
            // The seed's DWA pass never zeroes, so backward adds each batch's gradient to what the parameters hold.
            if (!runningSum) model.zero_grad();
            loss(batch.X, batch.Y).backward();
            using var _ = no_grad();
            foreach (var (name, p) in parameters)
                if (p.grad is { } g) fisher[name].add_(g.square().mul_(runningSum ? batchSize : count));
        }
        model.zero_grad();
        foreach (var f in fisher.Values) f.div_(data.Count);
        return fisher;
    }

    /// <summary>
    /// The seed's merge across tasks: the running mean <c>(F_new + t F_old) / (t + 1)</c> after task t (t &gt; 0).
    /// Disposes the tensors it replaces.
    /// </summary>
    public static Dictionary<string, Tensor> MergeMean(Dictionary<string, Tensor>? old, Dictionary<string, Tensor> fresh, int task)
    {
        if (old is null || task == 0) { ParameterSet.DisposeAll(old); return fresh; }
        var merged = fresh.ToDictionary(kv => kv.Key, kv => kv.Value.add(old[kv.Key], alpha: task).div_(task + 1));
        ParameterSet.DisposeAll(old);
        ParameterSet.DisposeAll(fresh);
        return merged;
    }

    /// <summary>Standard EWC's merge: the per-task diagonals add up. Disposes the tensors it replaces.</summary>
    public static Dictionary<string, Tensor> MergeSum(Dictionary<string, Tensor>? old, Dictionary<string, Tensor> fresh)
    {
        if (old is null) return fresh;
        var merged = fresh.ToDictionary(kv => kv.Key, kv => kv.Value.add(old[kv.Key]));
        ParameterSet.DisposeAll(old);
        ParameterSet.DisposeAll(fresh);
        return merged;
    }
}
