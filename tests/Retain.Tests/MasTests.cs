using Retain.Approaches;
using Retain.Data;
using Retain.Networks;
using Retain.Training;
using static TorchSharp.torch;

namespace Retain.Tests;

/// <summary>Memory Aware Synapses' importance and penalty against hand computations.</summary>
public class MasTests
{
    /// <summary>One dense block (W = I, b = 0, no dropout) and a head V = [[1, −1], [0, 1]], c = 0: F(x) = V relu(x) for x ≥ 0.</summary>
    private static MultiHeadNetwork Network()
    {
        var net = new MultiHeadNetwork(new Backbone(Architectures.Mlp([1, 1, 2], hidden: 2, depth: 1, dropout: 0.5), new Gating(), 1), [2]);
        using var _ = no_grad();
        foreach (var (name, p) in net.named_parameters())
            p.copy_(name switch
            {
                "backbone.fc1.weight" => eye(2),
                "last.0.weight" => tensor(new[,] { { 1f, -1f }, { 0f, 1f } }),
                _ => zeros_like(p),
            });
        return net;
    }

    private static void AssertEqual(float[] expected, Tensor actual) =>
        Assert.True(tensor(expected).allclose(actual.flatten(), rtol: 1e-6, atol: 1e-6), actual.ToString(TorchSharp.TensorStringStyle.Julia));

    [Fact]
    public void ImportanceIsTheMeanMagnitudeOfTheGradientOfTheOutputsSquaredNorm()
    {
        // ∂‖F‖²/∂F = 2F; g_V = 2F ⊗ h, g_c = 2F, g_b = Vᵀ 2F (both units active), g_W = g_b ⊗ x.
        // x1 = (1, 2): h = (1, 2), F = (−1, 2), 2F = (−2, 4): g_V = [[−2, −4], [4, 8]], g_c = (−2, 4), g_b = (−2, 6),
        //   g_W = [[−2, −4], [6, 12]].
        // x2 = (2, 1): h = (2, 1), F = (1, 1), 2F = (2, 2): g_V = [[4, 2], [4, 2]], g_c = (2, 2), g_b = (2, 0),
        //   g_W = [[4, 2], [0, 0]].
        var net = Network();
        using var data = new Split(tensor(new float[] { 1, 2, 2, 1 }).reshape(2, 1, 1, 2), tensor(new long[] { 0, 1 }));

        // The paper, per sample: Ω = (|g1| + |g2|) / 2. Evaluated in eval mode: the block's dropout of 0.5 is off.
        var perSample = Mas.Importance(net, 0, data, CPU, batchSize: 1);
        AssertEqual([3, 3, 4, 5], perSample["last.0.weight"]);
        AssertEqual([2, 3], perSample["last.0.bias"]);
        AssertEqual([3, 3, 3, 6], perSample["backbone.fc1.weight"]);
        AssertEqual([2, 3], perSample["backbone.fc1.bias"]);
        Assert.True(net.training, "the importance pass leaves the network in the mode it found");

        // The authors' code, one batch of two: |g1 + g2| / 2, smaller where the samples disagree in sign.
        var batch = Mas.Importance(net, 0, data, CPU, batchSize: 2);
        AssertEqual([1, 1, 4, 5], batch["last.0.weight"]);
        AssertEqual([0, 3], batch["last.0.bias"]);
        AssertEqual([1, 1, 3, 6], batch["backbone.fc1.weight"]);
        AssertEqual([0, 3], batch["backbone.fc1.bias"]);
    }

    [Fact]
    public void ImportanceAddsUpOverTasksAndThePenaltyPullsTowardsThePreviousSolution()
    {
        var net = Network();
        using var x = tensor(new float[] { 1, 2, 2, 1 }).reshape(2, 1, 1, 2);
        using var y = tensor(new long[] { 0, 1 });
        using var task = new TaskData("one", 2, new Split(x, y), new Split(x.clone(), y.clone()), new Split(x.clone(), y.clone()));
        using var mas = new Mas(new ApproachContext(net, new TrainingOptions { Epochs = 1, LearningRate = 0 }, CPU, new NumpyRandomState(0)),
            new MasOptions { Lambda = 3 });
        // lr 0: the task leaves the parameters as they are, so its importance is the one above, twice after two tasks.
        mas.Train(0, task, IgnoredEvents.Instance);
        AssertEqual([3, 3, 4, 5], mas.State.Importance!["last.0.weight"]);
        mas.Train(0, task, IgnoredEvents.Instance);
        AssertEqual([6, 6, 8, 10], mas.State.Importance["last.0.weight"]);

        // λ Σ Ω (θ − θ*)²: moving c by (0.5, −1) from θ* costs 3 (Ω_c = (4, 6)) · (4 · 0.25 + 6 · 1) = 21.
        using (no_grad()) net.named_parameters().Single(p => p.name == "last.0.bias").parameter.copy_(tensor(new[] { 0.5f, -1f }));
        using var penalty = (Tensor)typeof(Mas).GetMethod("Penalty", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!
            .Invoke(mas, [1])!;
        Assert.Equal(21f, penalty.item<float>(), 4);
    }

    [Fact]
    public void MasForgetsLessThanSgdOnConflictingTasks()
    {
        var sgd = EngineApproachTests.AccuracyOnFirstTaskAfterSecond(c => new Sgd(c));
        var mas = EngineApproachTests.AccuracyOnFirstTaskAfterSecond(c => new Mas(c, new MasOptions { Lambda = 1 }));
        Assert.True(mas > sgd + 0.05, $"mas {mas:P1} vs sgd {sgd:P1} on task 0 after task 1");
    }
}
