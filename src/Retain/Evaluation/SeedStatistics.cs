namespace Retain.Evaluation;

/// <summary>
/// A mean over seeds with the half-width of its confidence interval, as <c>plot_results.py</c> computes it:
/// <c>t_{(1+level)/2, n−1} · std / sqrt(n)</c> with the population std (divisor n, numpy's default) and the Student-t
/// quantile. The half-width is NaN for a single value (no spread to estimate).
/// </summary>
public readonly record struct MeanWithConfidence(double Mean, double HalfWidth, int Count)
{
    public static MeanWithConfidence Of(IReadOnlyList<double> values, double level = 0.95)
    {
        if (values.Count == 0) throw new ArgumentException("no values to average", nameof(values));
        if (!(level > 0 && level < 1)) throw new ArgumentOutOfRangeException(nameof(level), level, "a confidence level strictly between 0 and 1 is required");
        var n = values.Count;
        var mean = values.Average();
        if (n == 1) return new MeanWithConfidence(mean, double.NaN, 1);
        var std = Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / n);
        return new MeanWithConfidence(mean, StudentT.Quantile((1 + level) / 2, n - 1) * std / Math.Sqrt(n), n);
    }
}

/// <summary>
/// The forgetting ratio ρ^{≤t} of several seeds of one approach, aggregated per t as in <c>plot_results.py</c>, and
/// overall: each seed's mean over t, then the mean and interval of those (its mean equals the mean over t of the
/// per-t means, the number <c>plot_results.py</c> prints after the arrow).
/// </summary>
public sealed record ForgettingRatioAggregate(IReadOnlyList<MeanWithConfidence> PerTask, MeanWithConfidence Overall)
{
    /// <summary>Tasks aggregated: those that every seed completed.</summary>
    public int Tasks => PerTask.Count;

    /// <param name="perSeed">ρ^{≤t} of each seed (<see cref="Metrics.ForgettingRatio"/>); seeds that completed
    /// different numbers of tasks are aggregated over the tasks all of them completed.</param>
    public static ForgettingRatioAggregate Of(IReadOnlyList<IReadOnlyList<double>> perSeed, double level = 0.95)
    {
        if (perSeed.Count == 0) throw new ArgumentException("no seeds to aggregate", nameof(perSeed));
        var tasks = perSeed.Min(s => s.Count);
        if (tasks == 0) throw new ArgumentException("a seed has no completed task", nameof(perSeed));
        var perTask = Enumerable.Range(0, tasks)
            .Select(t => MeanWithConfidence.Of(perSeed.Select(s => s[t]).ToArray(), level)).ToArray();
        var overall = MeanWithConfidence.Of(perSeed.Select(s => s.Take(tasks).Average()).ToArray(), level);
        return new ForgettingRatioAggregate(perTask, overall);
    }
}
