using System.Diagnostics;
using Retain.Cli;
using Retain.Curriculum;
using Retain.Data;
using Retain.Networks;
using static TorchSharp.torch;

namespace Retain.Benchmarks;

/// <summary>One measurement: its value, unit, and the target it must meet (if the project set one).</summary>
internal sealed record BenchResult(string Name, double Value, string Unit, string Target, bool? Met, string Note = "");

/// <summary>
/// The project's speed targets, measured on whole operations (seconds each), so a Stopwatch and the median of a few
/// repetitions is enough; BenchmarkDotNet's statistics are for microsecond-scale code.
/// </summary>
internal static class Benchmarks
{
    public static readonly IReadOnlyList<string> Names = ["roofline", "mlp-step", "dwa-step", "wait-policy", "pmnist-sgd", "entropy", "fashion-load", "dwa-layers", "dwa-alexnet", "checkpoint", "study-throughput", "dwa-mlp-epoch", "dwa-epoch"];

    /// <param name="retainCommand">The command that starts <c>retain</c> in a child process (study-throughput runs studies).</param>
    public static IEnumerable<BenchResult> Run(string name, string dataDir, IReadOnlyList<string> retainCommand) => name switch
    {
        "roofline" => [Roofline()],
        "mlp-step" => MlpStep(),
        "dwa-step" => [DwaStep()],
        "wait-policy" => WaitPolicies(retainCommand),
        "pmnist-sgd" => RunBenchmarks.Results(dataDir),
        "entropy" => [Entropy()],
        "fashion-load" => FashionLoad(dataDir),
        "dwa-layers" => DwaBenchmarks.MaskedLayers().Select(t => new BenchResult($"dwa-{t.Layer}", t.Speedup, "x", ">= 5x", t.Speedup >= 5,
            FormattableString.Invariant($"{t.Form} W {t.WeightShape}, batch {t.Batch}: per-sample loop {1000 * t.ReferenceSeconds:F0} ms, batched {1000 * t.BatchedSeconds:F0} ms (forward + backward), max rel. difference {t.MaxDifference:E1}"))),
        "dwa-alexnet" => DwaAlexNet(),
        "checkpoint" => Checkpoints(dataDir),
        "study-throughput" => StudyThroughput(dataDir, retainCommand),
        "dwa-mlp-epoch" => [DwaMlpEpoch(dataDir)],
        "dwa-epoch" => DwaEpochBenchmarks.Results(dataDir),
        _ => throw new RetainException($"bench: unknown benchmark '{name}' (known: {string.Join(", ", Names)})"),
    };

    internal static double Median(int repetitions, Action action)
    {
        action(); // warm-up
        var times = new double[repetitions];
        for (var i = 0; i < repetitions; i++)
        {
            var clock = Stopwatch.StartNew();
            action();
            times[i] = clock.Elapsed.TotalSeconds;
        }
        Array.Sort(times);
        return times[repetitions / 2];
    }

    /// <summary>AlexNet-DWA training steps at batch 32; the peak is the process's (run it alone for a clean number).</summary>
    private static IEnumerable<BenchResult> DwaAlexNet()
    {
        var t = DwaBenchmarks.AlexNetTraining();
        yield return new BenchResult("dwa-alexnet-step", t.SecondsPerStep, "s", "<= 1.5 s", t.SecondsPerStep <= 1.5, FormattableString.Invariant($"{t.Network}, {t.Parameters:N0} parameters, batch {t.Batch}, all DWA losses"));
        yield return new BenchResult("dwa-alexnet-peak", t.PeakResidentMegabytes, "MB", "<= 6144 MB", t.PeakResidentMegabytes <= 6144, "peak resident memory (VmHWM) of this process");
    }

    /// <summary>
    /// What checkpoints cost on the main job (mnist2, sgd, 5 epochs per task): its time with checkpoints only at task
    /// ends, with the default automatic interval, and with one after every epoch.
    /// </summary>
    private static IEnumerable<BenchResult> Checkpoints(string dataDir)
    {
        var folder = Path.Combine(Path.GetTempPath(), $"retain-bench-{Environment.ProcessId}");
        try
        {
            double Time(int? every, string name) => Median(1, () =>
            {
                var output = Path.Combine(folder, name + ".txt");
                Experiments.ExperimentRunner.Run(new Experiments.RunConfig
                {
                    Experiment = "mnist2", Approach = "sgd", DataDir = dataDir, Output = output, Epochs = 5, CheckpointEvery = every, Overwrite = true,
                });
            });
            var taskEnds = Time(0, "task-ends");
            var automatic = Time(null, "automatic");
            var everyEpoch = Time(1, "every-epoch");
            string Note(double seconds) => FormattableString.Invariant($"{seconds:F1} s against {taskEnds:F1} s with checkpoints only after each task (mnist2, sgd, 5 epochs per task)");
            yield return new BenchResult("checkpoint auto", 100 * (automatic / taskEnds - 1), "%", "< 5 %", automatic / taskEnds - 1 < 0.05, Note(automatic));
            yield return new BenchResult("checkpoint every epoch", 100 * (everyEpoch / taskEnds - 1), "%", "", null, Note(everyEpoch));
        }
        finally
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>A local study's runs per hour with one single-threaded process per core, against one multi-threaded run at a time.</summary>
    private static IEnumerable<BenchResult> StudyThroughput(string dataDir, IReadOnlyList<string> retainCommand)
    {
        var (sequential, parallel) = StudyBenchmarks.Throughput(dataDir, retainCommand);
        var ratio = sequential.Seconds / parallel.Seconds;
        return [new BenchResult("study --jobs 1", sequential.SecondsPerRun, "s/run", "", null, sequential.ToString()),
                new BenchResult($"study --jobs {parallel.Jobs}", parallel.SecondsPerRun, "s/run", "", null, parallel.ToString()),
                new BenchResult("study throughput", ratio, "x", ">= 1.5x", ratio >= 1.5, $"--jobs {parallel.Jobs} against --jobs 1 ({StudyBenchmarks.RunDescription})")];
    }

    /// <summary>A real epoch of MLP-DWA on mnist2's first task (anchor search, training on all 4,500 samples, evaluation).</summary>
    private static BenchResult DwaMlpEpoch(string dataDir)
    {
        var t = DwaBenchmarks.MlpEpoch(dataDir);
        return new BenchResult("dwa-mlp-epoch", t.Seconds, "s", "<= 30 s", t.Seconds <= 30, FormattableString.Invariant(
            $"MLP-DWA, mnist2 task 0, default options: anchor search, {t.Steps} training steps on {t.Samples:N0} samples, evaluation of the training and validation sets ({t.EvaluationSeconds:F1} s)"));
    }

    /// <summary>The machine's practical peak: a 1024^3 float32 matrix product.</summary>
    public static BenchResult Roofline()
    {
        using var a = randn(1024, 1024);
        using var b = randn(1024, 1024);
        var seconds = Median(7, () => { using var c = a.matmul(b); });
        return new BenchResult("roofline", 2.0 * 1024 * 1024 * 1024 / seconds / 1e9, "GFLOP/s", "", null, "1024x1024x1024 float32 matmul");
    }

    /// <summary>
    /// The sgd approach's training step on the seed's MLP (784-800-800-800, one head of 10, batch 64) as a run does it,
    /// against the machine's roofline and against the step's GEMM floor, all measured in this process.
    /// </summary>
    public static IEnumerable<BenchResult> MlpStep()
    {
        var roofline = Roofline();
        var step = StepBenchmarks.ApproachStep("sgd", [10], steps: 200);
        var floor = StepBenchmarks.Floor(StepBenchmarks.DenseLayers(NetworkFactory.Create(BackboneRegistry.Mlp, [1, 28, 28], [10])), step.Batch);
        var gflops = floor.Flops / step.SecondsPerStep / 1e9;
        var share = gflops / roofline.Value;
        var ratio = step.SecondsPerStep / floor.Seconds;
        return [roofline,
            new BenchResult("mlp-step floor", 1000 * floor.Seconds, "ms", "", null, FormattableString.Invariant(
                $"the step's matrix products alone ({floor.Flops / 1e6:F0} MFLOP): {floor.Gflops:F0} GFLOP/s = {100 * floor.Gflops / roofline.Value:F0}% of the roofline")),
            new BenchResult("mlp-step", 1000 * step.SecondsPerStep, "ms", ">= 60% of the roofline", share >= 0.6, FormattableString.Invariant(
                $"sgd's training step, MLP 784-800-800-800-10, batch {step.Batch}: {gflops:F0} GFLOP/s = {100 * share:F0}% of the roofline")),
            new BenchResult("mlp-step / floor", ratio, "x", "<= 1.3x", ratio <= 1.3, "the step's time over its GEMM floor"),
            .. StepBenchmarks.Phases(steps: 200).Select(p => new BenchResult($"mlp-step: {p.Phase}", 1000 * p.Seconds, "ms", "", null,
                "one part of the step, timed on its own (median)"))];
    }

    /// <summary>DWA's training step on the MLP with mnist2's shapes (two tasks of 5 classes, batch 32, DWA's defaults), as a run does it.</summary>
    public static BenchResult DwaStep()
    {
        var step = StepBenchmarks.ApproachStep("dwa", [5, 5], steps: 40);
        return new BenchResult("dwa-step", 1000 * step.SecondsPerStep, "ms", "", null, $"dwa's training step on the MLP, mnist2's shapes, batch {step.Batch}, default options");
    }

    /// <summary>Every candidate OpenMP wait policy on mlp-step and dwa-step, alone and beside a second training process.</summary>
    private static IEnumerable<BenchResult> WaitPolicies(IReadOnlyList<string> retainCommand)
    {
        var timings = WaitPolicyBenchmarks.Measure(retainCommand, WaitPolicyBenchmarks.Candidates);
        return WaitPolicyBenchmarks.Results(timings, WaitPolicy.Rule);
    }

    public static BenchResult Entropy()
    {
        var seconds = EntropyComplexity.Benchmark();
        return new BenchResult("entropy", seconds, "s", "<= 10 s", seconds <= 10, "entropy complexity of 70,000 images of 32x32");
    }

    /// <summary>Fashion-MNIST's 70,000 images from the gzipped IDX files, then from the cache.</summary>
    public static IEnumerable<BenchResult> FashionLoad(string dataDir)
    {
        var folder = Path.Combine(dataDir, "fashion_mnist");
        var paths = Mnist.IdxFiles.Select(f => Mnist.FindIdx(folder, f)).ToArray();
        if (paths.Any(p => p is null)) throw new RetainException($"bench fashion-load: Fashion-MNIST not found in {folder} (run ./retain data fetch)");
        var fromGzip = Median(3, () => { Mnist.ReadIdxPair(paths[0]!, paths[1]!); Mnist.ReadIdxPair(paths[2]!, paths[3]!); });
        var cacheDir = Path.Combine(Path.GetTempPath(), $"retain-bench-{Environment.ProcessId}");
        try
        {
            var fromCache = Median(3, () =>
            {
                Mnist.ReadIdxPair(cacheDir, "fashion_mnist.train", paths[0]!, paths[1]!);
                Mnist.ReadIdxPair(cacheDir, "fashion_mnist.test", paths[2]!, paths[3]!);
            });
            return [new BenchResult("fashion-load gzip", fromGzip, "s", "<= 3 s", fromGzip <= 3, "70,000 images from the .gz IDX files"),
                    new BenchResult("fashion-load cache", fromCache, "s", "<= 0.5 s", fromCache <= 0.5, "the same from the image cache")];
        }
        finally
        {
            Directory.Delete(cacheDir, recursive: true);
        }
    }
}
