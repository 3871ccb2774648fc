using System.Diagnostics;
using System.Globalization;
using Retain.Approaches;
using Retain.Curriculum;
using Retain.Data;
using Retain.Networks;
using Retain.Networks.Dwa;
using Retain.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Retain.Benchmarks;

/// <summary>One masked layer: the per-sample loop against the batched computation, forward + backward of one batch.</summary>
/// <param name="MaxDifference">Largest |difference| of the outputs, relative to the largest |output|.</param>
internal sealed record MaskedLayerTiming(string Layer, string Form, string WeightShape, int Batch, double ReferenceSeconds, double BatchedSeconds, double MaxDifference)
{
    public double Speedup => ReferenceSeconds / BatchedSeconds;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Layer,-4} {Form,-10} W {WeightShape,-16} batch {Batch}: loop {1000 * ReferenceSeconds,8:F1} ms, batched {1000 * BatchedSeconds,8:F1} ms, speed-up {Speedup,5:F1}x, max rel. difference {MaxDifference:E1}");
}

/// <summary>Training steps of the whole AlexNet-DWA network (forward, DWA loss, backward, SGD step).</summary>
/// <param name="PeakResidentMegabytes">The process's peak resident memory (VmHWM) after the steps; NaN where /proc is missing.</param>
internal sealed record DwaTrainingTiming(string Network, long Parameters, int Batch, int Steps, double SecondsPerStep, double PeakResidentMegabytes)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Network} ({Parameters:N0} parameters), batch {Batch}: {SecondsPerStep:F2} s per training step (mean of {Steps}), peak resident memory {PeakResidentMegabytes:F0} MB");
}

/// <summary>One epoch of MLP-DWA (<see cref="DwaBenchmarks.MlpEpoch"/>).</summary>
/// <param name="EvaluationSeconds">The evaluation of the training and validation sets, timed again after the epoch (part of <paramref name="Seconds"/>).</param>
internal sealed record DwaEpochTiming(int Samples, int Steps, double Seconds, double EvaluationSeconds);

/// <summary>
/// Benchmarks of DWA's masked layers (for <c>retain bench</c>). <see cref="MaskedLayers"/> times AlexNet-DWA's four
/// masked layers at their real sizes: the naive computation (every sample's mask materialised by autograd, then one
/// linear map or convolution per sample: <see cref="MaskedLayerReference"/>) against the layers' own path (the
/// convolutions' masks from the generator's raw output through <see cref="MaskedConv2dFunction"/>, the factorised
/// dense masks through <see cref="FactorisedMaskedLinearFunction"/>).
/// </summary>
internal static class DwaBenchmarks
{
    /// <param name="batch">Samples per batch (DWA trains with 32).</param>
    /// <param name="repeats">Timed repetitions after one warm-up; the best is reported.</param>
    /// <param name="widthDivisor">Divides every channel and feature count (1: AlexNet's sizes; larger for a quick run).</param>
    public static IReadOnlyList<MaskedLayerTiming> MaskedLayers(int batch = 32, int repeats = 3, int widthDivisor = 1, int seed = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(repeats, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(widthDivisor, 1);
        manual_seed(seed);
        int W(int n) => Math.Max(1, n / widthDivisor);
        var timings = new List<MaskedLayerTiming>
        {
            Convolution("c2", W(64), W(128), 3, 14, batch, repeats),
            Convolution("c3", W(128), W(256), 2, 6, batch, repeats),
            Factorised("fc1", W(256) * 4, W(2048), batch, repeats),
            Factorised("fc2", W(2048), W(2048), batch, repeats),
        };
        return timings;
    }

    private static MaskedLayerTiming Convolution(string name, int inChannels, int outChannels, int kernel, int side, int batch, int repeats)
    {
        using var scope = NewDisposeScope();
        var layer = new MaskedConv2d(inChannels, outChannels, kernel);
        var x = randn([batch, inChannels, side, side]);
        var raw = randn([batch, outChannels * inChannels * kernel * kernel], requires_grad: true);
        var (reference, referenceOutput) = Time(repeats, () =>
            MaskedLayerReference.Conv2d(x, layer.Weight, layer.Bias, raw.sigmoid().view(batch, outChannels, inChannels, kernel, kernel)), layer.parameters().Append(raw));
        var (batched, batchedOutput) = Time(repeats, () => layer.ForwardGated(x, raw, MaskGate.Sigmoid, countActive: false).Output, layer.parameters().Append(raw));
        return new MaskedLayerTiming(name, "conv", Shape(layer.Weight), batch, reference, batched, RelativeDifference(referenceOutput, batchedOutput));
    }

    private static MaskedLayerTiming Factorised(string name, int inputs, int outputs, int batch, int repeats)
    {
        using var scope = NewDisposeScope();
        var layer = new MaskedLinear(inputs, outputs);
        var (f1, f2) = FactorisedMaskGenerator.Factorise((long)inputs * outputs);
        var x = randn(batch, inputs);
        var rows = randn([batch, f2], requires_grad: true);
        var columns = randn([batch, f1], requires_grad: true);
        var trainable = layer.parameters().Append(rows).Append(columns);
        var (reference, referenceOutput) = Time(repeats, () =>
            MaskedLayerReference.Linear(x, layer.Weight, layer.Bias, MaskedLayerReference.FactorisedMasks(rows, columns, MaskGate.Sigmoid, [outputs, inputs])), trainable);
        var (batched, batchedOutput) = Time(repeats, () => layer.ForwardFactorised(x, rows, columns, MaskGate.Sigmoid, countActive: false).Output, trainable);
        return new MaskedLayerTiming(name, "factorised", Shape(layer.Weight), batch, reference, batched, RelativeDifference(referenceOutput, batchedOutput));
    }

    /// <summary>Best time of forward + backward (of the output's sum), and the output of the last run.</summary>
    private static (double Seconds, Tensor Output) Time(int repeats, Func<Tensor> forward, IEnumerable<Tensor> trainable)
    {
        var parameters = trainable.ToArray();
        var best = double.PositiveInfinity;
        Tensor? output = null;
        for (var run = 0; run <= repeats; run++)
        {
            foreach (var p in parameters) p.grad?.zero_();
            var clock = Stopwatch.StartNew();
            using (var scope = NewDisposeScope())
            {
                var y = forward();
                y.sum().backward();
                output?.Dispose();
                output = y.detach().MoveToOuterDisposeScope();
            }
            if (run > 0) best = Math.Min(best, clock.Elapsed.TotalSeconds);   // run 0 warms up
        }
        return (best, output!);
    }

    private static double RelativeDifference(Tensor expected, Tensor actual) =>
        (expected - actual).abs().max().item<float>() / Math.Max(1e-12, expected.abs().max().item<float>());

    private static string Shape(Tensor t) => string.Join("x", t.shape);

    /// <summary>
    /// Training steps of AlexNet-DWA at the mixture experiment's size (28.8 M parameters) on random 3x32x32 inputs, with
    /// every DWA loss active (triplet with random anchors, Fisher-weighted attention with a random Fisher diagonal,
    /// sparsity): seconds per step and the process's peak resident memory. Run it in a fresh process for a meaningful peak.
    /// </summary>
    public static DwaTrainingTiming AlexNetTraining(int batch = 32, int steps = 3, int seed = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        manual_seed(seed);
        int[] mixture = [10, 100, 10, 10, 10, 43, 100, 10];
        var options = new DwaOptions();
        var (network, gating) = DwaNetworkFactory.Create(BackboneRegistry.AlexNet, [3, 32, 32], mixture, options.Network);
        Dwa.Initialisation.Apply(network);
        var fisher = gating.MaskedLayers.ToDictionary(l => l, l => rand(gating.Spec(l).WeightShape) * 1e-3);
        var (positive, negative, taskNegative) = (rand(gating.EmbeddingSize), rand(gating.EmbeddingSize), rand(gating.EmbeddingSize));
        var scales = DwaLosses.LayerScales(gating.MaskedLayers.Count, scaled: false);
        using var optimizer = new SgdOptimizer().Create(network.parameters(), 0.075);   // the base loop's SGD
        network.train();
        var clock = new Stopwatch();
        for (var step = 0; step <= steps; step++)
        {
            if (step == 1) clock.Start();   // step 0 warms up
            using var scope = NewDisposeScope();
            var x = randn(batch, 3, 32, 32);
            var y = randint(0, 10, [batch]);
            var complexity = rand(batch);
            var dwa = new DwaForwardState { MaskImportance = fisher };
            var logits = network.Forward(x, new ForwardContext(1).With(dwa));
            var summaries = gating.MaskedLayers.Select(l => dwa.MaskSummaries[l]).ToArray();
            var loss = nn.functional.cross_entropy(logits, y)
                + options.TripletWeight * DwaLosses.Triplet(dwa.EmbeddingOut!, positive, negative, taskNegative, options.Margin, options.TaskNegativeWeight, 1 - complexity)
                + options.AttentionWeight * DwaLosses.Attention(summaries, scales)
                + options.SparsityWeight * DwaLosses.Sparsity(summaries, options.TargetSparsity, binary: false);
            optimizer.zero_grad();
            loss.backward();
            optimizer.step();
        }
        return new DwaTrainingTiming("alexnet_dwa (mixture)", network.ParameterCount, batch, steps, clock.Elapsed.TotalSeconds / steps, PeakResidentMegabytes());
    }

    /// <summary>
    /// One real epoch of MLP-DWA on mnist2's first task with DWA's default options, run by the approach itself: the
    /// anchor search, a training step per batch of 32, and the evaluation of the training and validation sets that ends
    /// every epoch. The curriculum starts at threshold 1 (as the default schedule reaches at epoch 100), so the epoch
    /// trains on every training sample; the Fisher pass after the task is not timed.
    /// </summary>
    public static DwaEpochTiming MlpEpoch(string dataDir, int seed = 0)
    {
        var spec = new DwaSpec();
        var options = new DwaOptions();
        manual_seed(seed);
        using var mnist2 = ExperimentCatalog.Load("mnist2", dataDir, seed);
        var task = mnist2.Tasks[0];
        var training = Dwa.Defaults with { Epochs = 1, Curriculum = CurriculumSchedule.Parse("linear:1:1") };
        var (network, masks) = spec.CreateNetwork(mnist2.Backbone, new NetworkShape(mnist2.InputSize, mnist2.ClassCounts), options);
        using var approach = spec.Create(new ApproachContext(network, training, CPU, new NumpyRandomState((uint)seed)), options, masks);
        var epoch = approach.Train(0, task, IgnoredEvents.Instance).Single();
        var clock = Stopwatch.StartNew();
        approach.Evaluate(0, task.Train);
        approach.Evaluate(0, task.Valid);
        var evaluation = clock.Elapsed.TotalSeconds;
        return new DwaEpochTiming(task.Train.Count, (task.Train.Count + training.BatchSize - 1) / training.BatchSize, epoch.Seconds, evaluation);
    }

    /// <summary>VmHWM of this process in MB, or NaN where /proc/self/status is missing.</summary>
    public static double PeakResidentMegabytes()
    {
        const string path = "/proc/self/status";
        if (!File.Exists(path)) return double.NaN;
        var line = File.ReadLines(path).FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return line is null ? double.NaN : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
    }
}
