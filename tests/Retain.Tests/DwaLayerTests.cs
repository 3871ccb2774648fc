using Retain.Networks;
using Retain.Networks.Dwa;
using TorchSharp;
using static TorchSharp.torch;

namespace Retain.Tests;

/// <summary>DWA's masked layers against the per-sample loop, and the DWA network's geometry (docs/dwa.md).</summary>
public class DwaLayerTests
{
    private static void AssertClose(Tensor expected, Tensor actual, double tolerance = 1e-4, string what = "")
    {
        Assert.Equal(expected.shape, actual.shape);
        var diff = (expected - actual).abs().max().item<float>();
        var scale = Math.Max(1, expected.abs().max().item<float>());
        Assert.True(diff <= tolerance * scale, $"{what}: max difference {diff} (scale {scale})");
    }

    /// <summary>Gradients of Σ y ⊙ probe (a fixed random probe, so every output entry matters differently).</summary>
    private static Tensor[] Gradients(Tensor y, Tensor probe, params Tensor[] inputs)
    {
        foreach (var t in inputs) t.grad?.zero_();
        (y * probe).sum().backward();
        return inputs.Select(t => t.grad!.clone()).ToArray();
    }

    [Theory]
    [InlineData(1L << 24)] // whole batch in one chunk
    [InlineData(50L)]      // chunks of 2 samples (mask of 24 entries)
    [InlineData(1L)]       // one sample per chunk
    public void MaskedLinearEqualsThePerSampleLoopInValuesAndGradients(long chunkElements)
    {
        manual_seed(1);
        var layer = new MaskedLinear(6, 4);
        var x = randn(5, 6, requires_grad: true);
        var masks = rand(5, 4, 6, requires_grad: true);
        var probe = randn(5, 4);

        var y = layer.Forward(x, masks, chunkElements);
        var fast = Gradients(y, probe, layer.Weight, layer.Bias, masks, x);
        var reference = MaskedLayerReference.Linear(x, layer.Weight, layer.Bias, masks);
        var slow = Gradients(reference, probe, layer.Weight, layer.Bias, masks, x);

        AssertClose(reference, y, what: "output");
        string[] names = ["weight", "bias", "mask", "input"];
        for (var k = 0; k < names.Length; k++) AssertClose(slow[k], fast[k], what: names[k]);
    }

    [Theory]
    [InlineData(MaskGate.Sigmoid, 1, 0)]
    [InlineData(MaskGate.Tanh, 1, 0)]
    [InlineData(MaskGate.Sigmoid, 2, 1)] // 7x7 input, stride 2: the transposed convolution must restore a skipped edge
    public void MaskedConvolutionEqualsThePerSampleLoopInValuesGradientsAndSummaries(MaskGate gate, long stride, long padding)
    {
        manual_seed(2);
        var layer = new MaskedConv2d(2, 3, 3, stride, padding);
        var x = randn([5, 2, 7, 7], requires_grad: true);
        var raw = randn([5, 3 * 2 * 3 * 3], requires_grad: true);
        var importance = rand(3, 2, 3, 3);
        var (pm, pw) = (randn(5), randn(5));

        var (y, summary) = layer.ForwardGated(x, raw, gate, importance, countActive: true);
        var probe = randn(y.shape);
        var objective = (y * probe).sum() + (summary.Magnitude * pm).sum() + (summary.WeightedMagnitude! * pw).sum();
        var fast = Gradients(objective, ones(1), layer.Weight, layer.Bias, raw, x);

        var masks = gate.Apply(raw).view(5, 3, 2, 3, 3);
        var reference = MaskedLayerReference.Conv2d(x, layer.Weight, layer.Bias, masks, stride, padding);
        var referenceSummary = MaskMath.Summarise(masks, importance, gate);
        var referenceObjective = (reference * probe).sum() + (referenceSummary.Magnitude * pm).sum() + (referenceSummary.WeightedMagnitude! * pw).sum();
        var slow = Gradients(referenceObjective, ones(1), layer.Weight, layer.Bias, raw, x);

        AssertClose(reference, y, what: "output");
        AssertClose(referenceSummary.Magnitude, summary.Magnitude, what: "magnitude");
        AssertClose(referenceSummary.WeightedMagnitude!, summary.WeightedMagnitude!, what: "weighted magnitude");
        AssertClose(referenceSummary.ActiveCount!, summary.ActiveCount!, what: "active count");
        string[] names = ["weight", "bias", "raw masks", "input"];
        for (var k = 0; k < names.Length; k++) AssertClose(slow[k], fast[k], what: names[k]);
    }

    [Fact]
    public void AConvolutionInputWithoutGradientGetsNone()
    {
        manual_seed(2);
        var layer = new MaskedConv2d(2, 3, 2);
        var x = randn(4, 2, 5, 5);
        var raw = randn([4, 3 * 2 * 2 * 2], requires_grad: true);
        layer.ForwardGated(x, raw, MaskGate.Sigmoid).Output.sum().backward();
        Assert.Null(x.grad);
        Assert.Equal(raw.shape, raw.grad!.shape);
    }

    [Fact]
    public void SharedMasksEqualTheSameMaskRepeatedPerSample()
    {
        manual_seed(3);
        var dense = new MaskedLinear(6, 4);
        var conv = new MaskedConv2d(2, 3, 2);
        using var _ = no_grad();
        var x = randn(3, 6);
        var mask = rand(4, 6);
        AssertClose(dense.forward(x, mask.expand(3, 4, 6)), dense.forward(x, mask), what: "dense");
        var images = randn(3, 2, 5, 5);
        var kernelMask = rand(3, 2, 2, 2);
        AssertClose(MaskedLayerReference.Conv2d(images, conv.Weight, conv.Bias, kernelMask.expand(3, 3, 2, 2, 2)), conv.forward(images, kernelMask), what: "conv");
    }

    [Theory]
    [InlineData(MaskGate.Sigmoid, 6, 5, 6L)] // n = 30: f1 = 6, f2 = 5, so raw[p·f1 + q] = raw[o, i]
    [InlineData(MaskGate.Tanh, 6, 5, 6L)]
    [InlineData(MaskGate.Sigmoid, 3, 8, 4L)] // n = 24: f1 = 4, f2 = 6, so the flat layout differs from out x in
    [InlineData(MaskGate.Tanh, 3, 8, 4L)]
    [InlineData(MaskGate.Sigmoid, 600, 500, 500L)] // 300,000 entries: two blocks of rows, f1 = 500 (a block is 5k rows)
    [InlineData(MaskGate.Tanh, 600, 500, 500L)]
    public void FactorisedMasksEqualTheMaterialisedMasksWithTheirSummaries(MaskGate gate, int inputs, int outputs, long expectedF1)
    {
        manual_seed(4);
        var layer = new MaskedLinear(inputs, outputs);
        var (f1, f2) = FactorisedMaskGenerator.Factorise(inputs * outputs);
        Assert.Equal((expectedF1, inputs * outputs / expectedF1), (f1, f2));
        var x = randn(4, inputs, requires_grad: true);
        var rows = randn(4, f2, requires_grad: true);
        var columns = randn(4, f1, requires_grad: true);
        var importance = rand(outputs, inputs);
        var probe = randn(4, outputs);
        var (pm, pw) = (randn(4), randn(4));

        var (y, summary) = layer.ForwardFactorised(x, rows, columns, gate, importance, countActive: true);
        var objective = (y * probe).sum() + (summary.Magnitude * pm).sum() + (summary.WeightedMagnitude! * pw).sum();
        var fast = Gradients(objective, ones(1), layer.Weight, layer.Bias, rows, columns, x);

        var masks = MaskedLayerReference.FactorisedMasks(rows, columns, gate, [outputs, inputs]);
        var reference = MaskedLayerReference.Linear(x, layer.Weight, layer.Bias, masks);
        var referenceSummary = MaskMath.Summarise(masks, importance, gate);
        var referenceObjective = (reference * probe).sum() + (referenceSummary.Magnitude * pm).sum() + (referenceSummary.WeightedMagnitude! * pw).sum();
        var slow = Gradients(referenceObjective, ones(1), layer.Weight, layer.Bias, rows, columns, x);

        AssertClose(reference, y, what: "output");
        AssertClose(referenceSummary.Magnitude, summary.Magnitude, what: "magnitude");
        AssertClose(referenceSummary.WeightedMagnitude!, summary.WeightedMagnitude!, what: "weighted magnitude");
        AssertClose(referenceSummary.ActiveCount!, summary.ActiveCount!, what: "active count");
        string[] names = ["weight", "bias", "rows", "columns", "input"];
        for (var k = 0; k < names.Length; k++) AssertClose(slow[k], fast[k], what: names[k]);
    }

    /// <summary>
    /// DWA's masked layers, forward and backward, while garbage collections run back to back on another thread (as
    /// the other worker's allocations start them, or the layer's own): every value and gradient equals the same
    /// computation without them. Before the fixes the test host crashed here: 3 runs of 3 from TorchSharp's
    /// non-differentiable-output list (<see cref="MaskMath.Count"/>), and 1 of 3 from a worker's temporary Scalar
    /// finalized under a running call (<see cref="WorkerScalars"/>, torch's "Expected false to be true" in toFloat).
    /// </summary>
    [Fact]
    public void TheWorkersGiveTheSameResultsWhileCollectionsRunAlongside()
    {
        var threads = get_num_threads();
        set_num_threads(2);   // two ranges of samples, so two workers
        try
        {
            manual_seed(6);
            var linear = new MaskedLinear(300, 400);
            var conv = new MaskedConv2d(2, 3, 3);
            var (x, rows, columns) = (randn(8, 300, requires_grad: true), randn(8, 300, requires_grad: true), randn(8, 400, requires_grad: true));
            var (image, raw) = (randn([8, 2, 6, 6], requires_grad: true), randn([8, 3 * 2 * 3 * 3], requires_grad: true));
            var importance = rand(400, 300);
            Tensor[] Run()
            {
                using var scope = NewDisposeScope();
                var (y, summary) = linear.ForwardFactorised(x, rows, columns, MaskGate.Tanh, importance, countActive: true);
                var (z, convSummary) = conv.ForwardGated(image, raw, MaskGate.Sigmoid);
                // Squared by mul and summed by stack, not square() and +: TorchSharp's square and + pass torch a Scalar of
                // their own making (an exponent of 2, an alpha of 1).
                var objective = stack([y.mul(y).sum(), summary.Magnitude.sum(), summary.WeightedMagnitude!.sum(), z.mul(z).sum(), convSummary.Magnitude.sum()]).sum();
                Tensor[] inputs = [linear.Weight, rows, columns, x, conv.Weight, raw, image];
                foreach (var t in inputs) t.grad?.zero_();
                objective.backward();
                Tensor[] results = [.. inputs.Select(t => t.grad!.clone()), y.detach().clone(), summary.ActiveCount!.clone(), z.detach().clone()];
                foreach (var t in results) t.MoveToOuterDisposeScope();
                return results;
            }
            var expected = Run();
            // Calls of the same methods, then a pause: the JIT's optimised code (which tiered compilation puts in place
            // after some calls and a short delay) ends a temporary's life at its last use; the first code it makes does not.
            for (var call = 0; call < 40; call++) foreach (var t in Run()) t.Dispose();
            Thread.Sleep(500);
            using var stop = new CancellationTokenSource();
            var collector = new Thread(() =>
            {
                while (!stop.IsCancellationRequested)
                {
                    GC.Collect();
                    GC.WaitForPendingFinalizers();
                }
            });
            collector.Start();
            try
            {
                for (var round = 0; round < 100; round++)
                {
                    var actual = Run();
                    for (var k = 0; k < expected.Length; k++) Assert.True(actual[k].allclose(expected[k], rtol: 0, atol: 0), $"round {round}, result {k}");
                    foreach (var t in actual) t.Dispose();
                }
            }
            finally
            {
                stop.Cancel();
                collector.Join();
            }
        }
        finally
        {
            set_num_threads(threads);
        }
    }

    [Fact]
    public void FactorisationFollowsTheSeedsDivisorRule()
    {
        Assert.Equal((1024L, 2048L), FactorisedMaskGenerator.Factorise(2048 * 1024));
        Assert.Equal((2048L, 2048L), FactorisedMaskGenerator.Factorise(2048 * 2048));
        Assert.Equal((800L, 800L), FactorisedMaskGenerator.Factorise(800 * 800));
        Assert.Equal((1L, 13L), FactorisedMaskGenerator.Factorise(13));   // a prime: floor(sqrt 13) + 1 = 4, only 1 divides
    }

    private static readonly int[] Mixture = [10, 100, 10, 10, 10, 43, 100, 10];
    private static readonly int[] Cifar = [2, 2, 2, 2, 2, 20, 20, 20, 20, 20];

    [Fact]
    public void AlexNetDwaParameterCountsMatchTheSeed()
    {
        var mixture = DwaNetworkFactory.Create(BackboneRegistry.AlexNet, [3, 32, 32], Mixture, new DwaNetworkOptions()).Network;
        Assert.Equal(28_756_969L, mixture.ParameterCount);
        long Count(string prefix) => mixture.named_parameters().Where(p => p.name.StartsWith(prefix)).Sum(p => p.parameter.numel());
        Assert.Equal(7_446_528L, Count("backbone.gating.mask_c2."));
        Assert.Equal(13_238_272L, Count("backbone.gating.mask_c3."));
        Assert.Equal(310_272L, Count("backbone.gating.mask_fc1."));
        Assert.Equal(413_696L, Count("backbone.gating.mask_fc2."));
        Assert.Equal(243_972L, Count("backbone.gating.processor."));
        Assert.Equal(28_382_002L, DwaNetworkFactory.Create(BackboneRegistry.AlexNet, [3, 32, 32], Cifar, new DwaNetworkOptions()).Network.ParameterCount);
    }

    [Theory]
    [InlineData(0, 8192L, 768L)]
    [InlineData(1, 2048L, 3136L)]
    [InlineData(2, 1152L, 4608L)]
    [InlineData(3, 128L, 1024L)]
    public void ProcessorGeometryFollowsTheSeedsTable(int stem, long pfc1Inputs, long stemFeatures)
    {
        var net = DwaNetworkFactory.Create(BackboneRegistry.AlexNet, [3, 32, 32], [10, 10], new DwaNetworkOptions { StemLayers = stem }).Network;
        var pfc1 = net.named_parameters().Single(p => p.name == "backbone.gating.processor.pfc1.weight").parameter;
        Assert.Equal([100L, pfc1Inputs], pfc1.shape);
        var gating = (DwaWeightMasks)net.Backbone.Gating;
        Assert.Equal(new[] { "c1", "c2", "c3", "fc1", "fc2" }.Skip(stem), gating.MaskedLayers);
        // What the processor reads, as the task classifier gets it: the stem's maps, max-pooled once where they are at
        // least 14 wide (the input's 3x32x32 to 3x16x16; c1's 64x14x14 to 64x7x7), flattened.
        net.eval();
        using var _ = no_grad();
        Assert.Equal([2L, stemFeatures], gating.StemFeatures(net.Backbone, randn(2, 3, 32, 32), new ForwardContext(0)).shape);
    }

    [Fact]
    public void OnGreyscale28PixelInputsTheProcessorSkipsItsPooling()
    {
        // AlexNet on 1x28x28: c1 gives 64x13x13 (below 14: no pooling), pc2 gives 128x7x7 -> pfc1 reads 6272.
        var net = DwaNetworkFactory.Create(BackboneRegistry.AlexNet, [1, 28, 28], [10], new DwaNetworkOptions()).Network;
        var pfc1 = net.named_parameters().Single(p => p.name == "backbone.gating.processor.pfc1.weight").parameter;
        Assert.Equal([100L, 6272], pfc1.shape);
        net.eval();
        using var _ = no_grad();
        Assert.Equal([2L, 10], net.Forward(randn(2, 1, 28, 28), 0).shape);
    }

    [Theory]
    [InlineData("alexnet", 0, false, true)]
    [InlineData("alexnet", 2, true, true)]
    [InlineData("alexnet", 4, true, false)]
    [InlineData("alexnet", 1, false, false)]
    [InlineData("mlp", 1, true, true)]
    [InlineData("mlp", 0, false, true)]
    public void EveryVariantRunsForwardWithOneEmbeddingRowPerSample(string backbone, int stem, bool concat, bool processor)
    {
        manual_seed(5);
        var kind = BackboneRegistry.Get(backbone);
        int[] input = kind == BackboneRegistry.Mlp ? [1, 28, 28] : [3, 32, 32];
        var options = new DwaNetworkOptions { StemLayers = stem, ConcatenateStem = concat, UseProcessor = processor, EmbeddingSize = 8, BottleneckFeatures = 4, ProcessorFeatures = 8 };
        var net = DwaNetworkFactory.Create(kind, input, [3, 4], options).Network;
        net.eval();
        using var _ = no_grad();
        var context = new ForwardContext(1);
        var x = randn([3, .. input]);
        var logits = net.Forward(x, context);
        Assert.Equal([3L, 4], logits.shape);
        Assert.Equal([3L, processor ? 8 : 2], context.Get<DwaForwardState>().EmbeddingOut!.shape);
        Assert.Equal(((DwaWeightMasks)net.Backbone.Gating).MaskedLayers, context.Get<DwaForwardState>().MaskSummaries.Keys);
        Assert.All(context.Get<DwaForwardState>().MaskSummaries.Values, s => Assert.Equal([3L], s.Magnitude.shape));
        // The embedding alone (stem and processor, no masked layer) is the full pass's, bit for bit.
        var alone = ((DwaWeightMasks)net.Backbone.Gating).Embedding(net.Backbone, x, new ForwardContext(1));
        Assert.True(alone.eq(context.Get<DwaForwardState>().EmbeddingOut!).all().item<bool>());
    }

    [Fact]
    public void TheMasksOfTheForwardPassAreTheGeneratorsGatedOutput()
    {
        manual_seed(6);
        var net = DwaNetworkFactory.Create(BackboneRegistry.Mlp, [1, 28, 28], [3], new DwaNetworkOptions { EmbeddingSize = 6, Gate = MaskGate.Tanh }).Network;
        net.eval();
        using var _ = no_grad();
        var context = new ForwardContext(0).With(new DwaForwardState { KeepMasks = true });
        var x = randn(2, 1, 28, 28);
        var logits = net.Forward(x, context);
        var gating = (DwaWeightMasks)net.Backbone.Gating;
        foreach (var layer in gating.MaskedLayers)
        {
            var masks = gating.Masks(layer, context.Get<DwaForwardState>().EmbeddingOut!, gating.Spec(layer).WeightShape);
            AssertClose(masks, context.Get<DwaForwardState>().Masks[layer], what: layer);
            // The summary's magnitude is the sum of |M| per sample.
            AssertClose(masks.abs().flatten(1).sum(1L), context.Get<DwaForwardState>().MaskSummaries[layer].Magnitude, what: layer + " magnitude");
        }
        // A given embedding vector replaces the processor's and is shared by the batch.
        var given = rand(6) * 2 - 1;
        var withGiven = new ForwardContext(0).With(new DwaForwardState { KeepMasks = true, Embedding = given });
        net.Forward(x, withGiven);
        AssertClose(given.expand(2, 6), withGiven.Get<DwaForwardState>().EmbeddingOut!, what: "given embedding");
        AssertClose(gating.Masks("fc2", given.unsqueeze(0), [800, 800]).expand(2, 800, 800), withGiven.Get<DwaForwardState>().Masks["fc2"], what: "shared masks");
        Assert.Equal([2L, 3], logits.shape);
    }
}
