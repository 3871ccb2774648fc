using Retain.Approaches;
using Retain.Data;
using Retain.Networks;
using Retain.Networks.Dwa;
using Retain.Training;
using static TorchSharp.torch;

namespace Retain.Tests;

/// <summary>DWA's task predictors (from the context embedding and the stem's features) against hand computations, and their state across a checkpoint.</summary>
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

    [Fact]
    public void ThePosteriorNamesTheTaskOfTheMostProbableTaskAndClass()
    {
        // p(task | x): sample 0 (0.6, 0.4), sample 1 (0.9, 0.1). Head 0 (two classes) gives its best class 0.5, head 1
        // (three classes) 0.9 for sample 0; sample 1: 0.7 and 0.8. Products: sample 0 0.30 < 0.36, task 1 (the
        // classifier alone and max-prob differ: task 0 and task 1); sample 1 0.63 > 0.08, task 0 (max-prob says task 1).
        var taskLogProbabilities = tensor(new[,] { { 0.6f, 0.4f }, { 0.9f, 0.1f } }).log();
        Tensor[] logits = [tensor(new[,] { { 0.5f, 0.5f }, { 0.7f, 0.3f } }).log(), tensor(new[,] { { 0.9f, 0.05f, 0.05f }, { 0.8f, 0.1f, 0.1f } }).log()];
        Assert.Equal([1L, 0], Values(DwaTaskInference.Posterior(taskLogProbabilities, logits)));
        Assert.Equal([0L, 0], Values(taskLogProbabilities.argmax(1)));
        Assert.Equal([1L, 1], Values(TaskPredictors.Generic(logits)[TaskPredictors.MaxProbability]));
        Assert.Throws<ArgumentException>(() => DwaTaskInference.Posterior(taskLogProbabilities, logits[..1]));
    }

    [Fact]
    public void TheClassifiersLogProbabilitiesAreNormalisedOverTheTasksLearnt()
    {
        using var classifier = DwaTaskClassifier.Train(Xor(), outputs: 3, seed: 0);
        using var logProbabilities = classifier.LogProbabilities(XorQueries, tasks: 2);
        Assert.Equal([4L, 2], logProbabilities.shape);
        Assert.True(logProbabilities.exp().sum(1).allclose(ones(4), rtol: 0, atol: 1e-6));
        Assert.Equal(Values(classifier.Predict(XorQueries, tasks: 2)), Values(logProbabilities.argmax(1)));
    }

    /// <summary>
    /// XOR in two dimensions: task 0 around (1,1) and (-1,-1), task 1 around (1,-1) and (-1,1), 20 samples per corner on
    /// a fixed jitter. No line separates them, and both tasks' centroids are the origin.
    /// </summary>
    private static Tensor[] Xor()
    {
        Tensor Around(float[,] corners)
        {
            var jitter = Enumerable.Range(0, 20).Select(i => ((float)(0.2 * Math.Sin(i * 1.7)), (float)(0.2 * Math.Cos(i * 2.3)))).ToArray();
            var rows = new float[2 * jitter.Length, 2];
            for (var c = 0; c < 2; c++)
                for (var i = 0; i < jitter.Length; i++)
                    (rows[c * jitter.Length + i, 0], rows[c * jitter.Length + i, 1]) = (corners[c, 0] + jitter[i].Item1, corners[c, 1] + jitter[i].Item2);
            return tensor(rows);
        }
        return [Around(new float[,] { { 1, 1 }, { -1, -1 } }), Around(new float[,] { { 1, -1 }, { -1, 1 } })];
    }

    private static readonly Tensor XorQueries = tensor(new float[,] { { 0.9f, 1.1f }, { -1.1f, -0.9f }, { 1.1f, -0.9f }, { -0.9f, 1.1f } });

    [Fact]
    public void TheClassifierSeparatesTasksThatNoLineAndNoCentroidSeparates()
    {
        using var classifier = DwaTaskClassifier.Train(Xor(), outputs: 3, seed: 0);
        Assert.Equal([0L, 0, 1, 1], Values(classifier.Predict(XorQueries, tasks: 2)));
        // The centroids coincide, so the nearest centroid names the first task for every sample.
        Assert.Equal([0L, 0, 0, 0], Values(DwaTaskInference.NearestCentroid(XorQueries, Xor())));
        // Only the tasks learnt so far can be named: with one, every sample is task 0.
        Assert.Equal([0L, 0, 0, 0], Values(classifier.Predict(XorQueries, tasks: 1)));
    }

    [Fact]
    public void TheClassifierIsDeterministicAndLeavesTheGlobalGeneratorAlone()
    {
        manual_seed(5);
        var expected = rand(3);
        manual_seed(5);
        using var first = DwaTaskClassifier.Train(Xor(), outputs: 2, seed: 7);
        Assert.True(rand(3).allclose(expected, rtol: 0, atol: 0), "training the classifier drew from the global generator");
        using var second = DwaTaskClassifier.Train(Xor(), outputs: 2, seed: 7);
        Assert.All(first.Tensors, kv => Assert.True(kv.Value.allclose(second.Tensors[kv.Key], rtol: 0, atol: 0), kv.Key));
        using var other = DwaTaskClassifier.Train(Xor(), outputs: 2, seed: 8);
        Assert.False(other.Tensors["w1"].allclose(first.Tensors["w1"], rtol: 0, atol: 0));
    }
}
