using static TorchSharp.torch;

namespace Retain.Approaches;

/// <summary>Which of DWA's predictors (from the context embedding or the stem's features) gives its task-agnostic results (docs/task-agnostic.md).</summary>
public enum DwaTaskPredictor
{
    /// <summary>Not from the embedding: the head whose largest softmax probability is highest (the generic max-prob).</summary>
    MaxProb,
    /// <summary>The stored task anchor nearest to the sample's embedding (the paper's mechanism).</summary>
    Anchor,
    /// <summary>The task whose stored embeddings' mean is nearest.</summary>
    Centroid,
    /// <summary>The task most frequent among the k nearest stored embeddings.</summary>
    Knn,
    /// <summary>The task whose stored embeddings, as a Gaussian with a variance per dimension, make the embedding most likely.</summary>
    Gaussian,
    /// <summary>
    /// A small classifier over what the context processor reads (the stem's features), trained after each task on the
    /// stored samples of every task so far (<see cref="DwaTaskClassifier"/>).
    /// </summary>
    Classifier,
    /// <summary>
    /// The most probable (task, class) pair: the classifier's probability of the task times the task's head's
    /// probability of its most likely class. The default: with the classifier, the best measured, and at least as good as
    /// the classifier alone in every seed at 6 epochs (docs/task-agnostic.md).
    /// </summary>
    Posterior,
}

/// <summary>
/// Task inference from DWA's context embedding (docs/task-agnostic.md): given a batch of embeddings (B x E) and the
/// embeddings of each learnt task's stored samples (N_t x E, embedded by the processor as it is now), the task of each
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
    /// The task of the most probable (task, class) pair, <c>argmax_t [log p(t | x) + max_y log p(y | x, t)]</c>: the
    /// task's probability from the embedding (<paramref name="taskLogProbabilities"/>, B x T) and each class's from
    /// the task's head (<paramref name="logits"/>: T tensors of B x classes, each head under its task's masks). Why both:
    /// the embedding tells the tasks apart where the heads are all confident, the heads where the embedding is unsure.
    /// </summary>
    public static Tensor Posterior(Tensor taskLogProbabilities, IReadOnlyList<Tensor> logits)
    {
        if (taskLogProbabilities.shape[1] != logits.Count)
            throw new ArgumentException($"{taskLogProbabilities.shape[1]} task probabilities for {logits.Count} heads");
        using var scope = NewDisposeScope();
        var classLogProbabilities = stack(logits.Select(l => nn.functional.log_softmax(l, 1).amax(1)).ToArray(), 1);   // B x T
        return (taskLogProbabilities + classLogProbabilities).argmax(1).MoveToOuterDisposeScope();
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
