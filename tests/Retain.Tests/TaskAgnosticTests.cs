using Retain.Approaches;
using Retain.Data;
using Retain.Experiments;
using Retain.Networks;
using Retain.Networks.Dwa;
using Retain.Training;
using static TorchSharp.torch;

namespace Retain.Tests;

/// <summary>Evaluation without the task id: task predictors, DWA's anchors, and mixed-task batches.</summary>
public class TaskAgnosticTests(BaselinesSmallMnist mnist) : TempFolderTests, IClassFixture<BaselinesSmallMnist>
{
    [Fact]
    public void TheMostConfidentHeadNamesTheTask()
    {
        // Three samples, three tasks (heads of 2, 3 and 4 classes). Sample b is certain under head b (one logit of 10),
        // flat under the others; max-prob and entropy both pick task b.
        var logits = new[]
        {
            tensor(new float[,] { { 10, 0 }, { 0, 0 }, { 0, 0 } }),
            tensor(new float[,] { { 0, 0, 0 }, { 0, 10, 0 }, { 0, 0, 0 } }),
            tensor(new float[,] { { 0, 0, 0, 0 }, { 0, 0, 0, 0 }, { 0, 0, 10, 0 } }),
        };
        var predicted = TaskPredictors.Generic(logits);
        Assert.Equal([0L, 1, 2], predicted[TaskPredictors.MaxProbability].data<long>().ToArray());
        Assert.Equal([0L, 1, 2], predicted[TaskPredictors.Entropy].data<long>().ToArray());

        // Where they disagree: head 0 gives (0.7, 0.1, 0.1, 0.1): max 0.7, entropy -(0.7 ln 0.7 + 3 · 0.1 ln 0.1) = 0.940
        // nats; head 1 gives (0.65, 0.35): max 0.65, entropy -(0.65 ln 0.65 + 0.35 ln 0.35) = 0.647 nats. The most
        // probable class is under head 0, the most certain distribution under head 1.
        var p0 = tensor(new[] { 0.7f, 0.1f, 0.1f, 0.1f }).log().unsqueeze(0);
        var p1 = tensor(new[] { 0.65f, 0.35f }).log().unsqueeze(0);
        var split = TaskPredictors.Generic([p0, p1]);
        Assert.Equal(0, split[TaskPredictors.MaxProbability].item<long>());
        Assert.Equal(1, split[TaskPredictors.Entropy].item<long>());
    }

    [Fact]
    public void DwaPredictsTheTaskOfTheNearestStoredAnchor()
    {
        manual_seed(0);
        var options = new DwaOptions();
        var (network, masks) = DwaNetworkFactory.Create(Architectures.Mlp([1, 4, 4], hidden: 8), [2, 2, 2], options.Network with { EmbeddingSize = 5 });
        using var dwa = new Dwa(new ApproachContext(network, Dwa.Defaults with { Curriculum = Dwa.ScaledCurriculum(Dwa.Defaults.Epochs) }, CPU, new NumpyRandomState(0)), options, masks);
        float[][] anchors = [[1, 0, 0, 0, 0], [0, 1, 0, 0, 0], [0, 0, 0, 1, 1]];
        for (var t = 0; t < 3; t++) dwa.State.AnchorStore[t] = anchors[t];
        // Embeddings at the anchors, and near them: each is nearest to its own task's anchor.
        var embeddings = tensor(new float[,] { { 0, 0, 0, 1, 1 }, { 1, 0, 0, 0, 0 }, { 0.1f, 0.9f, 0, 0, 0.1f }, { 0, 0, 0.2f, 0.8f, 0.9f } });
        Assert.Equal([2L, 0, 1, 2], dwa.NearestAnchor(embeddings, 3).data<long>().ToArray());
        // Only learned tasks compete: with two, the third's anchor is not a candidate.
        Assert.Equal(1L, dwa.NearestAnchor(tensor(new float[,] { { 0, 0.4f, 0, 1, 1 } }), 2).item<long>());
    }

    [Fact]
    public void AMixedTaskBatchGivesEachSampleItsOwnTasksLogits()
    {
        manual_seed(1);
        var inputs = randn(6, 1, 28, 28);
        var taskIds = tensor(new long[] { 1, 0, 1, 1, 0, 1 });
        foreach (var network in new[]
        {
            NetworkFactory.Create(BackboneRegistry.Mlp, [1, 28, 28], [5, 3]),                 // features shared by the tasks
            HatUnitGates.CreateNetwork(BackboneRegistry.Mlp, [1, 28, 28], [5, 3]).Network,           // per-task gates: per-task passes
        })
        {
            network.eval();
            using var _ = no_grad();
            var mixed = network.Forward(inputs, taskIds);
            Assert.Equal([6L, 5], mixed.shape);
            for (var b = 0; b < 6; b++)
            {
                var task = (int)taskIds[b].item<long>();
                var own = network.Forward(inputs.narrow(0, b, 1), task)[0];
                Assert.True(mixed[b].narrow(0, 0, own.shape[0]).allclose(own, rtol: 1e-5, atol: 1e-6), $"sample {b}");
                // Classes beyond the task's head are -inf: cross-entropy and argmax see only the task's classes.
                Assert.All(mixed[b].narrow(0, own.shape[0], 5 - own.shape[0]).data<float>().ToArray(), v => Assert.Equal(float.NegativeInfinity, v));
            }
        }
    }

    public static TheoryData<string> Approaches => new(ApproachRegistry.All.Select(a => a.Name).Where(a => a != "random"));

    /// <summary>
    /// After the first task only that task can be predicted, so the prediction is forced right: every predictor's
    /// task-agnostic accuracy must equal the task-aware one (same logits, HAT's gates at smax included).
    /// </summary>
    [Theory]
    [MemberData(nameof(Approaches))]
    public void WithTheTaskForcedRightAgnosticAccuracyIsTheAwareOne(string approach)
    {
        var record = ExperimentRunner.Run(new RunConfig
        {
            Experiment = "mnist2", Approach = approach, Seed = 0, DataDir = mnist.DataDir, Output = Path.Combine(Folder, approach + ".txt"),
            Epochs = 1, BatchSize = 32, Limit = 60, TestMode = 1,
            Parameters = approach switch
            {
                "pathnet" => new Dictionary<string, string> { ["generations"] = "1" },
                "dwa" => new Dictionary<string, string> { ["emb_size"] = "8", ["processor_feats"] = "4,8" },
                _ => [],
            },
        });
        Assert.NotNull(record.Agnostic);
        Assert.Contains(record.AgnosticPredictor!, record.Agnostic!.Keys);
        foreach (var (predictor, matrices) in record.Agnostic)
        {
            Assert.Equal(record.Accuracy[0][0], matrices.Accuracy[0][0]);
            Assert.Equal(1.0, matrices.TaskAccuracy[0][0]);
        }
    }

    [Fact]
    public void TheRecordHoldsEveryPredictorAndTheSettingCanBeSwitchedOff()
    {
        RunConfig Config(string name, EvaluationSetting setting) => new()
        {
            Experiment = "mnist2", Approach = "sgd", Seed = 0, DataDir = mnist.DataDir, Output = Path.Combine(Folder, name + ".txt"),
            Epochs = 2, BatchSize = 32, Limit = 100, Evaluation = setting,
        };
        var both = ExperimentRunner.Run(Config("both", EvaluationSetting.Both));
        Assert.Equal([TaskPredictors.Entropy, TaskPredictors.MaxProbability], both.Agnostic!.Keys.Order());
        Assert.Equal(TaskPredictors.MaxProbability, both.AgnosticPredictor);
        // Without the task id accuracy can only drop: a sample counts only when its task is also predicted right.
        var agnostic = both.Agnostic[TaskPredictors.MaxProbability];
        for (var u = 0; u < 2; u++)
        {
            Assert.True(agnostic.Accuracy[1][u] <= agnostic.TaskAccuracy[1][u]);
            Assert.InRange(agnostic.TaskAccuracy[1][u], 0, 1);
        }
        var aware = ExperimentRunner.Run(Config("aware", EvaluationSetting.Aware));
        Assert.Null(aware.Agnostic);
        Assert.Equal(both.Accuracy, aware.Accuracy);
    }
}
