using Retain.Approaches;
using Retain.Cli;
using Retain.Data;
using Retain.Evaluation;
using Retain.Experiments;
using Retain.Networks;
using Retain.Training;
using Spectre.Console;
using static TorchSharp.torch;

namespace Retain.Tests;

/// <summary>hat-test's compression curve, its result files, model saving and <c>retain inspect masks</c>, on tiny networks.</summary>
public class HatCompressionAndInspectionTests : TempFolderTests
{
    private static readonly byte[] PngSignature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    [Fact]
    public void CompressionCurveStartsWithEveryUnitInUseAndTheRegulariserFreesUnits()
    {
        using var oneThread = new HatTests.OneTorchThread();
        var (network, gates) = HatTests.TinyMlp(taskCount: 1, hidden: 16, HatEmbeddingInit.UniformZeroToTwo);
        using var task = HatTests.ToyTask(seed: 4, count: 256);
        using var hat = new HatTest(HatTests.Context(network, new TrainingOptions { Epochs = 3, BatchSize = 32 }), new HatTestOptions { Lamb = 4 }, gates);
        var history = hat.Train(0, task, IgnoredEvents.Instance);

        Assert.Equal(history.Count + 1, hat.Curve.Count);
        Assert.Equal(Enumerable.Range(0, hat.Curve.Count), hat.Curve.Select(p => p.Epoch));
        Assert.All(hat.Curve[0].Layers, l => Assert.Equal(1.0, l.UsedUnits));
        Assert.Equal(1.0, hat.Curve[0].UsedWeights);
        Assert.True(hat.Curve[^1].UsedWeights < 1, $"weights in use after training: {hat.Curve[^1].UsedWeights:P1}");
        Assert.All(hat.Curve, p => Assert.InRange(p.TestAccuracy, 0, 1));
        // Weights in use of a layer never exceed what its units allow: used(o,i) needs both units used.
        Assert.All(hat.Curve[^1].Layers, l => Assert.True(l.UsedWeights <= l.UsedUnits + 1e-12));
        Assert.Equal(16 * 4 + 16 * 16, hat.Curve[0].Layers.Sum(l => l.Weights));

        var dir = Folder;
        var record = new CompressionRecord
        {
            Experiment = "toy", Lamb = 4, Smax = 400, Network = "mlp", Training = hat.Options,
            Runs = [new CompressionRun(0, "toy4", hat.Curve.ToArray(), hat.Measure(0, task.Test, history.Count))],
        };
        CompressionExperiment.Write(Path.Combine(dir, "curve"), record);
        var csv = File.ReadAllLines(Path.Combine(dir, "curve.csv"));
        Assert.Equal("seed,task,epoch,test_accuracy,used_weights,fc1_units,fc1_weights,fc2_units,fc2_weights", csv[0]);
        Assert.Equal(hat.Curve.Count + 1, csv.Length);
        Assert.StartsWith("0,toy4,0,", csv[1]);
        Assert.Equal(PngSignature, File.ReadAllBytes(Path.Combine(dir, "curve.png")).Take(8));
        var json = ResultFiles.ReadRecord<CompressionRecord>(Path.Combine(dir, "curve.json"));
        Assert.Equal(hat.Curve.Count, json.Runs[0].Curve.Count);
    }

    /// <summary>
    /// A hat model kept as <c>retain run --save-model</c> keeps it (here straight from a network whose embeddings are set
    /// by hand) loads back with the same weights, and <c>inspect masks</c> reports the units each task uses and their
    /// overlap, and draws one heat map per layer.
    /// </summary>
    [Fact]
    public void KeptHatModelIsRebuiltAndInspected()
    {
        var setup = new HatSpec().With(new HatOptions { Smax = 200 });
        var prepared = setup.Prepare(BackboneRegistry.Mlp, new NetworkShape([1, 28, 28], [5, 5]));
        using var network = prepared.Network;
        using var hat = prepared.Create(new ApproachContext(network, new TrainingOptions(), CPU, new NumpyRandomState(0)));
        using (no_grad())
        {
            // Task 0 uses the first 1000 units of each layer, task 1 units 500..1999: 500 shared of 2000.
            foreach (var table in ((HatUnitGates)network.Backbone.Gating).Embeddings)
            {
                table[0].fill_(-1); table[0, ..1000].fill_(1);
                table[1].fill_(-1); table[1, 500..].fill_(1);
            }
        }
        var dir = Folder;
        var run = Path.Combine(dir, "mnist2_hat_0.txt");
        KeptModel.Write(KeptModel.PathFor(run), hat, Record("mnist2", "hat", ["mnist-0-4", "mnist-5-9"], [5, 5], [1, 28, 28], setup.OptionValues, network.ParameterCount));

        var (description, approach) = KeptModel.Read(KeptModel.PathFor(run));
        using (approach)
        using (var loaded = approach.Model)
        {
            Assert.Equal("200", description.Options["smax"]);
            Assert.Equal(2, description.TasksTrained);
            var original = network.CopyParameters();
            var copy = loaded.CopyParameters();
            Assert.Equal(original.Keys, copy.Keys);
            Assert.All(original, p => Assert.True(p.Value.equal(copy[p.Key]).all().item<bool>(), p.Key));
            ParameterSet.DisposeAll(original);
            ParameterSet.DisposeAll(copy);

            var inspection = MaskInspection.Of((HatUnitGates)loaded.Backbone.Gating, description.TaskNames, 200);
            var fc2 = inspection.Layers[1];
            Assert.Equal([0.5, 0.75], fc2.Used);
            Assert.Equal(1.0, fc2.UsedByAny);
            Assert.Equal(500.0 / 2000, fc2.Overlap[0, 1], 12);
        }

        var (code, output) = RunCli("inspect", "masks", run);
        Assert.Equal(0, code);
        Assert.Contains("fc1", output);
        Assert.Contains("75.0", output);   // task 1 uses 75% of the units
        Assert.Contains("0.25", output);   // Jaccard of the two tasks' units
        foreach (var layer in new[] { "fc1", "fc2" })
            Assert.Equal(PngSignature, File.ReadAllBytes(Path.Combine(dir, $"mnist2_hat_0_masks_{layer}.png")).Take(8));
    }

    /// <summary>A two-task run's record, as a complete run of it would have it (for a model kept by hand).</summary>
    private static RunRecord Record(string experiment, string approach, string[] tasks, int[] classes, int[] inputSize, IReadOnlyList<OptionInfo> options, long parameters) => new()
    {
        Experiment = experiment, Approach = approach, Seed = 0, Device = "cpu", DataSource = "", TaskNames = tasks,
        ClassCounts = classes, InputSize = inputSize, Training = new TrainingOptions(), Network = "mlp", ParameterCount = parameters,
        Parameters = options.ToDictionary(o => o.Name, o => o.Value),
        Accuracy = [], Loss = [], AccuracyBeforeTraining = [], History = [], TasksCompleted = tasks.Length,
    };

    [Fact]
    public void InspectMasksExplainsWhatItNeeds()
    {
        var dir = Folder;
        var (code, error) = RunCliError("inspect", "masks", Path.Combine(dir, "none.txt"));
        Assert.Equal(2, code);
        Assert.Contains("none.txt: no such run", error);

        var setup = new SgdSpec().With(new NoOptions());
        var prepared = setup.Prepare(BackboneRegistry.Mlp, new NetworkShape([1, 2, 2], [2]));
        using var network = prepared.Network;
        using var sgd = prepared.Create(new ApproachContext(network, new TrainingOptions(), CPU, new NumpyRandomState(0)));
        var run = Path.Combine(dir, "toy_sgd_0.txt");
        KeptModel.Write(KeptModel.PathFor(run), sgd, Record("toy", "sgd", ["toy"], [2], [1, 2, 2], [], network.ParameterCount));
        (code, error) = RunCliError("inspect", "masks", run);
        Assert.Equal(2, code);
        Assert.Contains("is a sgd model; task masks exist in hat and hat-test models", error);
    }

    [Theory]
    [InlineData("--seed: expected a seed", "compress", "--experiment", "mnist2", "--seed", "0,x")]
    [InlineData("--smax must be at least 1", "compress", "--experiment", "mnist2", "--smax", "0")]
    [InlineData("--experiment is required", "compress")]
    [InlineData("--approach: unknown approach", "run", "--experiment", "mnist2", "--approach", "hatt")]
    [InlineData("--thres-emb: not an option of hat-test", "run", "--experiment", "mnist2", "--approach", "hat-test", "--thres-emb", "3")]
    public void BadCompressOptionsGiveOneLineAndExitCode2(string expected, params string[] args)
    {
        var (code, error) = RunCliError(args);
        Assert.Equal(2, code);
        Assert.Contains(expected, error);
        Assert.Single(error.TrimEnd().Split('\n'));
    }

    private static (int Code, string Output) RunCli(params string[] args)
    {
        var result = CliRunner.Run(args);
        return (result.Code, result.Output);
    }

    private static (int Code, string Error) RunCliError(params string[] args)
    {
        var result = CliRunner.Run(args);
        return (result.Code, result.Error);
    }
}
