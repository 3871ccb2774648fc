using Retain.Approaches;
using Retain.Networks;
using Retain.Networks.Dwa;
using static TorchSharp.torch;

namespace Retain.Tests;

/// <summary>DWA's auxiliary losses against hand computations on tiny tensors (the DWA paper's eq. 3-6; docs/dwa.md), in both formulations.</summary>
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
    public void StiffnessRampsOverTheGivenEpochsAndStaysAtOneUnlessSeed()
    {
        Assert.Equal(0, DwaLosses.Stiffness(0, 4));
        Assert.Equal(0.5, DwaLosses.Stiffness(2, 4));
        Assert.Equal(1, DwaLosses.Stiffness(10, 4));
        Assert.Equal(1, DwaLosses.Stiffness(0, null));
        // The seed's e / stiff is never clamped.
        Assert.Equal(2.5, DwaLosses.Stiffness(10, 4, DwaFormulation.Seed));
        Assert.Equal(1, DwaLosses.Stiffness(10, null, DwaFormulation.Seed));
    }

    /// <summary>
    /// Every auxiliary term on one fixed batch of B = 2 samples, in the seed's formulas (the published run) and in the
    /// corrected ones, against arithmetic done by hand from the seed's code (utils.anchor_loss, sparsity_regularization,
    /// dwa_criterion) and from the paper's equations.
    /// </summary>
    [Fact]
    public void EveryTermOnOneBatchInBothFormulations()
    {
        // The batch: embeddings e0 = (0,0,0,0), e1 = (1,1,0,0); complexities c = (0, 0.75), so weights w = 1 - c = (1, 0.25).
        // Anchors P = (1,0,0,0), N = (0,2,0,0), N_T = (1,0.5,0,0); α = 2.5, δ = 0.5.
        var embeddings = tensor(new float[] { 0, 0, 0, 0, 1, 1, 0, 0 }).view(2, 4);
        var weights = tensor(new float[] { 1, 0.25f });
        var (p, n, nt) = (tensor(new float[] { 1, 0, 0, 0 }), tensor(new float[] { 0, 2, 0, 0 }), tensor(new float[] { 1, 0.5f, 0, 0 }));
        double Triplet(Tensor? taskNegative, DwaFormulation f) => Value(DwaLosses.Triplet(embeddings, p, n, taskNegative, 2.5, 0.5, weights, f));

        // Squared distances per sample: to P (1, 1), to N (4, 2), to N_T (1.25, 0.25).
        // Corrected, per sample: [d_P - d_N + α]_+ = ([1-4+2.5]_+, [1-2+2.5]_+) = (0, 1.5);
        //   δ [d_P - d_T + α]_+ = 0.5 (2.25, 3.25) = (1.125, 1.625); sums (1.125, 3.125);
        //   weighted (1.125, 0.78125), batch mean 0.953125. Without N_T: mean(0, 0.25 * 1.5) = 0.1875.
        Assert.Equal(0.953125, Triplet(nt, DwaFormulation.Corrected), 5);
        Assert.Equal(0.1875, Triplet(null, DwaFormulation.Corrected), 5);
        // Seed, whole-batch Frobenius norms: D_P = sqrt(1+1) = 1.41421356, D_N = sqrt(4+2) = 2.44948974,
        //   D_T = sqrt(1.25+0.25) = 1.22474487; [D_P - D_N + α]_+ = 1.46472382, [D_P - D_T + α]_+ = 2.68946869;
        //   ℓ = (1.46472382 + 0.5 * 2.68946869) / (1 + 0.5) = 1.87297211; times Σ_b w_b = 1.25: 2.34121514.
        //   Without N_T: ℓ = 1.46472382 (no division), times 1.25: 1.83090478.
        Assert.Equal(2.34121514, Triplet(nt, DwaFormulation.Seed), 5);
        Assert.Equal(1.83090478, Triplet(null, DwaFormulation.Seed), 5);

        // Ideal-embedding loss of task 1 of T = 2 with E = 4. Corrected code: ones on [floor(1*4/2), floor(2*4/2)) = [2,4),
        //   I = (0,0,1,1); seed code: ones on [int(1*2), int(1 + 2)) = [2,3), I = (0,0,1,0).
        // Corrected: mean_k (e - I)² = (2/4, 4/4) = (0.5, 1); weighted (0.5, 0.25); batch mean 0.375.
        // Seed: (1/4, 3/4) = (0.25, 0.75); weighted (0.25, 0.1875); batch sum 0.4375.
        foreach (var (f, code, expected) in new[] { (DwaFormulation.Corrected, new float[] { 0, 0, 1, 1 }, 0.375), (DwaFormulation.Seed, new float[] { 0, 0, 1, 0 }, 0.4375) })
        {
            using var taskCode = DwaLosses.TaskCode(1, 2, 4, CPU, f);
            Assert.Equal(code, taskCode.data<float>().ToArray());
            Assert.Equal(expected, Value(DwaLosses.TaskCodeDistance(embeddings, taskCode, weights, f)), 5);
        }

        // The two masked layers' masks of the two samples (tanh range) and the layers' Fisher diagonals.
        // Layer 0 (2x2 weight): sample 0 (0.5, -1, 0, 0.25), sample 1 (1, 1, -1, 1); F0 = (1, 2, 3, 4).
        // Layer 1 (1x2 weight): sample 0 (-0.5, 0.5), sample 1 (1, 0); F1 = (2, 6).
        var m0 = tensor(new float[] { 0.5f, -1, 0, 0.25f, 1, 1, -1, 1 }).view(2, 2, 2).requires_grad_();
        var m1 = tensor(new float[] { -0.5f, 0.5f, 1, 0 }).view(2, 1, 2).requires_grad_();
        var (f0, f1) = (tensor(new float[] { 1, 2, 3, 4 }).view(2, 2), tensor(new float[] { 2, 6 }).view(1, 2));
        MaskSummary[] Summaries() => [MaskMath.Summarise(m0, f0, MaskGate.Tanh), MaskMath.Summarise(m1, f1, MaskGate.Tanh)];

        // Plasticity, the same mean in both formulations (they differ in F, FisherDiagonalTests): mean_{b,w} |M| F:
        //   layer 0 (0.5 + 2 + 0 + 1 + 1 + 2 + 3 + 4) / 8 = 1.6875, layer 1 (1 + 3 + 2 + 0) / 4 = 1.5.
        //   η for 2 masked layers: 0.2 + 0.8 ℓ / 2 = (0.2, 0.6) (the seed's 0.2 + 0.8 ℓ / (5 - use_stem) on AlexNet,
        //   where 5 - use_stem is the number of masked layers): 0.2 * 1.6875 + 0.6 * 1.5 = 1.2375; unscaled 3.1875.
        Assert.Equal(1.2375, Value(DwaLosses.Attention(Summaries(), DwaLosses.LayerScales(2, scaled: true))), 5);
        Assert.Equal(3.1875, Value(DwaLosses.Attention(Summaries(), DwaLosses.LayerScales(2, scaled: false))), 5);

        // Sparsity with μ = 0.2. Mean |M| per sample: layer 0 (0.4375, 1), layer 1 (0.5, 0.5).
        // Corrected soft: layer 0 mean([0.2375, 0.8]) = 0.51875, layer 1 mean([0.3, 0.3]) = 0.3; total 0.81875.
        //   Gradient: sign(M) / (B n) on samples above μ: 1/8 in layer 0, 1/4 in layer 1 (both samples).
        // Corrected binary: in use (|M| >= 0.5): layer 0 (2/4, 4/4) -> (0.3, 0.8), mean 0.55; layer 1 (2/2, 1/2) ->
        //   (0.8, 0.3), mean 0.55; total 1.1, with the soft gradient (straight-through): the same as above.
        // Seed soft: the unused fraction 1 - mean|M|: layer 0 (0.5625, 0) -> (0.3625, 0), layer 1 (0.5, 0.5) -> (0.3, 0.3);
        //   summed over the batch: 0.3625 + 0.6 = 0.9625. Gradient -sign(M) / n on samples above μ: -1/4 on sample 0 of
        //   layer 0 (sample 1 is at 0), -1/2 on both samples of layer 1.
        // Seed binary: count(M ≠ 0) / n = 1 for gate outputs: 0.8 per sample and layer, summed: 4 * 0.8 = 3.2, no gradient.
        var softCorrected = new float[] { 0.125f, -0.125f, 0, 0.125f, 0.125f, 0.125f, -0.125f, 0.125f, -0.25f, 0.25f, 0.25f, 0 };
        var softSeed = new float[] { -0.25f, 0.25f, 0, -0.25f, 0, 0, 0, 0, 0.5f, -0.5f, -0.5f, 0 };
        foreach (var (f, binary, value, gradient) in new[]
        {
            (DwaFormulation.Corrected, false, 0.81875, softCorrected), (DwaFormulation.Corrected, true, 1.1, softCorrected),
            (DwaFormulation.Seed, false, 0.9625, softSeed), (DwaFormulation.Seed, true, 3.2, null),
        })
        {
            m0.grad?.zero_(); m1.grad?.zero_();
            var sparsity = DwaLosses.Sparsity(Summaries(), 0.2, binary, f);
            Assert.Equal(value, Value(sparsity), 5);
            if (gradient is null) { Assert.False(sparsity.requires_grad, "the seed's count has no gradient"); continue; }
            sparsity.backward();
            var actual = m0.grad!.flatten().data<float>().Concat(m1.grad!.flatten().data<float>()).ToArray();
            Assert.Equal(gradient, actual);
        }
    }

    [Fact]
    public void GradientsReachTheProcessorTheMaskGeneratorsAndTheMaskedWeights()
    {
        manual_seed(7);
        // A narrow AlexNet (conv masks from full generators, dense masks from factorised ones) and a narrow MLP.
        foreach (var (specs, input) in new[] { (Architectures.AlexNet([3, 32, 32], width: 0.1), new long[] { 3, 32, 32 }), (Architectures.Mlp([1, 28, 28], hidden: 24), [1, 28, 28]) })
        {
            var net = DwaNetworkFactory.Create(specs, [3, 3], new DwaNetworkOptions { EmbeddingSize = 6, BottleneckFeatures = 4, ProcessorFeatures = 8, Gate = MaskGate.Tanh }).Network;
            var gating = (DwaWeightMasks)net.Backbone.Gating;
            net.train();
            var importance = gating.MaskedLayers.ToDictionary(l => l, l => rand(gating.Spec(l).WeightShape));
            var context = new ForwardContext(1).With(new DwaForwardState { MaskImportance = importance });
            var logits = net.Forward(randn([4, .. input]), context);
            var summaries = gating.MaskedLayers.Select(l => context.Get<DwaForwardState>().MaskSummaries[l]).ToArray();
            var loss = nn.functional.cross_entropy(logits, tensor(new long[] { 0, 1, 2, 0 }))
                + DwaLosses.Triplet(context.Get<DwaForwardState>().EmbeddingOut!, rand(6), rand(6), rand(6), 1, 1, ones(4))
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
