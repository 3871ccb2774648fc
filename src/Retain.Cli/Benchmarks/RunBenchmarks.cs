using System.Globalization;
using Retain.Experiments;

namespace Retain.Benchmarks;

/// <summary>A short run timed with the task-agnostic evaluation (<c>--eval both</c>, the default) and without it.</summary>
internal sealed record EvaluationTiming(string Approach, string DataSource, double BothSeconds, double AwareSeconds)
{
    /// <summary>The run's options as on the command line.</summary>
    public string Run => $"--experiment pmnist --approach {Approach} --test-mode 3 --nepochs 5";

    /// <summary>The task-agnostic evaluation's share of the default run's time.</summary>
    public double AgnosticShare => 1 - AwareSeconds / BothSeconds;
}

/// <summary>
/// Whole runs for <c>retain bench</c>: the run the docs compare with the original code (pmnist, sgd, the first 3
/// tasks, 5 epochs each), and what the task-agnostic evaluation adds to a run's time.
/// </summary>
internal static class RunBenchmarks
{
    /// <summary>
    /// The original code (PyTorch 1.13.1 on the CPU, 2 threads) on the same run and data: recorded on an idle 2-core
    /// machine of this kind (issue 24), not measured here. Its work: per epoch, training, then the evaluation of the
    /// training and the validation set; after each task, the test sets of the tasks so far: the work of
    /// <c>--eval aware</c>, which also tests each task before training it and scores the validation sets after each task.
    /// </summary>
    public const double OriginalSeconds = 149;

    /// <summary>
    /// <paramref name="approach"/> on pmnist's first 3 tasks, 5 epochs each, with <c>--eval both</c> and
    /// <c>--eval aware</c>, alternately, <paramref name="repetitions"/> times each: the mean run times.
    /// </summary>
    public static EvaluationTiming Pmnist(string approach, string dataDir, int repetitions = 2)
    {
        var folder = Path.Combine(Path.GetTempPath(), $"retain-bench-runs-{Environment.ProcessId}");
        try
        {
            double both = 0, aware = 0;
            var source = "";
            for (var i = 0; i < repetitions; i++)
                foreach (var setting in new[] { EvaluationSetting.Both, EvaluationSetting.Aware })
                {
                    var record = ExperimentRunner.Run(new RunConfig
                    {
                        Experiment = "pmnist", Approach = approach, TestMode = 3, Epochs = 5, Evaluation = setting, DataDir = dataDir,
                        Output = Path.Combine(folder, $"{approach}-{setting}-{i}.txt"), Overwrite = true,
                    });
                    if (setting == EvaluationSetting.Both) both += record.Seconds / repetitions;
                    else aware += record.Seconds / repetitions;
                    source = record.DataSource;
                }
            return new EvaluationTiming(approach, source, both, aware);
        }
        finally
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>The comparison with the original code, and the agnostic evaluation's share of sgd's and hat's run.</summary>
    public static IEnumerable<BenchResult> Results(string dataDir)
    {
        var sgd = Pmnist("sgd", dataDir);
        var ratio = OriginalSeconds / sgd.AwareSeconds;
        yield return new BenchResult("pmnist-sgd", sgd.BothSeconds, "s", "", null, $"retain run {sgd.Run} (default --eval both), data {Path.GetFileName(sgd.DataSource)}");
        yield return new BenchResult("pmnist-sgd --eval aware", sgd.AwareSeconds, "s", "", null, "the same run without the task-agnostic evaluation: the original's work");
        yield return new BenchResult("pmnist-sgd vs original", ratio, "x", ">= 5x", ratio >= 5, string.Create(CultureInfo.InvariantCulture,
            $"the original code's recorded {OriginalSeconds:F0} s (PyTorch 1.13.1, CPU, 2 threads) over --eval aware's; over the default run's: {OriginalSeconds / sgd.BothSeconds:F1}x"));
        yield return Share(sgd);
        yield return Share(Pmnist("hat", dataDir));
    }

    private static BenchResult Share(EvaluationTiming t) => new($"eval both share, {t.Approach}", 100 * t.AgnosticShare, "%", "< 10 %", t.AgnosticShare < 0.1,
        string.Create(CultureInfo.InvariantCulture, $"retain run {t.Run}: {t.BothSeconds:F1} s with --eval both, {t.AwareSeconds:F1} s with --eval aware"));
}
