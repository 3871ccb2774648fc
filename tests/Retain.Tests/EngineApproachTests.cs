using Retain.Approaches;
using Retain.Data;
using Retain.Experiments;
using Retain.Networks;
using Retain.Training;
using static TorchSharp.torch;

namespace Retain.Tests;

public class EngineApproachTests : TempFolderTests
{
    /// <summary>A network of one dense block (identity weights, no dropout) and one head, so gradients are hand-computable.</summary>
    private static MultiHeadNetwork IdentityNetwork()
    {
        var net = new MultiHeadNetwork(new Backbone(Architectures.Mlp([1, 1, 2], hidden: 2, depth: 1, dropout: 0), new Gating(), 1), [2]);
        using var _ = no_grad();
        foreach (var (name, p) in net.named_parameters())
            p.copy_(name == "backbone.fc1.weight" ? eye(2) : zeros_like(p));
        return net;
    }

    [Fact]
    public void FisherDiagonalMatchesAHandComputation()
    {
        // h = relu(I x) = x for positive x; the head is zero, so p = (0.5, 0.5) and dCE/dz = p - onehot(y).
        // x1 = (1,2), y1 = 0: g_W = [[-0.5,-1],[0.5,1]], g_b = (-0.5,0.5).  x2 = (3,1), y2 = 1: g_W = [[1.5,0.5],[-1.5,-0.5]], g_b = (0.5,-0.5).
        // The backbone gets W_head^T (p - y) = 0: no Fisher there.
        var net = IdentityNetwork();
        using var data = new Split(tensor(new float[] { 1, 2, 3, 1 }).reshape(2, 1, 1, 2), tensor(new long[] { 0, 1 }));
        Tensor Loss(Tensor x, Tensor y) => nn.functional.cross_entropy(net.Forward(x, 0), y);

        // Batches of one: F = (g1^2 + g2^2) / 2.
        var single = FisherDiagonal.Compute(net, data, CPU, Loss, batchSize: 1);
        Assert.Equal(new[] { 1.25f, 0.625f, 1.25f, 0.625f }, single["last.0.weight"].data<float>().ToArray());
        Assert.Equal(new[] { 0.25f, 0.25f }, single["last.0.bias"].data<float>().ToArray());
        Assert.All(single["backbone.fc1.weight"].data<float>().ToArray(), v => Assert.Equal(0f, v));

        // One batch of two: the batch-mean gradient [[0.5,-0.25],[-0.5,0.25]] squared, times 2, over N = 2; bias mean 0.
        var batch = FisherDiagonal.Compute(net, data, CPU, Loss, batchSize: 2);
        Assert.Equal(new[] { 0.25f, 0.0625f, 0.25f, 0.0625f }, batch["last.0.weight"].data<float>().ToArray());
        Assert.Equal(new[] { 0f, 0f }, batch["last.0.bias"].data<float>().ToArray());
    }

    [Fact]
    public void DwasSeedFisherSquaresTheRunningSumOfGradients()
    {
        // Same network; three samples in batches of 2: a = {x1 = (1,2) y 0, x2 = (3,1) y 1}, b = {x3 = (2,2) y 0}.
        // Head-weight gradients (p - onehot(y)) ⊗ x with p = (0.5, 0.5): g_a = mean of [[-0.5,-1],[0.5,1]] and
        // [[1.5,0.5],[-1.5,-0.5]] = [[0.5,-0.25],[-0.5,0.25]]; g_b = [[-1,-1],[1,1]]. Bias: g_a = (0,0), g_b = (-0.5,0.5).
        // The last training step left the gradient of x0 = (2,0), y 0: s0 = [[-1,0],[1,0]], bias (-0.5,0.5).
        var net = IdentityNetwork();
        using var data = new Split(tensor(new float[] { 1, 2, 3, 1, 2, 2 }).reshape(3, 1, 1, 2), tensor(new long[] { 0, 1, 0 }));
        Tensor Loss(Tensor x, Tensor y) => nn.functional.cross_entropy(net.Forward(x, 0), y);
        void LeaveStaleGradient() => Loss(tensor(new float[] { 2, 0 }).reshape(1, 1, 1, 2), tensor(new long[] { 0 })).backward();

        // Seed: S1 = s0 + g_a = [[-0.5,-0.25],[0.5,0.25]], S2 = S1 + g_b = [[-1.5,-1.25],[1.5,1.25]];
        // F = 2 (S1² + S2²) / 3 (every batch weighted by the batch size 2) = 2 [[2.5,1.625],[2.5,1.625]] / 3.
        // Bias: S1 = (-0.5,0.5), S2 = (-1,1): F = 2 (0.25 + 1) / 3 = 0.8333.
        LeaveStaleGradient();
        var seed = FisherDiagonal.Compute(net, data, CPU, Loss, batchSize: 2, FisherAccumulation.SeedRunningSum);
        AssertClose([5f / 3, 13f / 12, 5f / 3, 13f / 12], seed["last.0.weight"]);
        AssertClose([5f / 6, 5f / 6], seed["last.0.bias"]);

        // Per batch, gradients zeroed first (the stale one is ignored), each batch weighted by its size:
        // F = (2 g_a² + 1 g_b²) / 3 = ([[0.5,0.125],[0.5,0.125]] + [[1,1],[1,1]]) / 3; bias (0 + 0.25) / 3.
        LeaveStaleGradient();
        var perBatch = FisherDiagonal.Compute(net, data, CPU, Loss, batchSize: 2);
        AssertClose([0.5f, 0.375f, 0.5f, 0.375f], perBatch["last.0.weight"]);
        AssertClose([1f / 12, 1f / 12], perBatch["last.0.bias"]);

        static void AssertClose(float[] expected, Tensor actual) =>
            Assert.True(tensor(expected).allclose(actual.flatten(), rtol: 1e-6, atol: 1e-7), actual.ToString(TorchSharp.TensorStringStyle.Julia));
    }

    [Fact]
    public void FisherMergesAsARunningMeanOrASum()
    {
        Dictionary<string, Tensor> F(float v) => new() { ["w"] = tensor(new[] { v }) };
        // After task 2: (F_new + 2 F_old) / 3 = (9 + 2*3) / 3 = 5.
        Assert.Equal(5f, FisherDiagonal.MergeMean(F(3), F(9), task: 2)["w"].item<float>());
        Assert.Equal(9f, FisherDiagonal.MergeMean(null, F(9), task: 0)["w"].item<float>());
        Assert.Equal(12f, FisherDiagonal.MergeSum(F(3), F(9))["w"].item<float>());
    }

    [Fact]
    public void EwcPenaltyIsHalfLambdaTimesTheFisherWeightedSquaredDistance()
    {
        var net = IdentityNetwork();
        using var ewc = new Ewc(new ApproachContext(net, Ewc.Defaults, CPU, new NumpyRandomState(0)), new EwcOptions { Lambda = 4 });
        ewc.State.OldParameters = net.CopyParameters();
        ewc.State.Fisher = net.named_parameters().ToDictionary(p => p.name, p => zeros_like(p.parameter));
        ewc.State.Fisher["last.0.bias"] = tensor(new[] { 3f, 0f });
        using (no_grad()) net.named_parameters().First(p => p.name == "last.0.bias").parameter.copy_(tensor(new[] { 0.5f, 7f }));
        // lamb/2 * F * d^2 = 2 * 3 * 0.25 = 1.5 (the second entry has F = 0).
        var loss = typeof(Ewc).GetMethod("Penalty", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!
            .Invoke(ewc, [1]) as Tensor;
        Assert.Equal(1.5f, loss!.item<float>(), 5);
    }

    /// <summary>
    /// Two tasks that compete for a two-unit hidden layer: task 0 labels by the sign of x.a, task 1 by the sign of
    /// x.b with b orthogonal to a. Fine-tuning on task 1 turns the hidden units towards b.
    /// </summary>
    internal static List<TaskData> ConflictingTasks()
    {
        manual_seed(11);
        var a = randn(20); var b = randn(20);
        b = b - a * (b.dot(a) / a.dot(a));
        var tasks = new List<TaskData>();
        foreach (var (name, direction) in new[] { ("a", a), ("b", b) })
        {
            Split Make(int n) { var x = randn(n, 1, 4, 5); return new Split(x, (x.flatten(1).matmul(direction) > 0).to_type(ScalarType.Int64)); }
            tasks.Add(new TaskData(name, 2, Make(400), Make(200), Make(400)));
        }
        return tasks;
    }

    internal static double AccuracyOnFirstTaskAfterSecond(Func<ApproachContext, Approach> create)
    {
        var tasks = ConflictingTasks();
        manual_seed(0);
        var net = new MultiHeadNetwork(new Backbone(Architectures.Mlp([1, 4, 5], hidden: 2, depth: 1, dropout: 0), new Gating(), 2), [2, 2]);
        using var approach = create(new ApproachContext(net, new TrainingOptions { Epochs = 15, LearningRate = 0.05, BatchSize = 32, ClipGradient = 100 }, CPU, new NumpyRandomState(0)));
        approach.Train(0, tasks[0], IgnoredEvents.Instance);
        var before = approach.Evaluate(0, tasks[0].Test).Accuracy;
        Assert.True(before > 0.85, $"task 0 learned: {before}");
        approach.Train(1, tasks[1], IgnoredEvents.Instance);
        return approach.Evaluate(0, tasks[0].Test).Accuracy;
    }

    [Fact]
    public void EwcForgetsLessThanSgdOnConflictingTasks()
    {
        // lamb is scaled to this tiny network's Fisher values (lr * lamb * F must stay well below 2 for SGD to be stable).
        var sgd = AccuracyOnFirstTaskAfterSecond(c => new Sgd(c));
        var ewc = AccuracyOnFirstTaskAfterSecond(c => new Ewc(c, new EwcOptions { Lambda = 1000 }));
        Assert.True(ewc > sgd + 0.05, $"ewc {ewc:P1} vs sgd {sgd:P1} on task 0 after task 1");
    }

    [Fact]
    public void SgdFrozenLeavesTheSharedLayersUnchangedAfterTheFirstTask()
    {
        var tasks = ConflictingTasks();
        manual_seed(0);
        var net = new MultiHeadNetwork(new Backbone(Architectures.Mlp([1, 4, 5], hidden: 8, depth: 2), new Gating(), 2), [2, 2]);
        using var frozen = new SgdFrozen(new ApproachContext(net, new TrainingOptions { Epochs = 2 }, CPU, new NumpyRandomState(0)));
        frozen.Train(0, tasks[0], IgnoredEvents.Instance);
        var after0 = net.CopyParameters();
        frozen.Train(1, tasks[1], IgnoredEvents.Instance);
        foreach (var (name, p) in net.named_parameters())
        {
            var same = p.eq(after0[name]).all().item<bool>();
            if (name.StartsWith("last.1.", StringComparison.Ordinal)) Assert.False(same, $"{name} should train");
            else Assert.True(same, $"{name} changed");
        }
    }

    [Fact]
    public void JointTrainsOnEverythingSeenSoFar()
    {
        var tasks = ConflictingTasks();
        var net = new MultiHeadNetwork(new Backbone(Architectures.Mlp([1, 4, 5], hidden: 8, depth: 1), new Gating(), 2), [2, 2]);
        using var joint = new Joint(new ApproachContext(net, new TrainingOptions { Epochs = 1 }, CPU, new NumpyRandomState(0)) { Tasks = tasks });
        joint.Train(0, tasks[0], IgnoredEvents.Instance);
        Assert.Equal(400, joint.TrainingSamples);
        joint.Train(1, tasks[1], IgnoredEvents.Instance);
        Assert.Equal(800, joint.TrainingSamples);
    }

    [Fact]
    public void RandomGuessDrawsItsLabelsFromTheTrainingLabels()
    {
        // Training labels 90% class 0, 10% class 1, 10% class 2 of three: a guess drawn from them is right with
        // probability sum_c p_train(c) p_test(c). Test labels 80/10/10: 0.8*0.8 + 0.1*0.1 + 0.1*0.1 = 0.66; a uniform
        // guess would score 1/3, and guessing the majority class 0.8.
        Split Labelled(int n, double first)
        {
            var labels = Enumerable.Range(0, n).Select(i => i < first * n ? 0L : i % 2 == 0 ? 1L : 2L).ToArray();
            return new Split(zeros(n, 1, 4, 5), tensor(labels));
        }
        using var task = new TaskData("imbalanced", 3, Labelled(1000, 0.8), Labelled(10, 0.8), Labelled(4000, 0.8));
        var net = new MultiHeadNetwork(new Backbone(Architectures.Mlp([1, 4, 5], hidden: 2, depth: 1), new Gating(), 2), [3]);
        using var random = new RandomGuess(new ApproachContext(net, new TrainingOptions(), CPU, new NumpyRandomState(0)));
        Assert.Empty(random.Train(0, task, IgnoredEvents.Instance));
        // 4000 guesses: the standard error of the mean is sqrt(0.66 * 0.34 / 4000) = 0.0075.
        Assert.InRange(random.Evaluate(0, task.Test).Accuracy, 0.66 - 0.03, 0.66 + 0.03);
    }

    [Theory]
    [InlineData("sgd-restart")]
    [InlineData("sgd-frozen")]
    [InlineData("joint")]
    [InlineData("random")]
    [InlineData("ewc")]
    public void RunsTwoTasksOfMnist2(string approach)
    {
        var output = Path.Combine(Folder, "acc.txt");
        var record = ExperimentRunner.Run(new RunConfig
        {
            Experiment = "mnist2", Approach = approach, DataDir = TestSupport.DataDir, Output = output, Epochs = 1,
        });
        Assert.Equal(2, record.TasksCompleted);
        var chance = approach == "random" ? 0.1 : 0.5;
        Assert.All(new[] { record.Accuracy[1][1], record.Accuracy[0][0] }, a => Assert.True(a > chance, $"{approach}: {a}"));
    }
}
