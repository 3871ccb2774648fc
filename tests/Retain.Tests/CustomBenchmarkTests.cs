using Retain.Data;
using Retain.Experiments;
using Retain.Networks;
using SkiaSharp;

namespace Retain.Tests;

public class CustomBenchmarkTests
{
    private static string Write(string dir, string json)
    {
        var path = Path.Combine(dir, "bench.json");
        File.WriteAllText(path, json);
        return path;
    }

    /// <summary>Two classes of 12x12 images, one subfolder each: dark squares and bright squares.</summary>
    private static void WriteFolders(string dir)
    {
        foreach (var split in new[] { "train", "test" })
            foreach (var (cls, shade) in new[] { ("dark", (byte)30), ("bright", (byte)220) })
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
        var dir = TestSupport.TempDir();
        WriteFolders(Path.Combine(dir, "squares"));
        var path = Write(dir, """
            { "name": "squares", "network": "mlp",
              "datasets": [ { "name": "squares", "format": "folder", "train": "squares/train", "test": "squares/test" } ],
              "image": { "channels": 3, "height": 12, "width": 12 },
              "tasks": { "type": "datasets" }, "valid_fraction": 0.25 }
            """);
        using var bench = ExperimentCatalog.Load(path, dir, seed: 0);
        Assert.Equal(BackboneKind.Mlp, bench.Backbone);
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
        var dir = TestSupport.TempDir();
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

    [Theory]
    [InlineData("{", "invalid benchmark description")]
    [InlineData("""{ "datasets": [], "image": { "channels": 1, "height": 2, "width": 2 }, "tasks": { "type": "datasets" } }""", "\"datasets\" is empty")]
    [InlineData("""{ "datasets": [ { "name": "a", "format": "idx" } ], "image": { "channels": 1, "height": 2, "width": 2 }, "tasks": { "type": "datasets" } }""", "format \"idx\" needs")]
    [InlineData("""{ "datasets": [ { "name": "a", "format": "folder", "train": "x", "test": "y" } ], "image": { "channels": 2, "height": 2, "width": 2 }, "tasks": { "type": "datasets" } }""", "channels 1 or 3")]
    [InlineData("""{ "datasets": [ { "name": "a", "format": "folder", "train": "x", "test": "y" } ], "image": { "channels": 1, "height": 2, "width": 2 }, "tasks": { "type": "shuffle" } }""", "class-groups, permutations or datasets")]
    [InlineData("""{ "datasets": [], "image": { "channels": 1, "height": 2, "width": 2 }, "tasks": { "type": "datasets" }, "colour": 1 }""", "invalid benchmark description")]
    public void BadDescriptionsNameTheFileAndTheProblem(string json, string problem)
    {
        var dir = TestSupport.TempDir();
        var path = Write(dir, json);
        var e = Assert.Throws<DataFileException>(() => ExperimentCatalog.Load(path, dir, seed: 0));
        Assert.StartsWith(path, e.Message);
        Assert.Contains(problem, e.Message);
    }
}
