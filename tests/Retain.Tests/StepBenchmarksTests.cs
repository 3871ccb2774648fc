using Retain.Benchmarks;
using Xunit;

namespace Retain.Tests;

/// <summary>The step benchmarks of <c>retain bench</c> time what they say: every timed step is a full batch.</summary>
public class StepBenchmarksTests
{
    /// <summary>
    /// dwa's spec adds its curriculum when it resolves the training; the benchmark must still admit every sample, or an
    /// epoch has too few steps to time (it once timed one step of 40 and then indexed an empty list).
    /// </summary>
    [Theory]
    [InlineData("sgd", 64)]
    [InlineData("dwa", 32)]
    public void EveryRequestedStepIsTimedWithTheApproachsBatch(string approach, int batch)
    {
        var timing = StepBenchmarks.ApproachStep(approach, [5, 5], steps: 6);

        Assert.Equal(6, timing.Steps);
        Assert.Equal(batch, timing.Batch);
        Assert.True(timing.SecondsPerStep > 0);
    }

    /// <summary>The GEMM floor's FLOP count by hand: forward x·Wᵀ for every layer, xᵀ·g for every weight, g·W for all but the first.</summary>
    [Fact]
    public void TheFloorCountsTheStepsMatrixProducts()
    {
        var floor = StepBenchmarks.Floor([(6, 4), (4, 3)], batch: 2, repetitions: 3);

        // layer 0: forward 2·2·6·4 + weight gradient 2·2·6·4 = 192; layer 1: 3 × 2·2·4·3 = 144.
        Assert.Equal(336, floor.Flops);
        Assert.True(floor.Seconds > 0);
    }
}
