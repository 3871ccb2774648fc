using System.Diagnostics;
using System.Globalization;
using Retain.Approaches;
using Retain.Curriculum;
using Retain.Data;
using Retain.Networks;
using Retain.Training;
using static TorchSharp.torch;

namespace Retain.Benchmarks;

/// <summary>
/// Where one epoch of an approach spends its time, in seconds of CPU (one torch thread, so the numbers hold on a
/// machine shared with other work): the work before the first step (DWA's anchor search), the training steps, and the
/// end of the epoch (the approach's epoch summary and the evaluation of the training and validation sets).
/// </summary>
internal sealed record EpochCost(string Approach, int TrainSamples, int ValidSamples, int Steps, double Before, double StepsSeconds, double After)
{
    public double Total => Before + StepsSeconds + After;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Approach}: {1000 * Total:F0} ms = {1000 * Before:F0} before the steps + {Steps} steps {1000 * StepsSeconds:F0} + evaluation {1000 * After:F0}");
}

/// <summary>
/// The per-epoch cost of DWA against sgd's on a small task (<c>retain bench dwa-epoch</c>): the second task of
/// split-fashion cut to a few hundred samples per split, MLP, every DWA term active (anchors, the first task's
/// Fisher diagonal), the curriculum past its end so that both train on every sample.
/// </summary>
internal static class DwaEpochBenchmarks
{
    /// <summary>Median epoch costs of DWA and sgd on task 1 of split-fashion limited to <paramref name="limit"/> samples per split.</summary>
    public static (EpochCost Dwa, EpochCost Sgd) SmallTask(string dataDir, int limit = 300, int epochs = 3, int seed = 0)
    {
        var threads = get_num_threads();
        set_num_threads(1);
        try
        {
            using var benchmark = Benchmark.Limited(ExperimentCatalog.Load("split-fashion", dataDir, seed), limit);
            var backbone = BackboneRegistry.Mlp;
            return (Measure("dwa", benchmark, backbone, epochs, seed), Measure("sgd", benchmark, backbone, epochs, seed));
        }
        finally
        {
            set_num_threads(threads);
        }
    }

    /// <summary>Trains task 0 for one epoch, then task 1 for <paramref name="epochs"/> epochs, and returns the median of task 1's epochs.</summary>
    public static EpochCost Measure(string approach, Benchmark benchmark, BackboneArchitecture backbone, int epochs, int seed,
        IReadOnlyDictionary<string, string>? options = null)
    {
        var setup = ApproachRegistry.Get(approach).Bind(options ?? new Dictionary<string, string>(), backbone);
        // Every sample from the first epoch (the curriculum's threshold is 1), no warm-up.
        var curriculum = setup.TrainingDefaults(backbone).Curriculum is null && approach != "dwa" ? null : CurriculumSchedule.Parse("linear:1:1");
        manual_seed(seed);
        var prepared = setup.Prepare(backbone, new NetworkShape(benchmark.InputSize, benchmark.ClassCounts));
        TrainingOptions Training(int n) => setup.ResolveTraining(setup.TrainingDefaults(backbone) with { Epochs = n, Warmup = new Warmup(0, 1), Curriculum = curriculum });
        using var first = prepared.Create(new ApproachContext(prepared.Network, Training(1), CPU, new NumpyRandomState((uint)seed)));
        first.Train(0, benchmark.Tasks[0], IgnoredEvents.Instance);
        // A second approach on the same (trained) network and a longer schedule: the first one's state (anchors, Fisher) moves over by a checkpoint.
        using var approachState = new StateDict();
        first.Save(approachState);
        using var second = prepared.Create(new ApproachContext(prepared.Network, Training(epochs), CPU, new NumpyRandomState((uint)seed)));
        second.Load(approachState);
        var clock = new PhaseClock();
        clock.Start();
        second.Train(1, benchmark.Tasks[1], clock);
        var task = benchmark.Tasks[1];
        var median = clock.Epochs.OrderBy(e => e.Before + e.Steps + e.After).ElementAt(clock.Epochs.Count / 2);
        return new EpochCost(approach, task.Train.Count, task.Valid.Count, median.StepCount, median.Before, median.Steps, median.After);
    }

    /// <summary>The bench entry: DWA's epoch against sgd's, target at most 8x.</summary>
    public static IEnumerable<BenchResult> Results(string dataDir)
    {
        var (dwa, sgd) = SmallTask(dataDir);
        var ratio = dwa.Total / sgd.Total;
        yield return new BenchResult("dwa-epoch", ratio, "x sgd", "<= 8x", ratio <= 8, string.Create(CultureInfo.InvariantCulture,
            $"split-fashion task 1, {dwa.TrainSamples} training and {dwa.ValidSamples} validation samples, MLP, CPU time on one thread; {dwa}; {sgd}"));
        var steps = dwa.StepsSeconds / sgd.StepsSeconds;
        yield return new BenchResult("dwa-epoch steps", steps, "x sgd", "", null, "the training steps alone: a mask per sample and layer (out x in gate values) against one matrix product per layer");
        var fixedShare = (dwa.Before + dwa.After) / dwa.Total;
        yield return new BenchResult("dwa-epoch fixed", 100 * fixedShare, "%", "", null, "the anchor search and the evaluation, as a share of DWA's epoch");
    }

    private static double CpuSeconds() => Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;

    /// <summary>Splits each epoch's CPU time at its first and last training step.</summary>
    private sealed class PhaseClock : ITrainingEvents
    {
        private double _mark;
        private double _before, _steps;
        private int _stepCount;
        public List<(double Before, double Steps, double After, int StepCount)> Epochs { get; } = [];

        public void Start() => _mark = CpuSeconds();

        public void StepFinished()
        {
            var now = CpuSeconds();
            if (_stepCount == 0) _before = now - _mark;
            else _steps += now - _mark;
            _stepCount++;
            _mark = now;
        }

        public void EpochFinished(EpochRecord epoch)
        {
            var now = CpuSeconds();
            // The first step's time is counted with what came before it; take it out at the steps' mean.
            var perStep = _stepCount > 1 ? _steps / (_stepCount - 1) : 0;
            Epochs.Add((_before - perStep, _steps + perStep, now - _mark, _stepCount));
            (_before, _steps, _stepCount, _mark) = (0, 0, 0, now);
        }
    }
}
