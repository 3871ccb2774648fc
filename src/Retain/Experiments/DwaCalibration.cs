using Retain.Approaches;
using Retain.Curriculum;
using Retain.Data;
using Retain.Networks;
using Retain.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Retain.Experiments;

/// <summary>
/// One auxiliary term of DWA measured in the seed's form (the published run) and in the corrected form on the same
/// model and batches: the value and the L2 norm of its gradient over all parameters, unweighted, averaged over the
/// batches. <see cref="GradientFactor"/> is how much stronger the published term pushes the parameters per unit of λ;
/// <see cref="RescaledWeight"/> is the λ that gives the corrected term the published push.
/// </summary>
internal sealed record DwaTermComparison(string Term, double PublishedWeight, double SeedValue, double CorrectedValue, double SeedGradient, double CorrectedGradient)
{
    public double ValueFactor => SeedValue / CorrectedValue;
    public double GradientFactor => SeedGradient / CorrectedGradient;
    public double RescaledWeight => PublishedWeight * GradientFactor;
}

/// <summary>What <see cref="DwaCalibration.Measure"/> found, with the settings it measured under.</summary>
internal sealed record DwaCalibrationResult
{
    public required string Network { get; init; }
    /// <summary>Epochs task 0 was trained before the measurement (0: the initialised network).</summary>
    public required int TrainedEpochs { get; init; }
    /// <summary>Samples of task 0's training set and the number K of batches of 20 the Fisher passes went through.</summary>
    public required int FisherSamples { get; init; }
    public required int FisherBatches { get; init; }
    /// <summary>Batches of task 1 measured, and the samples in them.</summary>
    public required int Batches { get; init; }
    public required int Samples { get; init; }
    /// <summary>Mean |M| of the masks on the measured batches.</summary>
    public required double MaskUsage { get; init; }
    /// <summary>Gradient norm of the cross-entropy on the same batches, for scale.</summary>
    public required double CrossEntropyGradient { get; init; }
    /// <summary>Mean over the masked weights of task 0's Fisher diagonal, accumulated the seed's way and per batch.</summary>
    public required double SeedFisherMean { get; init; }
    public required double CorrectedFisherMean { get; init; }
    public required IReadOnlyList<DwaTermComparison> Terms { get; init; }
}

/// <summary>
/// The first half of calibrating the corrected formulation: by how much each auxiliary term's magnitude changed
/// against the published form at the start of a task. Builds DWA as <c>retain run</c> would (the given options, with
/// the seed's formulation for training), trains task 0 for a few epochs or not at all, computes task 0's Fisher
/// diagonal both ways (the seed's running sum, then the per-batch one), searches task 1's anchors, and evaluates every
/// term both ways on the first batches of task 1's first curriculum epoch.
/// </summary>
internal static class DwaCalibration
{
    public static DwaCalibrationResult Measure(RunConfig config, int trainEpochs, int batches, ITrainingEvents events)
    {
        if (trainEpochs < 0) throw new RetainException($"--train-epochs must not be negative (got {trainEpochs})");
        if (batches < 1) throw new RetainException($"--batches must be at least 1 (got {batches})");
        // The set-up of the run config describes, as retain run resolves it, with the seed's formulation for training.
        var spec = new DwaSpec();
        var data = new BenchmarkSource(config.Experiment, config.DataDir, config.Datasets, config.Limit);
        var backbone = config.Network ?? data.DefaultBackbone;
        var options = spec.Bind(config.Parameters, backbone, config.Approach).Options with { Formulation = DwaFormulation.Seed };
        var setup = RunSetup.Resolve(spec.With(options), backbone, t => config.ApplyTraining(t) with { Epochs = Math.Max(1, trainEpochs) },
            config.Seed, config.Device);
        using var benchmark = data.Load(config.Seed);
        if (benchmark.Tasks.Count < 2) throw new RetainException($"dwa-terms needs an experiment of at least two tasks ({config.Experiment} has {benchmark.Tasks.Count})");

        torch.manual_seed(config.Seed);
        var training = setup.Training;
        var device = setup.Device;
        var (network, masks) = spec.CreateNetwork(backbone, new NetworkShape(benchmark.InputSize, benchmark.ClassCounts), options);
        network.to(device);
        using var dwa = spec.Create(new ApproachContext(network, training, device, new NumpyRandomState((uint)config.Seed)), options, masks);

        var (first, second) = (benchmark.Tasks[0], benchmark.Tasks[1]);
        Dictionary<string, Tensor> seedFisher, correctedFisher;
        if (trainEpochs > 0)
        {
            // Training ends with the seed's Fisher pass, which starts from the last step's gradient as the seed's did.
            dwa.Train(0, first, events);
            seedFisher = dwa.State.Fisher!;
        }
        else
        {
            dwa.SearchAnchors(0, 0, first.Train, EntropyComplexity.Compute(first.Train.X));
            seedFisher = dwa.State.Fisher = dwa.MaskedWeightFisher(0, first.Train, DwaFormulation.Seed);
        }
        correctedFisher = dwa.MaskedWeightFisher(0, first.Train, DwaFormulation.Corrected);
        try
        {
            var complexity = EntropyComplexity.Compute(second.Train.X);
            dwa.SearchAnchors(1, 0, second.Train, complexity);
            var (terms, measured, samples, usage, crossEntropy) = Compare(dwa, options, second.Train, complexity, training, batches, device,
                dwa.ImportanceOf(seedFisher), dwa.ImportanceOf(correctedFisher));
            return new DwaCalibrationResult
            {
                Network = backbone.Name, TrainedEpochs = trainEpochs,
                FisherSamples = first.Train.Count, FisherBatches = (first.Train.Count + FisherDiagonal.BatchSize - 1) / FisherDiagonal.BatchSize,
                Batches = measured, Samples = samples, MaskUsage = usage, CrossEntropyGradient = crossEntropy,
                SeedFisherMean = MeanOver(seedFisher), CorrectedFisherMean = MeanOver(correctedFisher), Terms = terms,
            };
        }
        finally
        {
            ParameterSet.DisposeAll(correctedFisher);
        }
    }

    /// <summary>Every term both ways on the first <paramref name="batches"/> batches of task 1's first curriculum epoch, in stored order.</summary>
    private static (DwaTermComparison[] Terms, int Batches, int Samples, double MaskUsage, double CrossEntropyGradient) Compare(Dwa dwa, DwaOptions options,
        Split train, float[] complexity, TrainingOptions training, int batches, Device device,
        Dictionary<string, Tensor> seedImportance, Dictionary<string, Tensor> correctedImportance)
    {
        var threshold = training.Curriculum?.Threshold(0) ?? 1;
        var selected = Enumerable.Range(0, train.Count).Where(i => complexity[i] <= threshold).Take(batches * training.BatchSize).ToArray();
        if (selected.Length == 0) throw new RetainException($"dwa-terms: no training sample of task 1 is within the curriculum's first threshold {threshold}");
        var importance = new Dictionary<DwaFormulation, Dictionary<string, Tensor>>
        {
            [DwaFormulation.Seed] = seedImportance, [DwaFormulation.Corrected] = correctedImportance,
        };
        string[] terms = ["triplet", "att", "sparsity"];
        var sums = terms.ToDictionary(t => t, _ => new double[4]);   // seed value, corrected value, seed gradient, corrected gradient
        double crossEntropy = 0, usage = 0;
        var measured = 0;
        var model = dwa.Model;
        model.train();
        for (var start = 0; start < selected.Length; start += training.BatchSize, measured++)
        {
            using var scope = NewDisposeScope();
            var rows = selected[start..Math.Min(start + training.BatchSize, selected.Length)];
            var samples = train.Rows(rows.Select(i => (long)i).ToArray(), device);
            var batch = new Batch(1, samples.X, samples.Y, tensor(rows.Select(i => complexity[i]).ToArray(), device: device));
            crossEntropy += GradientNorm(model, () => nn.functional.cross_entropy(dwa.Objective(batch, DwaFormulation.Corrected, null).Logits, batch.Y), out _);
            foreach (var (formulation, column) in new[] { (DwaFormulation.Seed, 0), (DwaFormulation.Corrected, 1) })
                foreach (var term in terms)
                {
                    var gradient = GradientNorm(model, () =>
                    {
                        var (_, t) = dwa.Objective(batch, formulation, importance[formulation]);
                        if (formulation == DwaFormulation.Corrected && term == "sparsity") usage += t.MaskUsage;
                        return term switch { "triplet" => t.Triplet, "att" => t.Attention, _ => t.Sparsity }
                            ?? throw new InvalidOperationException($"dwa-terms: no {term} term on task 1");
                    }, out var value);
                    sums[term][column] += value;
                    sums[term][column + 2] += gradient;
                }
        }
        model.zero_grad();
        var weights = new Dictionary<string, double> { ["triplet"] = options.TripletWeight, ["att"] = options.AttentionWeight, ["sparsity"] = options.SparsityWeight };
        var comparisons = terms.Select(t => new DwaTermComparison(t, weights[t], sums[t][0] / measured, sums[t][1] / measured, sums[t][2] / measured, sums[t][3] / measured)).ToArray();
        return (comparisons, measured, selected.Length, usage / measured, crossEntropy / measured);
    }

    /// <summary>The L2 norm over all parameters of the gradient of <paramref name="objective"/> (0 for a constant), and its value.</summary>
    private static double GradientNorm(Networks.MultiHeadNetwork model, Func<Tensor> objective, out double value)
    {
        using var scope = NewDisposeScope();
        model.zero_grad();
        var loss = objective();
        value = loss.item<float>();
        if (!loss.requires_grad) return 0;
        loss.backward();
        using var _ = no_grad();
        return Math.Sqrt(model.parameters().Where(p => p.grad is not null).Sum(p => p.grad!.square().sum().item<float>()));
    }

    private static double MeanOver(Dictionary<string, Tensor> fisher) =>
        fisher.Values.Sum(f => f.sum().item<float>()) / fisher.Values.Sum(f => f.numel());
}
