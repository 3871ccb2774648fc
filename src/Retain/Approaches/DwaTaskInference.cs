using static TorchSharp.torch;

namespace Retain.Approaches;

/// <summary>Which of DWA's predictors from the context embedding gives its task-agnostic results (docs/task-agnostic.md).</summary>
public enum DwaTaskPredictor
{
    /// <summary>
    /// Not from the embedding: the head whose largest softmax probability is highest (the generic max-prob). The default,
    /// because every embedding predictor collapsed onto the last task in the runs measured (docs/task-agnostic.md).
    /// </summary>
    MaxProb,
    /// <summary>The stored task anchor nearest to the sample's embedding (the paper's mechanism).</summary>
    Anchor,
    /// <summary>The task whose stored embeddings' mean is nearest.</summary>
    Centroid,
    /// <summary>The task most frequent among the k nearest stored embeddings.</summary>
    Knn,
    /// <summary>The task whose stored embeddings, as a Gaussian with a variance per dimension, make the embedding most likely.</summary>
    Gaussian,
}

/// <summary>
/// Task inference from DWA's context embedding (docs/task-agnostic.md): given a batch of embeddings (B x E) and the
/// stored embeddings of each learnt task (N_t x E, computed on the model kept when the task finished), the task of each
/// sample (int64, B). Distances are squared Euclidean. Ties go to the lower task id (argmin/argmax take the first).
/// </summary>
internal static class DwaTaskInference
{
    /// <summary>The variance floor of <see cref="Gaussian"/>, so that a dimension a task never varies in does not decide alone.</summary>
    public const double VarianceFloor = 1e-4;

    /// <summary>The task whose mean stored embedding is nearest.</summary>
    public static Tensor NearestCentroid(Tensor embeddings, IReadOnlyList<Tensor> stored)
    {
        using var scope = NewDisposeScope();
        var centroids = stack(stored.Select(s => s.mean([0])).ToArray());   // T x E
        return cdist(embeddings, centroids).argmin(1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The task most frequent among the <paramref name="k"/> stored embeddings nearest to each sample (all tasks pooled);
    /// between tasks with as many votes, the one with the nearer neighbour.
    /// </summary>
    public static Tensor KNearest(Tensor embeddings, IReadOnlyList<Tensor> stored, int k)
    {
        if (k < 1) throw new ArgumentOutOfRangeException(nameof(k), k, "k must be at least 1");
        using var scope = NewDisposeScope();
        var pool = cat(stored.ToArray(), 0);                                                                       // N x E
        var owner = cat(stored.Select((s, t) => full(s.shape[0], t, ScalarType.Int64, device: s.device)).ToArray()); // N
        var count = (int)Math.Min(k, pool.shape[0]);
        var nearest = cdist(embeddings, pool).topk(count, dim: 1, largest: false, sorted: true).indexes;            // B x k, nearest first
        var tasks = owner[nearest];                                                                                // B x k
        // Score = votes (k + 1) + (k - rank of the task's nearest neighbour): votes first, then the nearer neighbour.
        var rankBonus = arange(count, 0, -1, ScalarType.Int64, device: embeddings.device);                          // k .. 1
        var scores = stack(Enumerable.Range(0, stored.Count).Select(t =>
        {
            var mine = tasks.eq(t).to_type(ScalarType.Int64);
            return mine.sum(1) * (count + 1) + (mine * rankBonus).amax(1);
        }).ToArray(), 1);                                                                                          // B x T
        return scores.argmax(1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The task of highest likelihood under a Gaussian fitted to its stored embeddings, with a variance per dimension
    /// (at least <see cref="VarianceFloor"/>): log p_t(e) = -1/2 Σ_d ((e_d - μ_td)² / σ²_td + log σ²_td), constants dropped.
    /// </summary>
    public static Tensor Gaussian(Tensor embeddings, IReadOnlyList<Tensor> stored)
    {
        using var scope = NewDisposeScope();
        var logLikelihood = stack(stored.Select(s =>
        {
            var mean = s.mean([0]);
            var variance = (s - mean).square().mean([0]).clamp_min(VarianceFloor);
            return -0.5 * ((embeddings - mean).square() / variance + variance.log()).sum(1);
        }).ToArray(), 1);                                                                                          // B x T
        return logLikelihood.argmax(1).MoveToOuterDisposeScope();
    }
}
