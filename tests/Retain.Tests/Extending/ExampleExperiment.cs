using Retain.Data;
using Retain.Experiments;
using Retain.Networks;

namespace Retain.Tests.Extending;

// docs/extending.md, "Add a dataset or experiment": Split MNIST, the digits as five two-class tasks.

/// <summary>
/// split-mnist: MNIST's digits as five tasks of two classes (0-1, 2-3, ... 8-9), in that order, each digit pair
/// relabelled 0 and 1, 10% of each task's training images held out for validation by the seed, on the MLP.
/// </summary>
public static class SplitMnist
{
    public static Benchmark Load(string dataDir, int seed)
    {
        // The full MNIST files where present, else the subset the suite fetches (Mnist.Load finds either).
        var (train, test, source) = Mnist.Load(dataDir);
        var (mean, std) = train.ChannelMeanAndStd();
        var tasks = new List<TaskData>();
        foreach (var pair in Enumerable.Range(0, 5))
        {
            bool InTask(byte label) => label / 2 == pair;
            byte Relabel(byte label) => (byte)(label % 2);
            using var full = train.Where(InTask, Relabel).ToNormalisedSplit(mean, std);
            var (trainSplit, validSplit) = ExperimentCatalog.ValidationSplit(full, 0.1, seed);
            tasks.Add(new TaskData($"mnist-{2 * pair}-{2 * pair + 1}", 2, trainSplit, validSplit,
                test.Where(InTask, Relabel).ToNormalisedSplit(mean, std)));
        }
        return new Benchmark("split-mnist", tasks, [1, 28, 28], source);
    }

    /// <summary>The catalog entry: <c>retain run -e split-mnist</c> and studies know the experiment from here on.</summary>
    public static readonly ExperimentEntry Entry = new("split-mnist", BackboneRegistry.Mlp, Load);

    private static readonly Lazy<bool> Registration = new(() =>
    {
        ExperimentCatalog.Register(Entry);
        return true;
    });

    /// <summary>Registers the experiment once per process.</summary>
    public static void Register() => _ = Registration.Value;
}

public class ExampleExperimentTests : TempFolderTests
{
    public ExampleExperimentTests() => SplitMnist.Register();

    [Fact]
    public void ItsTasksAreTheDigitPairs()
    {
        using var benchmark = ExperimentCatalog.Load("split-mnist", TestSupport.DataDir, seed: 0);
        Assert.Equal(["mnist-0-1", "mnist-2-3", "mnist-4-5", "mnist-6-7", "mnist-8-9"], benchmark.Tasks.Select(t => t.Name));
        Assert.All(benchmark.Tasks, t => Assert.Equal(2, t.ClassCount));
        Assert.Equal(BackboneRegistry.Mlp, ExperimentCatalog.DefaultBackbone("split-mnist"));
        // Every task's labels are 0 and 1 only, and the validation split is a tenth of the task's training images.
        foreach (var task in benchmark.Tasks)
        {
            Assert.Equal([0L, 1L], task.Test.Y.unique().output.to_type(TorchSharp.torch.ScalarType.Int64).data<long>().ToArray());
            Assert.Equal((task.Train.Count + task.Valid.Count) / 10, task.Valid.Count);
        }
    }

    [Fact]
    public void AnApproachLearnsEveryTaskOfIt()
    {
        var record = ExperimentRunner.Run(new RunConfig
        {
            Experiment = "split-mnist", Approach = "sgd", DataDir = TestSupport.DataDir, Output = Path.Combine(Folder, "sgd.txt"),
            Epochs = 4, BatchSize = 16, Limit = 200,
        });
        Assert.Equal("mlp", record.Network);
        // Two classes a task: chance is 0.5; each task is learnt when it is trained.
        for (var t = 0; t < 5; t++) Assert.True(record.Accuracy[t][t] > 0.8, $"task {t} after training it: {record.Accuracy[t][t]}");
    }

    [Fact]
    public void TheCommandLineRunsIt()
    {
        Assert.Equal(0, CliRunner.Run("run", "-e", "split-mnist", "-a", "ewc", "--nepochs", "1", "--limit", "40", "--test-mode", "2",
            "--data", TestSupport.DataDir, "--output", Path.Combine(Folder, "ewc.txt")).Code);
        Assert.Equal(5, File.ReadAllLines(Path.Combine(Folder, "ewc.txt")).Length);
    }
}
