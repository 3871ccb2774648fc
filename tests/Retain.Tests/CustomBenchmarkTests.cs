using Retain.Data;
using Retain.Experiments;
using Retain.Networks;
using SkiaSharp;

namespace Retain.Tests;

public class CustomBenchmarkTests : TempFolderTests
{
    private static string Write(string dir, string json)
    {
        var path = Path.Combine(dir, "bench.json");
        File.WriteAllText(path, json);
        return path;
    }

    /// <summary>
    /// Two classes of 12x12 images, one subfolder each: dark squares and bright squares; or <paramref name="classes"/>
    /// grey levels; the test folder's classes may be named otherwise.
    /// </summary>
    private static void WriteFolders(string dir, int classes = 2, string[]? testClasses = null)
    {
        string[] names = classes == 2 ? ["dark", "bright"] : [.. Enumerable.Range(0, classes).Select(c => $"grey{c}")];
        foreach (var split in new[] { "train", "test" })
            foreach (var (cls, shade) in (split == "test" ? testClasses ?? names : names).Select((name, c) => (name, (byte)(30 + 190 * c / (classes - 1)))))
            {
                var folder = Path.Combine(dir, split, cls);
                Directory.CreateDirectory(folder);
                for (var i = 0; i < (split == "train" ? 20 : 5); i++)
                    File.WriteAllBytes(Path.Combine(folder, $"{i}.png"), TestImages.Solid(16, 16, new SKColor(shade, (byte)(shade + i), shade)));
            }
    }

    [Fact]
    public void ImageFolderTasksPerDataSetWithComputedNormalisation()
    {
        var dir = Folder;
        WriteFolders(Path.Combine(dir, "squares"));
        var path = Write(dir, """
            { "name": "squares", "network": "mlp",
              "datasets": [ { "name": "squares", "format": "folder", "train": "squares/train", "test": "squares/test" } ],
              "image": { "channels": 3, "height": 12, "width": 12 },
              "tasks": { "type": "datasets" }, "valid_fraction": 0.25 }
            """);
        using var bench = ExperimentCatalog.Load(path, dir, seed: 0);
        Assert.Equal(BackboneRegistry.Mlp, bench.Backbone);
        var task = Assert.Single(bench.Tasks);
        Assert.Equal(2, task.ClassCount);
        Assert.Equal(10, task.Valid.Count); // floor(0.25 * 40)
        Assert.Equal([30L, 3, 12, 12], task.Train.X.shape);
        // Normalisation computed from the training images: mean 0, std 1 per channel over train + valid.
        using var all = TorchSharp.torch.cat([task.Train.X, task.Valid.X]);
        Assert.Equal(0, all.mean().item<float>(), 3);
        Assert.Equal(1, all.select(1, 0).std().item<float>(), 2);
    }

    [Fact]
    public void ClassGroupsOfIdxFilesTrainEndToEnd()
    {
        var dir = Folder;
        var fashion = Path.Combine(TestSupport.DataDir, "fashion_mnist").Replace("\\", "/");
        var path = Write(dir, $$"""
            { "name": "two-fashion-pairs", "network": "mlp",
              "datasets": [ { "name": "fashion", "format": "idx",
                  "train_images": "{{fashion}}/train-images-idx3-ubyte.gz", "train_labels": "{{fashion}}/train-labels-idx1-ubyte.gz",
                  "test_images": "{{fashion}}/t10k-images-idx3-ubyte.gz", "test_labels": "{{fashion}}/t10k-labels-idx1-ubyte.gz" } ],
              "image": { "channels": 1, "height": 28, "width": 28 },
              "tasks": { "type": "class-groups", "dataset": "fashion", "groups": [[7, 9], [0, 6]] },
              "shuffle_tasks": false }
            """);
        var record = ExperimentRunner.Run(new RunConfig
        {
            Experiment = path, Approach = "sgd", DataDir = TestSupport.DataDir, Output = Path.Combine(dir, "out.txt"), Epochs = 1,
        });
        Assert.Equal(["fashion-7-9", "fashion-0-6"], record.TaskNames);
        Assert.Equal("mlp", record.Network);
        Assert.True(record.Accuracy[0][0] > 0.8, $"sneakers vs boots learned: {record.Accuracy[0][0]}");
    }

    /// <summary>Four IDX files of 4x4 images with the given labels (each image's pixels are its label).</summary>
    private static string IdxDataSet(string dir, byte[] trainLabels, byte[] testLabels)
    {
        foreach (var (prefix, labels) in new[] { ("train", trainLabels), ("test", testLabels) })
        {
            File.WriteAllBytes(Path.Combine(dir, $"{prefix}-images"), IdxReaderTests.Idx([labels.Length, 4, 4], labels.SelectMany(l => Enumerable.Repeat(l, 16)).ToArray()));
            File.WriteAllBytes(Path.Combine(dir, $"{prefix}-labels"), IdxReaderTests.Idx([labels.Length], labels));
        }
        return """{ "name": "digits", "format": "idx", "train_images": "train-images", "train_labels": "train-labels", "test_images": "test-images", "test_labels": "test-labels" }""";
    }

    private static readonly byte[] TenClasses = [.. Enumerable.Range(0, 100).Select(i => (byte)(i % 10))];

    private static DataFileException LoadFails(string dir, string json)
    {
        var path = Write(dir, json);
        var e = Assert.Throws<DataFileException>(() => ExperimentCatalog.Load(path, dir, seed: 0));
        Assert.StartsWith(path + ": ", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        return e;
    }

    [Theory]
    [InlineData("[[7, 12]]", "\"tasks.groups\"[0] [7, 12]: class 12 is not a label of data set 'digits' (its training labels: 0..9)")]
    [InlineData("[[0, 1], [-1, 9]]", "\"tasks.groups\"[1] [-1, 9]: class -1 is not a label of data set 'digits' (its training labels: 0..9)")]
    [InlineData("[[256, 1]]", "\"tasks.groups\"[0] [256, 1]: class 256 is not a label")] // not label 0 by wrapping around
    public void ClassGroupLabelsMustBeLabelsOfTheData(string groups, string problem)
    {
        var dir = Folder;
        var e = LoadFails(dir, $$"""
            { "datasets": [ {{IdxDataSet(dir, TenClasses, TenClasses)}} ], "image": { "channels": 1, "height": 4, "width": 4 },
              "network": "mlp", "tasks": { "type": "class-groups", "dataset": "digits", "groups": {{groups}} } }
            """);
        Assert.Contains(problem, e.Message);
    }

    [Fact]
    public void AClassMissingFromAnImageFolderIsNamed()
    {
        var dir = Folder;
        WriteFolders(Path.Combine(dir, "greys"), classes: 4);
        var e = LoadFails(dir, """
            { "datasets": [ { "name": "greys", "format": "folder", "train": "greys/train", "test": "greys/test" } ],
              "image": { "channels": 1, "height": 12, "width": 12 }, "network": "mlp",
              "tasks": { "type": "class-groups", "dataset": "greys", "groups": [[0, 1], [2, 7]] } }
            """);
        Assert.EndsWith("\"tasks.groups\"[1] [2, 7]: class 7 is not a label of data set 'greys' (its training labels: 0..3)", e.Message);
    }

    [Fact]
    public void TestFolderWithOtherClassesThanTheTrainingFolderIsRejected()
    {
        var dir = Folder;
        WriteFolders(Path.Combine(dir, "squares"), testClasses: ["bright", "dim"]);
        var path = Write(dir, """
            { "datasets": [ { "name": "squares", "format": "folder", "train": "squares/train", "test": "squares/test" } ],
              "image": { "channels": 1, "height": 12, "width": 12 }, "network": "mlp", "tasks": { "type": "datasets" } }
            """);
        var e = Assert.Throws<DataFileException>(() => ExperimentCatalog.Load(path, dir, seed: 0));
        Assert.Equal($"{Path.Combine(dir, "squares/test")}: class folders bright, dim differ from the training folder's bright, dark", e.Message);
    }

    [Theory]
    [InlineData("""{ "type": "datasets" }""", "task digits has 1 class in its training data: a task needs at least 2")]
    [InlineData("""{ "type": "permutations", "dataset": "digits", "count": 2 }""", "task digits-perm0 has 1 class in its training data: a task needs at least 2")]
    public void EveryTaskNeedsTwoClassesInItsTrainingData(string tasks, string problem)
    {
        var dir = Folder;
        byte[] threes = [.. Enumerable.Repeat((byte)3, 20)];
        var e = LoadFails(dir, $$"""
            { "datasets": [ {{IdxDataSet(dir, threes, threes)}} ], "image": { "channels": 1, "height": 4, "width": 4 },
              "network": "mlp", "tasks": {{tasks}} }
            """);
        Assert.EndsWith(problem, e.Message);
    }

    [Fact]
    public void ValidFractionThatLeavesAClassUnvalidatedIsRejected()
    {
        var dir = Folder;
        // 50 images of class 0 and 2 of class 1: a tenth (5 images) of them, chosen by the seed, holds no image of class 1.
        byte[] labels = [.. Enumerable.Repeat((byte)0, 50), 1, 1];
        var e = LoadFails(dir, $$"""
            { "datasets": [ {{IdxDataSet(dir, labels, labels)}} ], "image": { "channels": 1, "height": 4, "width": 4 },
              "network": "mlp", "tasks": { "type": "datasets" }, "valid_fraction": 0.1 }
            """);
        Assert.EndsWith("\"valid_fraction\" 0.1 leaves class 1 of task digits (2 training images) with no validation sample", e.Message);
    }

    [Theory]
    [InlineData("{", "invalid benchmark description")]
    [InlineData("""{ "datasets": [], "image": { "channels": 1, "height": 2, "width": 2 }, "tasks": { "type": "datasets" } }""", "\"datasets\" is empty")]
    [InlineData("""{ "datasets": [ { "name": "a", "format": "idx" } ], "image": { "channels": 1, "height": 2, "width": 2 }, "tasks": { "type": "datasets" } }""", "format \"idx\" needs")]
    [InlineData("""{ "datasets": [ { "name": "a", "format": "folder", "train": "x", "test": "y" } ], "image": { "channels": 2, "height": 2, "width": 2 }, "tasks": { "type": "datasets" } }""", "channels 1 or 3")]
    [InlineData("""{ "datasets": [ { "name": "a", "format": "folder", "train": "x", "test": "y" } ], "image": { "channels": 1, "height": 2, "width": 2 }, "tasks": { "type": "shuffle" } }""", "class-groups, permutations or datasets")]
    [InlineData("""{ "datasets": [], "image": { "channels": 1, "height": 2, "width": 2 }, "tasks": { "type": "datasets" }, "colour": 1 }""", "invalid benchmark description")]
    [InlineData("""{ "datasets": [ { "name": "a", "format": "folder", "train": "x", "test": "y" } ], "image": { "channels": 1, "height": 2, "width": 2 }, "tasks": { "type": "datasets" }, "valid_fraction": 0 }""", "\"valid_fraction\" must be strictly between 0 and 1 (got 0)")]
    [InlineData("""{ "datasets": [ { "name": "a", "format": "folder", "train": "x", "test": "y" } ], "image": { "channels": 1, "height": 2, "width": 2 }, "tasks": { "type": "datasets" }, "valid_fraction": 1 }""", "\"valid_fraction\" must be strictly between 0 and 1 (got 1)")]
    [InlineData("""{ "datasets": [ { "name": "a", "format": "folder", "train": "x", "test": "y" } ], "image": { "channels": 1, "height": 2, "width": 2 }, "tasks": { "type": "datasets" }, "valid_fraction": -0.5 }""", "\"valid_fraction\" must be strictly between 0 and 1 (got -0.5)")]
    [InlineData("""{ "datasets": [ { "name": "a", "format": "folder", "train": "x", "test": "y" } ], "image": { "channels": 1, "height": 2, "width": 2 }, "tasks": { "type": "class-groups", "dataset": "a", "groups": [] } }""", "\"tasks.groups\" needs at least one group of class labels")]
    [InlineData("""{ "datasets": [ { "name": "a", "format": "folder", "train": "x", "test": "y" } ], "image": { "channels": 1, "height": 2, "width": 2 }, "tasks": { "type": "class-groups", "dataset": "a", "groups": [[0, 1], []] } }""", "\"tasks.groups\"[1] [] has 0 classes: a task needs at least 2")]
    [InlineData("""{ "datasets": [ { "name": "a", "format": "folder", "train": "x", "test": "y" } ], "image": { "channels": 1, "height": 2, "width": 2 }, "tasks": { "type": "class-groups", "dataset": "a", "groups": [[0, 1], [2, 3], [4]] } }""", "\"tasks.groups\"[2] [4] has 1 class: a task needs at least 2")]
    [InlineData("""{ "datasets": [ { "name": "a", "format": "folder", "train": "x", "test": "y" } ], "image": { "channels": 1, "height": 2, "width": 2 }, "tasks": { "type": "class-groups", "dataset": "a", "groups": [[5, 6, 5]] } }""", "\"tasks.groups\"[0] [5, 6, 5] lists class 5 more than once")]
    public void BadDescriptionsNameTheFileAndTheProblem(string json, string problem)
    {
        var dir = Folder;
        var path = Write(dir, json);
        var e = Assert.Throws<DataFileException>(() => ExperimentCatalog.Load(path, dir, seed: 0));
        Assert.StartsWith(path, e.Message);
        Assert.Contains(problem, e.Message);
    }
}
