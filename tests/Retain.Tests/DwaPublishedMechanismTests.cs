using Retain.Approaches;
using Retain.Data;
using Retain.Networks;
using Retain.Networks.Dwa;
using Retain.Training;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Retain.Tests;

/// <summary>
/// Why the published preset stays at chance in short runs (docs/dwa.md, "Why the published preset needs its warm-up"):
/// at the first step the seed's sparsity term, mean(1 - |M|) summed over the batch at λ 500, pushes the parameters far
/// harder than the cross-entropy, and the push reaches the stem, which the main path shares; once the masks are dense
/// the clamped term and its gradient are 0.
/// </summary>
public class DwaPublishedMechanismTests(ITestOutputHelper output)
{
    /// <summary>The L2 norm of the gradient of <paramref name="loss"/> over <paramref name="parameters"/>.</summary>
    private static double GradientNorm(MultiHeadNetwork model, Tensor loss, IEnumerable<Tensor> parameters)
    {
        model.zero_grad();
        loss.backward(retain_graph: true);
        using var _ = no_grad();
        return Math.Sqrt(parameters.Where(p => p.grad is not null).Sum(p => p.grad!.square().sum().item<float>()));
    }

    [Fact]
    public void AtTheFirstStepTheSeedsSparsityGradientDwarfsTheCrossEntropysAndReachesTheStem()
    {
        // The published preset on a narrow AlexNet-DWA (tanh gates, one stem convolution, E = 100 as published), as
        // initialised for a run; the first batch of 32 training images of mnist2's first task.
        var options = new DwaSpec().Bind(new Dictionary<string, string> { ["preset"] = "published" }, null, "dwa").Options;
        Assert.Equal((DwaFormulation.Seed, 500.0, 0.2, MaskGate.Tanh), (options.Formulation, options.SparsityWeight, options.TargetSparsity, options.Gate));
        using var full = ExperimentCatalog.Load("mnist2", TestSupport.DataDir, seed: 0);
        manual_seed(0);
        var specs = Architectures.AlexNet(full.InputSize, width: 0.1);
        var (network, masks) = DwaNetworkFactory.Create(specs, full.ClassCounts, options.Network);
        Dwa.Initialisation.Apply(network);
        var training = Dwa.Defaults with { Warmup = new Warmup(20, 1000), Curriculum = Curriculum.CurriculumSchedule.Parse(Dwa.SeedCurriculum) };
        using var dwa = new Dwa(new ApproachContext(network, training, CPU, new NumpyRandomState(0)), options, masks);
        network.train();

        using var scope = NewDisposeScope();
        const int batchSize = 32;
        var rows = full.Tasks[0].Train.Rows(Enumerable.Range(0, batchSize).Select(i => (long)i).ToArray(), CPU);
        var batch = new Batch(0, rows.X, rows.Y, zeros(batchSize));
        var (logits, terms) = dwa.Objective(batch, DwaFormulation.Seed, importance: null);
        var crossEntropy = nn.functional.cross_entropy(logits, batch.Y);
        var sparsity = options.SparsityWeight * terms.Sparsity;

        // Hand check of the term's value: the tanh masks start well below dense, every sample's mean |M| u_ℓ,b < 1 - μ,
        // so each sample's unused fraction 1 - u_ℓ,b exceeds μ and no hinge is clamped: summed over the batch,
        // L_sp = Σ_ℓ Σ_b (1 - u_ℓ,b - μ) = Σ_ℓ B (1 - μ - mean_b u_ℓ,b), for L = 4 masked layers.
        Assert.Equal(4, masks.MaskedLayers.Count);
        var perSample = terms.Masks.Select(m => (m.Magnitude.detach() / m.Elements).data<float>().ToArray()).ToArray();
        Assert.All(perSample.SelectMany(u => u), u => Assert.True(u < 1 - options.TargetSparsity, $"mean |M| {u:F3}: tanh masks start below dense"));
        var usage = perSample.Select(u => u.Average()).ToArray();
        Assert.Equal(usage.Sum(u => batchSize * (1 - options.TargetSparsity - u)), terms.Sparsity.item<float>(), 2);

        // The gradients over all parameters, and over the stem's (the first convolution: the main path's first layer,
        // which also feeds the context processor, so the push on the masks reaches the classifier's own features).
        var all = network.parameters().ToArray();
        var stem = network.named_parameters().Where(p => p.name.StartsWith($"backbone.{specs[0].Name}.", StringComparison.Ordinal)).Select(p => p.parameter).ToArray();
        Assert.NotEmpty(stem);
        var (ceAll, spAll) = (GradientNorm(network, crossEntropy, all), GradientNorm(network, sparsity, all));
        var (ceStem, spStem) = (GradientNorm(network, crossEntropy, stem), GradientNorm(network, sparsity, stem));
        output.WriteLine(FormattableString.Invariant(
            $"L_sp {terms.Sparsity.item<float>():G4} (λ L_sp {sparsity.item<float>():G4}), CE {crossEntropy.item<float>():G4}, mean |M| {usage.Average():G3}"));
        output.WriteLine(FormattableString.Invariant(
            $"gradient norms: all parameters CE {ceAll:G4}, λ L_sp {spAll:G4} (ratio {spAll / ceAll:G4}); stem CE {ceStem:G4}, λ L_sp {spStem:G4} (ratio {spStem / ceStem:G4})"));
        Assert.True(spAll > 100 * ceAll, $"sparsity gradient {spAll:G4} against the cross-entropy's {ceAll:G4}");
        Assert.True(spStem > 100 * ceStem, $"on the stem: sparsity gradient {spStem:G4} against the cross-entropy's {ceStem:G4}");

        // The gradient is λ times the unweighted term's: at the corrected formulation's λ 5 and batch mean (÷ B) it would be
        // 500 · 32 / 5 = 3200 times smaller (the corrected term measures mean |M|, another direction, so only the scale compares).
        Assert.Equal(spAll / options.SparsityWeight, GradientNorm(network, terms.Sparsity, all), spAll / options.SparsityWeight * 1e-4);
    }

    [Fact]
    public void OnceTheMasksAreDenseTheSeedsClampedSparsityTermAndItsGradientAreZero()
    {
        // Masks of 2 samples x 4 entries with mean |M| 0.85 and 0.8: unused fractions 0.15 and 0.2, neither above μ = 0.2.
        var dense = tensor(new float[] { 0.9f, -0.8f, 0.85f, 0.85f, 0.8f, 0.8f, -0.8f, 0.8f }).view(2, 4).requires_grad_();
        var summary = MaskMath.Summarise(dense, null, MaskGate.Tanh);
        var term = DwaLosses.Sparsity([summary], target: 0.2, binary: false, DwaFormulation.Seed);
        term.backward();
        Assert.Equal(0, term.item<float>(), 6);
        Assert.Equal(0, dense.grad!.abs().sum().item<float>());

        // Sparse masks (mean |M| 0.1 and 0.3): (1 - 0.1 - 0.2) + (1 - 0.3 - 0.2) = 1.2, and d/dM = -sign(M) / 4 on every entry.
        var sparse = tensor(new float[] { 0.1f, -0.1f, 0.1f, 0.1f, 0.3f, 0.3f, -0.3f, 0.3f }).view(2, 4).requires_grad_();
        var sparseTerm = DwaLosses.Sparsity([MaskMath.Summarise(sparse, null, MaskGate.Tanh)], 0.2, false, DwaFormulation.Seed);
        sparseTerm.backward();
        Assert.Equal(1.2, sparseTerm.item<float>(), 5);
        Assert.Equal([-0.25f, 0.25f, -0.25f, -0.25f, -0.25f, -0.25f, 0.25f, -0.25f], sparse.grad!.flatten().data<float>().ToArray());
    }
}
