using System.Globalization;
using System.Text;
using Retain.Data;
using Retain.Experiments;
using Retain.Training;
using TorchSharp;

namespace Retain.Tests;

/// <summary>
/// A small slice of the npm digits in a temporary data folder: the first 140 images of each digit (120 to train and
/// validate, 20 to test), so that the six end-to-end runs stay within seconds on a shared CPU. Deleted afterwards.
/// </summary>
public sealed class BaselinesSmallMnist : IDisposable
{
    private const int ImagesPerDigit = 140;

    public BaselinesSmallMnist()
    {
        DataDir = TestSupport.TempDir();
        var dir = Path.Combine(DataDir, Mnist.SubsetFolder);
        Directory.CreateDirectory(dir);
        for (var digit = 0; digit < 10; digit++)
        {
            var pixels = MnistJsonReader.ReadDigitFile(Path.Combine(TestSupport.DataDir, Mnist.SubsetFolder, $"{digit}.json"));
            var json = new StringBuilder("{\"data\":[");
            for (var i = 0; i < ImagesPerDigit * MnistJsonReader.ImageSize; i++)
                json.Append(i == 0 ? "" : ",").Append((pixels[i] / 255.0).ToString("0.###", CultureInfo.InvariantCulture));
            File.WriteAllText(Path.Combine(dir, $"{digit}.json"), json.Append("]}").ToString());
        }
    }

    public string DataDir { get; }

    public void Dispose() => Directory.Delete(DataDir, recursive: true);
}

/// <summary>Each baseline trains both tasks of mnist2 for one epoch through the experiment protocol.</summary>
public class BaselinesEndToEndTests(BaselinesSmallMnist mnist) : TempFolderTests, IClassFixture<BaselinesSmallMnist>
{
    [Theory]
    [InlineData("lwf")]
    // The default λ = 0.05 multiplies a distance summed over the batch's samples x 800 features (the current model's
    // dropout against θ_old in eval mode), which swamps the cross-entropy of the MLP's new task in one epoch (27% on
    // task 1); the smallest value of the seed's grid shows the approach learning.
    [InlineData("lfl", "lamb", "5e-5")]
    [InlineData("imm-mean")]
    [InlineData("imm-mode")]
    [InlineData("progressive")]
    [InlineData("pathnet", "generations", "1")]
    public void TrainsBothMnist2Tasks(string approach, string? option = null, string? value = null)
    {
        var output = Path.Combine(Folder, "acc.txt");
        var record = ExperimentRunner.Run(new RunConfig
        {
            Experiment = "mnist2", Approach = approach, Seed = 0, DataDir = mnist.DataDir, Output = output, Epochs = 1,
            BatchSize = 16, // 34 steps in the one epoch of the small slice
            Parameters = option is null ? new Dictionary<string, string>() : new Dictionary<string, string> { [option] = value! },
        });

        Assert.Equal(2, record.TasksCompleted);
        Assert.True(File.Exists(output));
        // Five classes: chance is 20%.
        Assert.True(record.Accuracy[0][0] > 0.5, $"{approach}: task 0 test accuracy {record.Accuracy[0][0]:P1}");
        Assert.True(record.Accuracy[1][1] > 0.5, $"{approach}: task 1 test accuracy {record.Accuracy[1][1]:P1}");
        if (approach is "progressive" or "pathnet")
            Assert.Equal(record.Accuracy[0][0], record.Accuracy[1][0]); // task 0's column / path is frozen: no forgetting
    }

    /// <summary>Records how many epochs each task was announced with and how many it ran.</summary>
    private sealed class EpochCounter : IRunSink
    {
        public List<(int Announced, int Ran)> Tasks { get; } = [];
        public void TaskStarted(int task, string name, int maxEpochs) => Tasks.Add((maxEpochs, 0));
        public void EpochFinished(EpochRecord epoch) => Tasks[^1] = (Tasks[^1].Announced, Tasks[^1].Ran + 1);
    }

    [Fact]
    public void PathNetAnnouncesTheEpochsOfEveryPathAndGeneration()
    {
        var counter = new EpochCounter();
        ExperimentRunner.Run(new RunConfig
        {
            Experiment = "mnist2", Approach = "pathnet", Seed = 0, DataDir = mnist.DataDir, Output = Path.Combine(Folder, "acc.txt"),
            Epochs = 2, BatchSize = 16, TestMode = 1,
            Parameters = new Dictionary<string, string> { ["generations"] = "2", ["paths"] = "3" },
        }, counter);
        // 3 paths x (2 epochs / 2 generations) x 2 generations; no path's rate falls below lr_min in so few epochs.
        Assert.Equal([(6, 6)], counter.Tasks);
    }

    [Fact]
    public void LimitKeepsAFewSamplesOfEverySplitAndIsRecorded()
    {
        var record = ExperimentRunner.Run(new RunConfig
        {
            Experiment = "mnist2", Approach = "sgd", Seed = 0, DataDir = mnist.DataDir, Output = Path.Combine(Folder, "acc.txt"),
            Epochs = 1, BatchSize = 16, TestMode = 1, Limit = 48,
        });
        Assert.Equal(48, record.Limit);
        using var full = ExperimentCatalog.Load("mnist2", mnist.DataDir, seed: 0);
        using var limited = full.Take(48);
        Assert.All(limited.Tasks, t => Assert.Equal((48, 48, 48), (t.Train.Count, t.Valid.Count, t.Test.Count)));
        // Every digit of the task is kept in every split, about as often as in the full split.
        Assert.All(limited.Tasks, t => Assert.All(new[] { t.Train, t.Valid, t.Test }, s => Assert.Equal(5, s.ClassesPresent)));
        Assert.All(limited.Tasks[0].Test.Y.bincount(null, 5).data<long>().ToArray(), n => Assert.InRange(n, 8, 12));
        // Deterministic: the same selection every time.
        using var again = full.Take(48);
        Assert.Equal(limited.Tasks[1].Train.X.sum().item<float>(), again.Tasks[1].Train.X.sum().item<float>());
    }

    [Fact]
    public void TakeKeepsEveryClassInProportionToItsSize()
    {
        // Labels 0 0 0 0 0 0 1 1 2 2, five kept: one of each class, then the 2 others shared in proportion to the
        // classes' sizes beyond their first sample (5, 1, 1 of 7): 10/7, 2/7, 2/7 -> 1 whole share for class 0, and the
        // last one to the largest remainder (3/7, class 0). Class 0 keeps samples 0, 2, 4 (evenly spaced over its 6).
        using var split = new Split(torch.arange(10).reshape(10, 1), torch.tensor(new long[] { 0, 0, 0, 0, 0, 0, 1, 1, 2, 2 }));
        using var five = split.Take(5);
        Assert.Equal([0L, 2, 4, 6, 8], five.X.flatten().data<long>().ToArray());
        using var all = split.Take(20);
        Assert.Equal(10, all.Count);
        Assert.Throws<ArgumentOutOfRangeException>(() => split.Take(2));
    }

    [Fact]
    public void TakeKeepsBothClassesOfAnAlternatingSplit()
    {
        // A shuffled training split can alternate classes; evenly spaced samples of the whole split (0, 2, 4, 6) would
        // all be class 0.
        using var split = new Split(torch.arange(8).reshape(8, 1), torch.tensor(new long[] { 0, 1, 0, 1, 0, 1, 0, 1 }));
        using var four = split.Take(4);
        Assert.Equal([0L, 1, 4, 5], four.X.flatten().data<long>().ToArray());
    }

    [Fact]
    public void LimitBelowATasksClassCountIsAnErrorNamingTheTask()
    {
        using var full = ExperimentCatalog.Load("mnist2", mnist.DataDir, seed: 0);
        var e = Assert.Throws<RetainException>(() => full.Take(4));
        Assert.Equal("--limit 4 is below the 5 classes of task mnist-0-4: every split keeps at least one sample of each class", e.Message);
        using var five = full.Take(5);
        Assert.All(five.Tasks, t => Assert.All(new[] { t.Train, t.Valid, t.Test }, s => Assert.Equal([0L, 1, 2, 3, 4], s.Y.data<long>().Order().ToArray())));
    }

    [Fact]
    public void PathNetOnAlexNetStartsWithAMuchLargerOutputAndSoALowerDefaultRate()
    {
        var spec = new Approaches.PathNetSpec();
        var options = new Approaches.PathNetOptions();
        Assert.Equal((0.05, 0.01), (spec.TrainingDefaults(Networks.BackboneRegistry.Mlp, options).LearningRate, spec.TrainingDefaults(Networks.BackboneRegistry.AlexNet, options).LearningRate));
        Assert.Equal(1000, spec.TrainingDefaults(Networks.BackboneRegistry.AlexNet, options).ClipGradient);

        // Why: summing 3 modules per block compounds over AlexNet's five blocks.
        torch.manual_seed(0);
        using var x = torch.randn(64, 3, 32, 32);
        using var plain = Networks.NetworkFactory.Create(Networks.BackboneRegistry.AlexNet, [3, 32, 32], [10]);
        using var modular = Networks.PathNetModules.CreateNetwork(Networks.BackboneRegistry.AlexNet, [3, 32, 32], [10], 16, 3).Network;
        plain.eval();
        modular.eval();
        using var plainLogits = plain.Forward(x, 0);
        using var modularLogits = modular.Forward(x, 0);
        var ratio = modularLogits.std().item<float>() / plainLogits.std().item<float>();
        Assert.True(ratio > 5, $"PathNet's logits spread only {ratio:F1} times AlexNet's");
    }
}
