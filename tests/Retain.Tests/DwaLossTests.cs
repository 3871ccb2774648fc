using Retain.Approaches;
using Retain.Networks;
using Retain.Networks.Dwa;
using static TorchSharp.torch;

namespace Retain.Tests;

/// <summary>DWA's auxiliary losses against hand computations on tiny tensors (approaches.md §15.4, corrected forms).</summary>
public class DwaLossTests
{
    private static double Value(Tensor t) => t.item<float>();

    [Fact]
    public void TripletUsesSquaredPerSampleDistancesWeightedBySimplicity()
    {
        // e0 = (0,0), e1 = (1,1); P = (1,0), N = (0,1), N_T = (1,0.5); α = 1, δ = 0.5; weights 1 - c = (1, 0.5).
        // d_P = (1, 1), d_N = (1, 1), d_T = (1.25, 0.25):
        // ℓ0 = [1-1+1] + 0.5 [1-1.25+1] = 1.375;  ℓ1 = [1-1+1] + 0.5 [1-0.25+1] = 1.875;  mean(1·1.375, 0.5·1.875) = 1.15625.
        var embeddings = tensor(new float[] { 0, 0, 1, 1 }).view(2, 2);
        var loss = DwaLosses.Triplet(embeddings, tensor(new float[] { 1, 0 }), tensor(new float[] { 0, 1 }), tensor(new float[] { 1, 0.5f }),
            margin: 1, taskNegativeWeight: 0.5, weights: tensor(new float[] { 1, 0.5f }));
        Assert.Equal(1.15625, Value(loss), 5);

        // Without a task negative only the first hinge remains: mean(1·1, 0.5·1) = 0.75.
        Assert.Equal(0.75, Value(DwaLosses.Triplet(embeddings, tensor(new float[] { 1, 0 }), tensor(new float[] { 0, 1 }), null, 1, 0.5, tensor(new float[] { 1, 0.5f }))), 5);
        // Far negatives: the hinge is 0.
        Assert.Equal(0, Value(DwaLosses.Triplet(embeddings, tensor(new float[] { 0.5f, 0.5f }), tensor(new float[] { 9, 9 }), null, 1, 1, ones(2))), 5);
    }

    [Fact]
    public void AttentionIsTheLayerScaledMeanOfMaskMagnitudeTimesFisher()
    {
        // Layer 0: masks of 2 samples x 2 x 2 entries (tanh range), Fisher F; layer 1: 2 samples x 1 x 2.
        var m0 = tensor(new float[] { 0.5f, -1, 0, 0.25f, 1, 1, -1, 1 }).view(2, 2, 2);
        var f0 = tensor(new float[] { 1, 2, 3, 4 }).view(2, 2);
        var m1 = tensor(new float[] { -0.5f, 0.5f, 1, 0 }).view(2, 1, 2);
        var f1 = tensor(new float[] { 2, 6 }).view(1, 2);
        var summaries = new[] { MaskMath.Summarise(m0, f0, MaskGate.Tanh), MaskMath.Summarise(m1, f1, MaskGate.Tanh) };
        // mean_{b,w} |M| F: layer 0 = (0.5 + 2 + 0 + 1 + 1 + 2 + 3 + 4) / 8 = 1.6875; layer 1 = (1 + 3 + 2 + 0) / 4 = 1.5.
        var scales = DwaLosses.LayerScales(2, scaled: true);
        Assert.Equal([0.2, 0.6], scales.Select(v => Math.Round(v, 10)));
        Assert.Equal(0.2 * 1.6875 + 0.6 * 1.5, Value(DwaLosses.Attention(summaries, scales)), 5);
        Assert.Equal(1.6875 + 1.5, Value(DwaLosses.Attention(summaries, DwaLosses.LayerScales(2, scaled: false))), 5);
        // The seed's η for AlexNet with one stem layer: 0.2, 0.4, 0.6, 0.8.
        Assert.Equal([0.2, 0.4, 0.6, 0.8], DwaLosses.LayerScales(4, scaled: true).Select(v => Math.Round(v, 10)));
    }

    [Fact]
    public void SoftSparsityPenalisesMeanMagnitudeAboveTheTarget()
    {
        // Sample 0: mean |M| = 0.15 (below μ = 0.2); sample 1: 0.6 -> [0.6 - 0.2]_+ = 0.4; batch mean 0.2.
        var masks = tensor(new float[] { 0.1f, -0.2f, 0.3f, 0, 0.9f, -0.9f, 0.5f, 0.1f }).view(2, 4).requires_grad_();
        var soft = DwaLosses.Sparsity([MaskMath.Summarise(masks, null, MaskGate.Tanh)], 0.2, binary: false);
        Assert.Equal(0.2, Value(soft), 5);
        soft.backward();
        // d/dM = (1/B)(1/n) sign(M) for samples above the target, 0 below.
        var expected = tensor(new float[] { 0, 0, 0, 0, 0.125f, -0.125f, 0.125f, 0.125f }).view(2, 4);
        Assert.True(masks.grad!.allclose(expected), masks.grad.ToString(TorchSharp.TensorStringStyle.Julia));
    }

    [Fact]
    public void TheSeedsSparsityMeasuresTheUnusedFraction()
    {
        // The seed's quirk: rho = mean(1 - |M|). Sample 0: 1 - 0.15 = 0.85 -> 0.65; sample 1: 1 - 0.6 = 0.4 -> 0.2;
        // summed over the batch as the seed did: 0.85.
        var masks = tensor(new float[] { 0.1f, -0.2f, 0.3f, 0, 0.9f, -0.9f, 0.5f, 0.1f }).view(2, 4);
        var seed = DwaLosses.Sparsity([MaskMath.Summarise(masks, null, MaskGate.Tanh)], 0.2, binary: false, seedMeasure: true);
        Assert.Equal(0.85, Value(seed), 5);
    }

    [Fact]
    public void BinarySparsityCountsEntriesInUseWithTheSoftGradient()
    {
        // In use (|M| >= 0.5): sample 0 none -> 0; sample 1 three of four -> 0.75 - 0.2 = 0.55; batch mean 0.275.
        var masks = tensor(new float[] { 0.1f, -0.2f, 0.3f, 0, 0.9f, -0.9f, 0.5f, 0.1f }).view(2, 4).requires_grad_();
        var binary = DwaLosses.Sparsity([MaskMath.Summarise(masks, null, MaskGate.Tanh, countActive: true)], 0.2, binary: true);
        Assert.Equal(0.275, Value(binary), 5);
        binary.backward();
        // Straight-through: the gradient of the soft fraction, where the counted fraction exceeds the target.
        var expected = tensor(new float[] { 0, 0, 0, 0, 0.125f, -0.125f, 0.125f, 0.125f }).view(2, 4);
        Assert.True(masks.grad!.allclose(expected), masks.grad.ToString(TorchSharp.TensorStringStyle.Julia));
    }

    [Fact]
    public void TaskCodesSliceTheEmbeddingIntoOneBlockPerTask()
    {
        float[] Code(int t) => DwaLosses.TaskCode(t, 3, 10, CPU).data<float>().ToArray();
        Assert.Equal(new float[] { 1, 1, 1, 0, 0, 0, 0, 0, 0, 0 }, Code(0));
        Assert.Equal(new float[] { 0, 0, 0, 1, 1, 1, 0, 0, 0, 0 }, Code(1));
        Assert.Equal(new float[] { 0, 0, 0, 0, 0, 0, 1, 1, 1, 1 }, Code(2));
        // mean_b w_b mean_k (e - I)²: e = code + 0.5 everywhere -> 0.25 per entry; weights (1, 0) -> 0.125.
        var code = DwaLosses.TaskCode(1, 3, 10, CPU);
        var embeddings = (code + 0.5).expand(2, 10);
        Assert.Equal(0.125, Value(DwaLosses.TaskCodeDistance(embeddings, code, tensor(new float[] { 1, 0 }))), 5);
    }

    [Fact]
    public void StiffnessRampsOverTheGivenEpochsAndStaysAtOne()
    {
        Assert.Equal(0, DwaLosses.Stiffness(0, 4));
        Assert.Equal(0.5, DwaLosses.Stiffness(2, 4));
        Assert.Equal(1, DwaLosses.Stiffness(10, 4));
        Assert.Equal(1, DwaLosses.Stiffness(0, null));
    }

    [Fact]
    public void GradientsReachTheProcessorTheMaskGeneratorsAndTheMaskedWeights()
    {
        manual_seed(7);
        // A narrow AlexNet (conv masks from full generators, dense masks from factorised ones) and a narrow MLP.
        foreach (var (specs, input) in new[] { (Architectures.AlexNet([3, 32, 32], width: 0.1), new long[] { 3, 32, 32 }), (Architectures.Mlp([1, 28, 28], hidden: 24), [1, 28, 28]) })
        {
            var net = DwaNetworkFactory.Create(specs, [3, 3], new DwaNetworkOptions { EmbeddingSize = 6, BottleneckFeatures = 4, ProcessorFeatures = 8, Gate = MaskGate.Tanh });
            var gating = (DwaWeightMasks)net.Backbone.Gating;
            net.train();
            var importance = gating.MaskedLayers.ToDictionary(l => l, l => rand(gating.Spec(l).WeightShape));
            var context = new ForwardContext(1) { MaskImportance = importance };
            var logits = net.Forward(randn([4, .. input]), context);
            var summaries = gating.MaskedLayers.Select(l => context.MaskSummaries[l]).ToArray();
            var loss = nn.functional.cross_entropy(logits, tensor(new long[] { 0, 1, 2, 0 }))
                + DwaLosses.Triplet(context.EmbeddingOut!, rand(6), rand(6), rand(6), 1, 1, ones(4))
                + DwaLosses.Attention(summaries, DwaLosses.LayerScales(summaries.Length, true))
                + DwaLosses.Sparsity(summaries, 0.0, binary: false);
            loss.backward();
            var expectGradient = net.named_parameters()
                .Where(p => p.name.StartsWith("backbone.gating.") || gating.MaskedLayers.Any(l => p.name == $"backbone.{l}.weight"))
                .ToArray();
            Assert.Contains(expectGradient, p => p.name.StartsWith("backbone.gating.processor."));
            Assert.Contains(expectGradient, p => p.name.StartsWith("backbone.gating.mask_"));
            foreach (var (name, p) in expectGradient)
                Assert.True(p.grad is { } g && g.abs().sum().item<float>() > 0, $"{name} received no gradient");
        }
    }
}
