namespace Retain.Evaluation;

/// <summary>
/// Continual-learning metrics of one run's accuracy matrix A (<c>A[t,u]</c>: accuracy on task u after training task t),
/// normalised where needed by two reference runs of the same experiment and seed: <c>random</c> (R) and <c>joint</c> (J).
/// Every metric covers the run's completed tasks n only (<see cref="AccuracyMatrix.CompletedTasks"/>); the references
/// must have completed at least those. A value that is undefined (a division by zero, or no previous task) is NaN.
/// </summary>
public static class Metrics
{
    /// <summary>
    /// The forgetting ratio of the HAT paper (<c>plot_results.py</c>), per entry:
    /// <c>ρ[t,u] = (A[t,u] − R[u,u]) / (J[t,u] − R[u,u]) − 1</c> for u ≤ t &lt; n. The random reference is its own
    /// diagonal replicated down each column (R's off-diagonal entries are ignored); the joint reference is J whole.
    /// 0 is joint level, −1 random level. Row t of the result has t+1 entries.
    /// </summary>
    public static double[][] ForgettingRatioMatrix(AccuracyMatrix run, AccuracyMatrix random, AccuracyMatrix joint)
    {
        var n = RequireReferences(run, random, joint);
        var ratio = new double[n][];
        for (var t = 0; t < n; t++)
        {
            ratio[t] = new double[t + 1];
            for (var u = 0; u <= t; u++)
                ratio[t][u] = Divide(run[t, u] - random[u, u], joint[t, u] - random[u, u]) - 1;
        }
        return ratio;
    }

    /// <summary>
    /// <c>ρ^{≤t} = (1/(t+1)) Σ_{u=0..t} ρ[t,u]</c> for t &lt; n: the forgetting ratio over the tasks learnt so far,
    /// the quantity the HAT paper plots and <c>plot_results.py</c> prints.
    /// </summary>
    public static double[] ForgettingRatio(AccuracyMatrix run, AccuracyMatrix random, AccuracyMatrix joint) =>
        ForgettingRatioMatrix(run, random, joint).Select(row => row.Average()).ToArray();

    /// <summary>
    /// The forgetting ratio of the DWA notebook (paper Figure 6), a different quantity from
    /// <see cref="ForgettingRatio"/>: <c>FR_t = mean_{u&lt;t} (A[t,u] − R[t,u]) / (J[t,u] − R[t,u])</c>, previous tasks
    /// only, the random matrix used whole, no −1 (so 1 is joint level, 0 random level). Indexed by t &lt; n;
    /// entry 0 is NaN (task 0 has no previous task).
    /// </summary>
    public static double[] NotebookForgettingRatio(AccuracyMatrix run, AccuracyMatrix random, AccuracyMatrix joint)
    {
        var n = RequireReferences(run, random, joint);
        return Enumerable.Range(0, n)
            .Select(t => MeanOverPrevious(t, u => Divide(run[t, u] - random[t, u], joint[t, u] - random[t, u])))
            .ToArray();
    }

    /// <summary>
    /// The DWA notebook's "simple forgetting ratio", without references: <c>mean_{u&lt;t} A[t,u] / A[u,u]</c>, the share
    /// of each previous task's just-learnt accuracy that is left. Indexed by t &lt; n; entry 0 is NaN.
    /// </summary>
    public static double[] SimpleForgettingRatio(AccuracyMatrix run) =>
        Enumerable.Range(0, run.CompletedTasks).Select(t => MeanOverPrevious(t, u => Divide(run[t, u], run[u, u]))).ToArray();

    /// <summary>
    /// The DWA notebook's summary line: <c>acc = Σ_u A[n−1,u] / n</c> and
    /// <c>forgotten = (1 − mean_{t=1..n−1} FR_t) · 100</c> (NaN when only one task was completed).
    /// </summary>
    internal static NotebookSummary NotebookSummaryOf(AccuracyMatrix run, AccuracyMatrix random, AccuracyMatrix joint)
    {
        var ratio = NotebookForgettingRatio(run, random, joint);
        var forgotten = ratio.Length < 2 ? double.NaN : (1 - ratio.Skip(1).Average()) * 100;
        return new NotebookSummary(AverageAccuracy(run), forgotten);
    }

    /// <summary>ACC = <c>mean_u A[n−1,u]</c>: accuracy over all completed tasks after the last one.</summary>
    public static double AverageAccuracy(AccuracyMatrix run)
    {
        var last = run.CompletedTasks - 1;
        return Enumerable.Range(0, run.CompletedTasks).Average(u => run[last, u]);
    }

    /// <summary>
    /// BWT = <c>1/(n−1) Σ_{u&lt;n−1} (A[n−1,u] − A[u,u])</c> (Lopez-Paz &amp; Ranzato 2017): how much training later tasks
    /// changed the accuracy on earlier ones; negative is forgetting. NaN when only one task was completed.
    /// </summary>
    public static double BackwardTransfer(AccuracyMatrix run)
    {
        var last = run.CompletedTasks - 1;
        return last == 0 ? double.NaN : Enumerable.Range(0, last).Average(u => run[last, u] - run[u, u]);
    }

    /// <summary>
    /// FWT = <c>1/(n−1) Σ_{u=1..n−1} (b_u − R[u,u])</c> (Lopez-Paz &amp; Ranzato 2017), where b_u is the accuracy on
    /// task u just before training it (after task u−1) and the random reference's diagonal R[u,u] stands for the
    /// accuracy of a randomly initialised model. The accuracy matrix cannot give b_u: it stores 0 above the diagonal,
    /// so it must come from elsewhere (<paramref name="accuracyBeforeTraining"/>[u] = b_u, at least n entries;
    /// entry 0 is not used). NaN when only one task was completed.
    /// </summary>
    public static double ForwardTransfer(AccuracyMatrix run, IReadOnlyList<double> accuracyBeforeTraining, AccuracyMatrix random)
    {
        var n = run.CompletedTasks;
        random.RequireCompleted(n, run.Source);
        if (accuracyBeforeTraining.Count < n)
            throw new RetainException($"{run.Source}: {accuracyBeforeTraining.Count} accuracies before training, but the run completed {n} tasks");
        return n == 1 ? double.NaN : Enumerable.Range(1, n - 1).Average(u => accuracyBeforeTraining[u] - random[u, u]);
    }

    private static int RequireReferences(AccuracyMatrix run, AccuracyMatrix random, AccuracyMatrix joint)
    {
        var n = run.CompletedTasks;
        random.RequireCompleted(n, run.Source);
        joint.RequireCompleted(n, run.Source);
        return n;
    }

    private static double MeanOverPrevious(int t, Func<int, double> term) =>
        t == 0 ? double.NaN : Enumerable.Range(0, t).Average(term);

    // A reference that scores the same as random on a task (or a task never learnt) leaves the ratio undefined:
    // NaN rather than ±∞, so it shows as n/a and poisons any mean it enters.
    private static double Divide(double numerator, double denominator) =>
        denominator == 0 ? double.NaN : numerator / denominator;
}

/// <summary>The DWA notebook's summary line: accuracy after the last completed task, and the percentage forgotten.</summary>
internal readonly record struct NotebookSummary(double Accuracy, double Forgotten);
