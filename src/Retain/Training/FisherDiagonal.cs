using Retain.Data;
using Retain.Networks;
using static TorchSharp.torch;

namespace Retain.Training;

/// <summary>
/// The seed's empirical Fisher diagonal (used by ewc, imm-mode and dwa): in train mode, over the task's training set
/// in stored order in batches of 20, <c>F += n_b * (d loss_b / d w)^2</c> with the gradient of the batch-mean loss,
/// then <c>F /= N</c>. Gradients are zeroed before every batch. Two departures from the seed, both corrections:
/// the last, shorter batch is weighted by its own size (the seed used 20), and DWA's variant that never zeroed
/// gradients is not reproduced.
/// </summary>
public static class FisherDiagonal
{
    public const int BatchSize = 20;

    /// <param name="loss">The approach's training objective on a batch (inputs and labels already on the device).</param>
    public static Dictionary<string, Tensor> Compute(MultiHeadNetwork model, Split data, Device device,
        Func<Tensor, Tensor, Tensor> loss, int batchSize = BatchSize)
    {
        var parameters = model.named_parameters().ToArray();
        var fisher = parameters.ToDictionary(p => p.name, p => zeros_like(p.parameter).detach());
        model.train();
        foreach (var batch in data.Batches(batchSize, device))
        {
            var count = batch.X.shape[0];
            model.zero_grad();
            loss(batch.X, batch.Y).backward();
            using var _ = no_grad();
            foreach (var (name, p) in parameters)
                if (p.grad is { } g) fisher[name].add_(g.square().mul_(count));
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
