using Retain.Approaches;
using Retain.Data;
using Retain.Networks;
using Retain.Networks.Dwa;
using Retain.Training;
using static TorchSharp.torch;

namespace Retain.Tests;

/// <summary>DWA's task predictors from the context embedding against hand computations, and their state across a checkpoint.</summary>
public class DwaTaskInferenceTests
{
    // Task 0 stored (0,0), (2,0): mean (1,0), variances (1, floor 1e-4). Task 1 stored (4,-6), (4,6): mean (4,0), variances (floor, 36).
    private static Tensor[] Stored() => [tensor(new float[,] { { 0, 0 }, { 2, 0 } }), tensor(new float[,] { { 4, -6 }, { 4, 6 } })];
    private static readonly Tensor Queries = tensor(new float[,] { { 3, 0 }, { 3, 5 } });

    private static long[] Values(Tensor t) => t.data<long>().ToArray();

    [Fact]
    public void TheNearestCentroidIsTheTaskWhoseMeanStoredEmbeddingIsNearest()
    {
        // (3,0): 4 to (1,0), 1 to (4,0). (3,5): 4 + 25 = 29 and 1 + 25 = 26.
        Assert.Equal([1L, 1], Values(DwaTaskInference.NearestCentroid(Queries, Stored())));
    }

    [Fact]
    public void TheGaussianWeighsEachDimensionByTheTasksOwnSpread()
    {
        // (3,0): task 0 -1/2 (2²/1 + ln 1 + 0 + ln 1e-4) = 2.6; task 1 -1/2 (1/1e-4 + ln 1e-4 + 0 + ln 36) ≈ -4997: task 0,
        // although task 1's mean is nearer (task 1 never varies along the first axis). (3,5): task 0 pays 25/1e-4, task 1
        // 1/1e-4 + 25/36: task 1.
        Assert.Equal([0L, 1], Values(DwaTaskInference.Gaussian(Queries, Stored())));
    }

    [Theory]
    [InlineData(1, 0, 1)]    // (3,0): (2,0) at 1; (3,5): (4,6) at 2
    [InlineData(2, 0, 1)]    // (3,0): (2,0), (0,0); (3,5): (4,6) at 2 and (2,0) at 26, one vote each: the nearer neighbour's task
    [InlineData(3, 0, 0)]    // (3,5): (4,6), (2,0), (0,0) at 34: two votes for task 0
    [InlineData(10, 0, 1)]   // k beyond the 4 stored: all of them, two votes each: the nearest neighbour's task
    public void KNearestVotesAndBreaksTiesByTheNearerNeighbour(int k, long first, long second)
    {
        Assert.Equal([first, second], Values(DwaTaskInference.KNearest(Queries, Stored(), k)));
    }
}
