using Retain.Experiments;
using Retain.Networks;
using Retain.Training;
using static TorchSharp.torch;

namespace Retain.Tests;

public class WeightInitAndLogsTests : TempFolderTests
{
    [Theory]
    [InlineData("kaiming:xavier", "kaiming,zeros:xavier,zeros")]
    [InlineData("xavier", "xavier,zeros:xavier,zeros")]
    [InlineData("normal,ones:uniform,zeros", "normal,ones:uniform,zeros")]
    public void ParsesTheSeedsGrammar(string text, string expected) => Assert.Equal(expected, WeightInit.Parse(text)!.ToString());

    [Theory]
    [InlineData("kaiming,xavier", "a bias has neither")]
    [InlineData("he:xavier", "unknown scheme 'he'")]
    [InlineData("a:b:c", "at most two parts")]
    public void BadGrammarNamesTheOption(string text, string problem)
    {
        var e = Assert.Throws<RetainException>(() => WeightInit.Parse(text));
        Assert.StartsWith("--weight-init", e.Message);
        Assert.Contains(problem, e.Message);
    }

    [Fact]
    public void KaimingConvolutionsAndXavierLinearsHaveTheirDistributions()
    {
        manual_seed(1);
        var net = NetworkFactory.Create(BackboneRegistry.AlexNet, [3, 32, 32], [10]);
        WeightInit.Parse("kaiming,ones:xavier")!.Apply(net);
        var p = net.named_parameters().ToDictionary(x => x.name, x => x.parameter);
        // He normal, fan-in 64*3*3 for c2: std sqrt(2/576).
        Assert.Equal(Math.Sqrt(2.0 / 576), p["backbone.c2.weight"].std().item<float>(), 2);
        Assert.Equal(1f, p["backbone.c2.bias"].min().item<float>());
        // Glorot uniform for fc2 (2048x2048): bound sqrt(6/4096), std bound/sqrt(3); biases zero; heads included.
        var bound = Math.Sqrt(6.0 / 4096);
        Assert.True(p["backbone.fc2.weight"].abs().max().item<float>() <= bound + 1e-6);
        Assert.Equal(bound / Math.Sqrt(3), p["backbone.fc2.weight"].std().item<float>(), 3);
        Assert.Equal(0f, p["last.0.bias"].abs().max().item<float>());
    }

    [Fact]
    public void LogPathWritesPerEpochLogsAndSaveModelAModelThatLoadsBack()
    {
        var dir = Folder;
        var output = Path.Combine(dir, "res", "mnist2_sgd_0.txt");
        var record = ExperimentRunner.Run(new RunConfig
        {
            Experiment = "mnist2", Approach = "sgd", DataDir = TestSupport.DataDir, Output = output, Epochs = 2,
            LogPath = Path.Combine(dir, "logs"), WeightInit = WeightInit.Parse("kaiming:xavier"), SaveModel = true,
        });

        var logs = Evaluation.ResultFiles.ReadRecord<RunLogs>(Path.Combine(dir, "logs", "mnist2_sgd_0_logs.json"));
        Assert.Equal(2, logs.LearningRate[0].Length);
        Assert.Equal(record.History.Where(e => e.Task == 1).Select(e => e.ValidLoss), logs.ValidLoss[1]);
        Assert.Equal([record.Accuracy[0][0], record.Accuracy[1][0]], logs.TestAcc[0]); // task 0 was tested twice
        Assert.Single(logs.TestAcc[1]);
        Assert.Empty(Directory.GetFiles(Path.Combine(dir, "logs"), "*.model*"));   // the model is kept beside the results, once

        var (description, approach) = KeptModel.Read(KeptModel.PathFor(output));
        using var _ = approach;
        using var network = approach.Model;
        Assert.Equal("sgd", description.Approach);
        using var mnist = Data.ExperimentCatalog.Load("mnist2", TestSupport.DataDir, 0);
        network.eval();
        using var __ = no_grad();
        var accuracy = network.Forward(mnist.Tasks[1].Test.X, 1).argmax(1).eq(mnist.Tasks[1].Test.Y).to_type(ScalarType.Float32).mean().item<float>();
        Assert.Equal(record.Accuracy[1][1], accuracy, 4);
    }

    [Fact]
    public void ACorruptModelFileIsAClearError()
    {
        var dir = Folder;
        File.WriteAllText(Path.Combine(dir, "m.model"), "not a kept model");
        var e = Assert.Throws<DataFileException>(() => KeptModel.Read(Path.Combine(dir, "m.model")));
        Assert.Contains("m.model", e.Message);
    }
}
