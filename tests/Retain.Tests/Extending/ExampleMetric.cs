using Retain.Evaluation;
using Retain.Experiments;

namespace Retain.Tests.Extending;

// docs/extending.md, "Add a metric": average forgetting, from a run's accuracy matrix.

/// <summary>
/// Average forgetting (Chaudhry et al., "Riemannian Walk", ECCV 2018): after the last task n−1, how far each earlier
/// task's accuracy fell below the best it ever had,
/// <code>F = 1/(n−1) Σ_{j&lt;n−1} ( max_{j ≤ l &lt; n−1} A[l,j] − A[n−1,j] )</code>
/// Positive is forgetting; 0 when every task kept its best accuracy. Only the tasks the run completed count, as for
/// the metrics in <see cref="Metrics"/>.
/// </summary>
public static class AverageForgetting
{
    public static double Of(AccuracyMatrix run)
    {
        var last = run.CompletedTasks - 1;
        if (last == 0) return double.NaN; // nothing to forget after one task, as BWT
        return Enumerable.Range(0, last).Average(j => Enumerable.Range(j, last - j).Max(l => run[l, j]) - run[last, j]);
    }
}

public class ExampleMetricTests : TempFolderTests
{
    [Fact]
    public void MatchesHandComputedValues()
    {
        var three = new AccuracyMatrix([[0.90, 0, 0], [0.80, 0.95, 0], [0.70, 0.85, 0.92]], "hand");
        // task 0: best 0.90, last 0.70, forgot 0.20; task 1: best 0.95, last 0.85, forgot 0.10; mean 0.15.
        Assert.Equal(0.15, AverageForgetting.Of(three), precision: 12);

        // A task that got better later (backward transfer) has negative forgetting: best before the end 0.5, last 0.6.
        Assert.Equal(-0.1, AverageForgetting.Of(new AccuracyMatrix([[0.5, 0], [0.6, 0.9]], "hand")), precision: 12);

        // A run stopped after its second of three tasks: the third row is all zero and does not count.
        Assert.Equal(0.9 - 0.3, AverageForgetting.Of(new AccuracyMatrix([[0.9, 0, 0], [0.3, 0.8, 0], [0, 0, 0]], "hand")), precision: 12);

        Assert.True(double.IsNaN(AverageForgetting.Of(new AccuracyMatrix([[0.7, 0], [0, 0]], "hand"))));
    }

    [Fact]
    public void ReadsARunsResultFile()
    {
        var output = Path.Combine(Folder, "sgd.txt");
        ExperimentRunner.Run(new RunConfig
        {
            Experiment = "mnist2", Approach = "sgd", DataDir = TestSupport.DataDir, Output = output, Epochs = 1, Limit = 100,
        });
        var matrix = AccuracyMatrix.Read(output);
        // Two tasks: the best accuracy on task 0 before the end is the one right after training it, so F = −BWT.
        Assert.Equal(matrix[0, 0] - matrix[1, 0], AverageForgetting.Of(matrix), precision: 12);
        Assert.Equal(-Metrics.BackwardTransfer(matrix), AverageForgetting.Of(matrix), precision: 12);
    }
}
