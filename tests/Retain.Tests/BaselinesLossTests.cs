using Retain.Approaches;
using Retain.Data;
using static TorchSharp.torch;

namespace Retain.Tests;

/// <summary>The baselines' objectives and merges on tensors small enough to check by hand.</summary>
public class BaselinesLossTests
{
    [Fact]
    public void LwfObjectiveIsCrossEntropyPlusLambTimesTheSoftenedDistillation()
    {
        // Current head of task 0: logits (0, 2 ln 3) at T = 2 soften to softmax(0, ln 3) = (1/4, 3/4).
        // θ_old's head of task 0: (2 ln 3, 0) at T = 2 gives the target p = (3/4, 1/4).
        // With the ε / K floor (ε = 1e-5, K = 2): r = ((1/4, 3/4) + 5e-6) / 1.00001.
        // KD = −(3/4 ln r0 + 1/4 ln r1) = 3/4 · 1.3862844 + 1/4 · 0.2876854 = 1.1116346.
        // Head of task 1: logits (0, 0), label 0: CE = ln 2 = 0.6931472.
        // L = CE + λ KD with λ = 2: 0.6931472 + 2 · 1.1116346 = 2.9164164.
        var ln3 = Math.Log(3);
        using var current = tensor(new[,] { { 0f, (float)(2 * ln3) } });
        using var old = tensor(new[,] { { (float)(2 * ln3), 0f } });
        using var logits = zeros(1, 2);
        using var labels = tensor(new long[] { 0 });

        var kd = -(0.75 * Math.Log((0.25 + 5e-6) / 1.00001) + 0.25 * Math.Log((0.75 + 5e-6) / 1.00001));
        Assert.Equal(1.1116346, kd, 6);
        Assert.Equal(kd, Lwf.Distillation(current, old, temperature: 2).item<float>(), 5);
        Assert.Equal(Math.Log(2) + 2 * kd, Lwf.Objective(nn.functional.cross_entropy(logits, labels), [(current, old)], lamb: 2, temperature: 2).item<float>(), 5);
        // Without earlier heads (task 0) the objective is the plain cross-entropy.
        Assert.Equal(Math.Log(2), Lwf.Objective(nn.functional.cross_entropy(logits, labels), [], lamb: 2, temperature: 2).item<float>(), 6);
    }

    [Fact]
    public void LflDistanceIsHalfTheSummedSquaredFeatureDifference()
    {
        // h − h_old = (0, 2; 3, 0): ½ (0 + 4 + 9 + 0) = 6.5, summed over samples and features, not averaged.
        using var features = tensor(new[,] { { 1f, 2f }, { 3f, 4f } });
        using var old = tensor(new[,] { { 1f, 0f }, { 0f, 4f } });
        Assert.Equal(6.5f, Lfl.FeatureDistance(features, old).item<float>());
    }

    [Fact]
    public void ImmModeMergeWeighsEachSideByItsFisher()
    {
        using var current = tensor(new[] { 1f, 2f, 3f, 4f });  // θ after training the new task
        using var old = tensor(new[] { 3f, 2f, 1f, 0f });      // θ_old, the merged model before it
        using var fisher = tensor(new[] { 1f, 0f, 3f, 0f });   // F, of the earlier tasks
        using var fresh = tensor(new[] { 1f, 2f, 1f, 0f });    // F_new, of the new task
        // (1·1 + 1·3)/2 = 2; (2·2 + 0·2)/2 = 2; (1·3 + 3·1)/4 = 1.5; no information on either side: θ stays 4.
        using var merged = ImmMode.Merge(current, old, fisher, fresh);
        Assert.Equal([2f, 2f, 1.5f, 4f], merged.data<float>().ToArray());
    }

    [Fact]
    public void RandomSampleFollowsNumpysLegacyStream()
    {
        // numpy: RandomState(0).random_sample(2) = [0.5488135039273248, 0.7151893663724195]
        var rng = new NumpyRandomState(0);
        Assert.Equal(0.5488135039273248, rng.RandomSample(), 15);
        Assert.Equal(0.7151893663724195, rng.RandomSample(), 15);
    }
}
