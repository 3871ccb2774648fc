using Retain.Data;
using static TorchSharp.torch;

namespace Retain.Tests;

/// <summary>Task orders, splits, sizes and normalisation of the experiments on the data in dat/.</summary>
public class ExperimentTests
{
    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    [Fact]
    public void PermutedMnistUsesTheSeedsPermutationsInTheSeedsOrder()
    {
        using var bench = ExperimentCatalog.Load("pmnist", TestSupport.DataDir, seed: 0);
        Assert.Equal(10, bench.Tasks.Count);
        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"pmnist-{i}"), bench.Tasks.Select(t => t.Name));
        // Seed 0 orders the permutation ids [2,8,4,9,1,6,7,3,0,5]: task 0 uses RandomState(200), whose shuffle of
        // arange(784) starts 92 516 39 376 634 650 (spec test vector).
        Assert.Equal([92L, 516, 39, 376, 634, 650], ExperimentCatalog.PixelPermutation(2, 0)[..6]);

        var (_, test, _) = Mnist.Load(TestSupport.DataDir);
        using var plain = test.ToNormalisedSplit([0.1307f], [0.3081f]);
        foreach (var (task, id) in new[] { (0, 2), (9, 5) })
        {
            using var perm = tensor(ExperimentCatalog.PixelPermutation(id, task));
            using var expected = plain.X.flatten(1).index_select(1, perm);
            Assert.True(Same(expected, bench.Tasks[task].Test.X.flatten(1)), $"task {task}");
        }
        // Every task has its own permutation, none is the identity.
        var firstImages = bench.Tasks.Select(t => t.Test.X[0].flatten().data<float>().ToArray()).ToArray();
        for (var a = 0; a < 10; a++)
        {
            Assert.NotEqual(plain.X[0].flatten().data<float>().ToArray(), firstImages[a]);
            for (var b = a + 1; b < 10; b++) Assert.NotEqual(firstImages[a], firstImages[b]);
        }
    }

    [Fact]
    public void PermutedMnistIsDeterministicPerSeed()
    {
        using var one = ExperimentCatalog.Load("pmnist", TestSupport.DataDir, seed: 3);
        using var two = ExperimentCatalog.Load("pmnist", TestSupport.DataDir, seed: 3);
        using var other = ExperimentCatalog.Load("pmnist", TestSupport.DataDir, seed: 4);
        Assert.True(Same(one.Tasks[4].Train.X, two.Tasks[4].Train.X));
        Assert.False(Same(one.Tasks[4].Test.X, other.Tasks[4].Test.X));
        foreach (var task in one.Tasks)
        {
            Assert.Equal(10, task.ClassCount);
            Assert.Equal((task.Train.Count + task.Valid.Count) / 10, task.Valid.Count);
        }
    }

    [Fact]
    public void SplitFashionHasFiveTwoClassTasksNormalisedByItsOwnStatistics()
    {
        using var bench = ExperimentCatalog.Load("split-fashion", TestSupport.DataDir, seed: 0);
        // Seed 0 shuffles arange(5) to [2,0,1,3,4]... whichever it is, it is the numpy order.
        var order = new NumpyRandomState(0).Permutation(5);
        Assert.Equal(order.Select(k => $"fashion-{2 * k}-{2 * k + 1}"), bench.Tasks.Select(t => t.Name));
        foreach (var task in bench.Tasks)
        {
            Assert.Equal(2, task.ClassCount);
            Assert.Equal(12000, task.Train.Count + task.Valid.Count); // 6,000 training images per class
            Assert.Equal(1200, task.Valid.Count);
            Assert.Equal(2000, task.Test.Count);
            Assert.Equal([0L, 1], task.Train.Y.unique().Item1.data<long>().ToArray());
        }
        // Over all training images (train + valid of every task) the normalised pixels have mean 0 and std 1.
        using var all = cat(bench.Tasks.SelectMany(t => new[] { t.Train.X, t.Valid.X }).ToArray());
        Assert.Equal(0, all.mean().item<float>(), 3);
        Assert.Equal(1, all.std().item<float>(), 3);
    }
}
