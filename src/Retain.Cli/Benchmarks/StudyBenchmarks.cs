using System.Diagnostics;
using System.Globalization;
using Retain.Evaluation;
using Retain.Studies;

namespace Retain.Benchmarks;

/// <summary>Runs of a study done one way (<paramref name="Jobs"/> at a time, <paramref name="Threads"/> torch threads each) and their wall time.</summary>
internal sealed record StudyTiming(int Jobs, int Threads, int Runs, double Seconds)
{
    public double SecondsPerRun => Seconds / Runs;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Runs} runs, {Jobs} at a time with {Threads} torch thread{(Threads == 1 ? "" : "s")} each: {Seconds:F0} s ({SecondsPerRun:F1} s per run)");
}

/// <summary>
/// The throughput of a local study (<c>retain study run</c>) on this machine: the same short runs of the MLP on
/// pmnist, once one after another with a torch thread per core (<c>--jobs 1</c>), once as one single-threaded process
/// per core (<c>--jobs</c> = cores), both through <see cref="LocalStudyRunner"/> and the child-process command a study
/// uses, so process start-up and data loading count as they do in a real study.
/// </summary>
internal static class StudyBenchmarks
{
    /// <summary>Short pmnist runs: SGD on the MLP, the first two tasks, 1000 samples per split, 5 epochs.</summary>
    private static readonly (string Name, string Value)[] RunOptions = [("test-mode", "2"), ("limit", "1000"), ("nepochs", "5")];

    /// <summary>The benchmark's runs as a user would type their options.</summary>
    public static string RunDescription => "pmnist, sgd on the MLP, " + string.Join(' ', RunOptions.Select(o => $"--{o.Name} {o.Value}"));

    /// <param name="retainCommand">The command that starts <c>retain</c> in a child process.</param>
    /// <param name="runs">Runs each way (seeds 0, 1, ...): a multiple of the core count keeps every core busy to the end.</param>
    public static (StudyTiming Sequential, StudyTiming Parallel) Throughput(string dataDir, IReadOnlyList<string> retainCommand, int runs = 4)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(runs, 1);
        var cores = Environment.ProcessorCount;
        var folder = Path.Combine(Path.GetTempPath(), $"retain-bench-study-{Environment.ProcessId}");
        // Untimed: the first run of the data builds the image cache and brings the files into memory.
        Time(folder, "warm-up", 1, cores, 1, dataDir, retainCommand);
        var sequential = Time(folder, "sequential", 1, cores, runs, dataDir, retainCommand);
        var parallel = Time(folder, "parallel", cores, 1, runs, dataDir, retainCommand);
        Directory.Delete(folder, recursive: true); // kept when a run failed: the error names its log
        return (sequential, parallel);
    }

    private static StudyTiming Time(string folder, string name, int jobs, int threads, int runs, string dataDir, IReadOnlyList<string> retainCommand)
    {
        var output = Path.Combine(folder, name);
        StudyOption[] options = [.. RunOptions.Select(o => new StudyOption(o.Name, o.Value, 0)), new StudyOption("data", dataDir, 0)];
        var study = new Study(Path.Combine(folder, name + ".yaml"), name, output, Enumerable.Range(0, runs)
            .Select(seed => new StudyRun("pmnist", "sgd", seed, null, options, ResultFiles.DefaultOutput(output, "pmnist", "sgd", seed, null), 0))
            .ToArray());
        var clock = Stopwatch.StartNew();
        var outcomes = new LocalStudyRunner(study, jobs, threads, retainCommand).Run(new Unobserved());
        var seconds = clock.Elapsed.TotalSeconds;
        if (outcomes.FirstOrDefault(o => !o.Succeeded) is { } failed)
            throw new RetainException($"bench study-throughput: run {failed.Run.Name} ended with exit code {failed.ExitCode} (log {failed.Log})");
        return new StudyTiming(jobs, threads, runs, seconds);
    }

    private sealed class Unobserved : IStudyObserver;
}
