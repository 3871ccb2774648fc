using Retain.Approaches;
using Retain.Data;
using Retain.Networks;
using Retain.Training;
using static TorchSharp.torch;

namespace Retain.Tests;

/// <summary>Synaptic Intelligence's path integral, its normalisation and its effect, against hand computations.</summary>
public class SiTests
{
    private static void AssertClose(double[] expected, Tensor actual, double tolerance = 1e-6) =>
        Assert.True(tensor(expected).to_type(ScalarType.Float32).allclose(actual.flatten(), rtol: 1e-5, atol: tolerance),
            $"expected [{string.Join(", ", expected)}], got {actual.ToString(TorchSharp.TensorStringStyle.Julia)}");

    [Fact]
    public void ConsolidationDividesThePathIntegralBySquaredTravelPlusXiAndClipsAtZero()
    {
        // ω = (2, −1, 0.5, 0.3), Δ = (1, 0.5, 0, 0.1), ξ = 0.1:
        // 2/(1 + 0.1) = 1.818182; −1/(0.25 + 0.1) < 0 → 0; 0.5/(0 + 0.1) = 5; 0.3/(0.01 + 0.1) = 2.727273.
        using var omega = tensor(new[] { 2f, -1f, 0.5f, 0.3f });
        using var delta = tensor(new[] { 1f, 0.5f, 0f, 0.1f });
        using var first = Si.Consolidate(null, omega, delta, xi: 0.1);
        AssertClose([2 / 1.1, 0, 5, 0.3 / 0.11], first);

        // Added to the importance so far, and the sum clipped (the authors' relu of the sum, not of each term):
        // (1 + 1.818182, 4 − 2.857143, 0 + 5, 1 + 2.727273) with earlier Ω = (1, 4, 0, 1); an earlier Ω of 2 and the
        // second term −2.857143 would leave 0.
        using var earlier = tensor(new[] { 1f, 4f, 0f, 1f });
        using var summed = Si.Consolidate(earlier, omega, delta, xi: 0.1);
        AssertClose([1 + 2 / 1.1, 4 - 1 / 0.35, 5, 1 + 0.3 / 0.11], summed);
        using var small = tensor(new[] { 0f, 2f, 0f, 0f });
        Assert.Equal(0f, Si.Consolidate(small, omega, delta, xi: 0.1)[1].item<float>());
    }

    [Fact]
    public void ThePathIntegralSumsMinusGradientTimesUpdateOverTheStepsAndIsNormalisedAtTheTaskEnd()
    {
        // One dense block of 2 units (W = I, b = 0, no dropout) and a zero head (V = 0, c = 0); two copies of the
        // sample x = (1, 2) with label 0, batches of one, lr 0.1, one epoch: two SGD steps, with no clipping.
        // Step 1: h = x, z = 0, p = (½, ½), dz = p − e0 = (−½, ½): g_V = dz ⊗ h, g_c = dz, g_W = g_b = 0 (V = 0).
        // Step 2, after V ← −0.1 g_V, c ← −0.1 g_c: z = (0.3, −0.3), dz = (σ(0.6) − 1, 1 − σ(0.6)) = (−a, a);
        // g_V = dz ⊗ h, g_c = dz, Vᵀ dz = (−0.1 a, −0.2 a) = g_b, g_W = g_b ⊗ x.
        // With plain SGD δ = −lr g, so ω = Σ −g δ = lr Σ g²; the task's travel Δ = −lr (g1 + g2); Ω = ω / (Δ² + ξ).
        var net = new MultiHeadNetwork(new Backbone(Architectures.Mlp([1, 1, 2], hidden: 2, depth: 1, dropout: 0), new Gating(), 1), [2]);
        using (no_grad())
            foreach (var (name, p) in net.named_parameters()) p.copy_(name == "backbone.fc1.weight" ? eye(2) : zeros_like(p));
        using var x = tensor(new float[] { 1, 2, 1, 2 }).reshape(2, 1, 1, 2);
        using var y = tensor(new long[] { 0, 0 });
        using var task = new TaskData("one", 2, new Split(x, y), new Split(x.clone(), y.clone()), new Split(x.clone(), y.clone()));
        const double lr = 0.1, xi = 0.1;
        using var si = new Si(new ApproachContext(net, new TrainingOptions { Epochs = 1, BatchSize = 1, LearningRate = lr }, CPU, new NumpyRandomState(0)),
            new SiOptions { Lambda = 1, Xi = xi });
        si.Train(0, task, IgnoredEvents.Instance);

        var a = 1 - 1 / (1 + Math.Exp(-0.6));
        double[] h = [1, 2];
        var step1 = new Dictionary<string, double[]>
        {
            ["last.0.weight"] = [-0.5 * h[0], -0.5 * h[1], 0.5 * h[0], 0.5 * h[1]], ["last.0.bias"] = [-0.5, 0.5],
            ["backbone.fc1.weight"] = [0, 0, 0, 0], ["backbone.fc1.bias"] = [0, 0],
        };
        var step2 = new Dictionary<string, double[]>
        {
            ["last.0.weight"] = [-a * h[0], -a * h[1], a * h[0], a * h[1]], ["last.0.bias"] = [-a, a],
            ["backbone.fc1.weight"] = [-0.1 * a * 1, -0.1 * a * 2, -0.2 * a * 1, -0.2 * a * 2], ["backbone.fc1.bias"] = [-0.1 * a, -0.2 * a],
        };
        foreach (var (name, g1) in step1)
        {
            var g2 = step2[name];
            var omega = g1.Select((g, i) => lr * (g * g + g2[i] * g2[i])).ToArray();
            var delta = g1.Select((g, i) => -lr * (g + g2[i])).ToArray();
            AssertClose(omega, si.State.PathIntegral![name]);
            AssertClose(omega.Select((w, i) => w / (delta[i] * delta[i] + xi)).ToArray(), si.State.Importance![name]);
        }
    }

    [Fact]
    public void SiForgetsLessThanSgdOnConflictingTasks()
    {
        var sgd = EngineApproachTests.AccuracyOnFirstTaskAfterSecond(c => new Sgd(c));
        var si = EngineApproachTests.AccuracyOnFirstTaskAfterSecond(c => new Si(c, new SiOptions { Lambda = 10 }));
        Assert.True(si > sgd + 0.05, $"si {si:P1} vs sgd {sgd:P1} on task 0 after task 1");
    }
}
