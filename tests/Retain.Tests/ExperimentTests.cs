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

/// <summary>The 32x32 RGB experiments: mixture on the data present here, cifar on CIFAR files the test writes.</summary>
public class MixtureExperimentTests : TempFolderTests
{
    [Fact]
    public void MixtureOfThePresentDataSetsPadsExpandsAndNormalisesAsTheSeed()
    {
        using var bench = ExperimentCatalog.Load("mixture", TestSupport.DataDir, seed: 0, datasets: ["fashion_mnist", "mnist"]);
        // Seed 0 orders the mixture facescrub, mnist, cifar100, not_mnist, svhn, cifar10, traffic_signs, fashion_mnist.
        Assert.Equal(["mnist", "fashion_mnist"], bench.Tasks.Select(t => t.Name));
        Assert.Equal([3, 32, 32], bench.InputSize);
        var fashion = bench.Tasks[1];
        Assert.Equal(10, fashion.ClassCount);
        Assert.Equal(9000, fashion.Valid.Count); // floor(0.15 * 60000)
        Assert.Equal(51000, fashion.Train.Count);
        Assert.Equal([51000L, 3, 32, 32], fashion.Train.X.shape);
        // Three identical channels; the 2-pixel border is the padded black, normalised: (0 - 0.2190) / 0.3318.
        Assert.True(fashion.Test.X[.., 0].eq(fashion.Test.X[.., 2]).all().item<bool>());
        Assert.Equal(-0.2190f / 0.3318f, fashion.Test.X[0, 0, 0, 0].item<float>(), 5);
        // The seed's constants were computed on the padded Fashion-MNIST training images: mean 0, std 1 there.
        using var all = cat([fashion.Train.X[.., 0], fashion.Valid.X[.., 0]]);
        Assert.Equal(0, all.mean().item<float>(), 2);
        Assert.Equal(1, all.std().item<float>(), 2);
    }

    [Fact]
    public void MixtureWithMissingDataSetsNamesThemAndTheirFiles()
    {
        var e = Assert.Throws<RetainException>(() => ExperimentCatalog.Load("mixture", TestSupport.DataDir, seed: 0));
        Assert.Contains("missing data set(s)", e.Message);
        Assert.Contains("svhn needs train_32x32.mat, test_32x32.mat", e.Message);
        Assert.Contains("--datasets mnist,fashion_mnist", e.Message);
        Assert.DoesNotContain("\n", e.Message);
    }

    /// <summary>CIFAR's binary distribution: records of label byte(s) and 3072 pixel bytes.</summary>
    private static void WriteCifarBinary(string path, int labelBytes, IEnumerable<int> labels)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var file = File.Create(path);
        foreach (var label in labels)
        {
            if (labelBytes == 2) file.WriteByte((byte)(label / 5)); // coarse label
            file.WriteByte((byte)label);
            file.Write(Enumerable.Range(0, 3072).Select(i => (byte)((i + label) % 256)).ToArray());
        }
    }

    [Fact]
    public void CifarSplitsTenClassesIntoPairsAndAHundredIntoGroupsOfTwenty()
    {
        var dir = Folder;
        for (var b = 1; b <= 5; b++) WriteCifarBinary(Path.Combine(dir, "cifar-10-batches-bin", $"data_batch_{b}.bin"), 1, Enumerable.Range(0, 10).SelectMany(c => Enumerable.Repeat(c, 2)));
        WriteCifarBinary(Path.Combine(dir, "cifar-10-batches-bin", "test_batch.bin"), 1, Enumerable.Range(0, 10));
        WriteCifarBinary(Path.Combine(dir, "cifar-100-binary", "train.bin"), 2, Enumerable.Range(0, 100).SelectMany(c => Enumerable.Repeat(c, 3)));
        WriteCifarBinary(Path.Combine(dir, "cifar-100-binary", "test.bin"), 2, Enumerable.Range(0, 100));

        using var bench = ExperimentCatalog.Load("cifar", dir, seed: 0);
        // Seed 0 order [2,8,4,9,1,6,7,3,0,5]: raw tasks < 5 are CIFAR-10 pairs, the others CIFAR-100 groups.
        Assert.Equal(["cifar10-2", "cifar100-3", "cifar10-4", "cifar100-4", "cifar10-1", "cifar100-1", "cifar100-2", "cifar10-3", "cifar10-0", "cifar100-0"],
            bench.Tasks.Select(t => t.Name));
        foreach (var task in bench.Tasks)
        {
            var cifar10 = task.Name.StartsWith("cifar10-", StringComparison.Ordinal);
            Assert.Equal(cifar10 ? 2 : 20, task.ClassCount);
            var trainImages = cifar10 ? 2 * 10 : 20 * 3; // 2 classes x 5 batches x 2; 20 classes x 3
            Assert.Equal(trainImages / 10, task.Valid.Count);
            Assert.Equal(trainImages - trainImages / 10, task.Train.Count);
            Assert.Equal(cifar10 ? 2 : 20, task.Test.Count);
            Assert.True(task.Train.Y.max().item<long>() < task.ClassCount);
        }
    }
}
