using System.Diagnostics;
using System.Globalization;
using Retain.Cli;

namespace Retain.Benchmarks;

/// <summary>Where a measurement runs: alone, or while a second process trains on the same cores.</summary>
internal enum Neighbour { None, Training }

/// <summary>One workload's median seconds per step under one policy in one situation.</summary>
internal sealed record PolicyTiming(WaitPolicy Policy, Neighbour Neighbour, string Workload, double Seconds);

/// <summary>
/// <c>retain bench wait-policy</c>: every candidate policy measured on the MLP's training step and MLP-DWA's, alone
/// and beside a second training process. Each measurement is a fresh child process (libgomp reads its variables
/// once, when it loads) running <c>retain bench mlp-step</c> or <c>retain bench dwa-step</c>, so that under retain's
/// rule each chooses as a run of that approach would; the second process is <c>retain bench</c>'s own load (sgd
/// training the MLP without end, with the same policy: two runs started by the same launcher), so the situation is
/// the same on every machine. Rounds go through every combination in turn, so a change in the machine's
/// load spreads over all of them; each cell is the median of its rounds.
/// </summary>
internal static class WaitPolicyBenchmarks
{
    public static readonly IReadOnlyList<string> Workloads = ["mlp-step", "dwa-step"];

    /// <summary>The candidates: retain's rule, passive, active and bounded spins.</summary>
    public static readonly IReadOnlyList<WaitPolicy> Candidates =
        [WaitPolicy.Rule, new("PASSIVE", null), WaitPolicy.Active, WaitPolicy.ShortSpin, new(null, "3000"), new(null, "10000")];

    public static IReadOnlyList<PolicyTiming> Measure(IReadOnlyList<string> retainCommand, IReadOnlyList<WaitPolicy> policies, int rounds = 3)
    {
        var samples = new Dictionary<(WaitPolicy, Neighbour, string), List<double>>();
        for (var round = 0; round < rounds; round++)
            foreach (var neighbour in Enum.GetValues<Neighbour>())
                foreach (var policy in policies)
                    foreach (var (workload, seconds) in MeasureOnce(retainCommand, policy, neighbour))
                    {
                        var key = (policy, neighbour, workload);
                        if (!samples.TryGetValue(key, out var list)) samples[key] = list = [];
                        list.Add(seconds);
                    }
        return samples.Select(kv => new PolicyTiming(kv.Key.Item1, kv.Key.Item2, kv.Key.Item3, Median(kv.Value))).ToArray();
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    /// <summary>One child process per workload under <paramref name="policy"/>, each beside a training process if asked.</summary>
    private static IEnumerable<(string Workload, double Seconds)> MeasureOnce(IReadOnlyList<string> retainCommand, WaitPolicy policy, Neighbour neighbour)
    {
        foreach (var workload in Workloads)
        {
            using var load = neighbour == Neighbour.Training ? StartLoad(retainCommand, policy) : null;
            try
            {
                var start = Command(retainCommand, ["bench", workload, "--tsv"], policy);
                using var child = Process.Start(start) ?? throw new RetainException($"bench wait-policy: could not start {start.FileName}");
                var error = child.StandardError.ReadToEndAsync();
                var output = child.StandardOutput.ReadToEnd();
                child.WaitForExit();
                // Exit code 1 means a target was missed, which is what the parent reports on; anything else is a failure.
                if (child.ExitCode is not (0 or 1))
                    throw new RetainException($"bench wait-policy: the measuring process ended with exit code {child.ExitCode}: {error.Result.Trim()}");
                yield return (workload, BenchTsv.Parse(output).TryGetValue(workload, out var ms) ? ms / 1000
                    : throw new RetainException($"bench wait-policy: the measuring process reported no {workload}"));
            }
            finally
            {
                if (load is not null && !load.HasExited)
                {
                    load.Kill(entireProcessTree: true);
                    load.WaitForExit();
                }
            }
        }
    }

    /// <summary>Starts the second process and returns once its first training step is done.</summary>
    private static Process StartLoad(IReadOnlyList<string> retainCommand, WaitPolicy policy)
    {
        var start = Command(retainCommand, ["bench", "--load"], policy);
        var load = Process.Start(start) ?? throw new RetainException($"bench wait-policy: could not start {start.FileName}");
        _ = load.StandardError.ReadToEndAsync();
        var line = load.StandardOutput.ReadLineAsync();
        if (!line.Wait(TimeSpan.FromMinutes(2)) || line.Result is null)
        {
            load.Kill(entireProcessTree: true);
            throw new RetainException("bench wait-policy: the load process did not start training");
        }
        _ = load.StandardOutput.ReadToEndAsync();
        return load;
    }

    private static ProcessStartInfo Command(IReadOnlyList<string> retainCommand, IEnumerable<string> arguments, WaitPolicy policy)
    {
        var start = new ProcessStartInfo(retainCommand[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in retainCommand.Skip(1).Concat(arguments)) start.ArgumentList.Add(a);
        policy.ApplyTo(start);
        return start;
    }

    /// <summary>The table's rows: every timing, then per workload and situation how far <paramref name="current"/> is from the best.</summary>
    public static IEnumerable<BenchResult> Results(IReadOnlyList<PolicyTiming> timings, WaitPolicy current)
    {
        foreach (var t in timings.OrderBy(t => t.Workload).ThenBy(t => t.Neighbour))
            yield return new BenchResult($"{t.Workload}, {Describe(t.Neighbour)}", 1000 * t.Seconds, "ms", "", null, t.Policy.ToString());
        foreach (var group in timings.GroupBy(t => (t.Workload, t.Neighbour)))
        {
            var best = group.MinBy(t => t.Seconds)!;
            var mine = group.Single(t => t.Policy == current);
            var ratio = mine.Seconds / best.Seconds;
            yield return new BenchResult($"{group.Key.Workload}, {Describe(group.Key.Neighbour)}: {current} / best", ratio, "x", "<= 1.05x", ratio <= 1.05,
                string.Create(CultureInfo.InvariantCulture, $"best: {best.Policy} ({1000 * best.Seconds:F2} ms)"));
        }
    }

    private static string Describe(Neighbour neighbour) => neighbour == Neighbour.None ? "alone" : "beside a training process";
}

/// <summary>The tab-separated form of <c>retain bench --tsv</c>: name, value, unit, target, met, note.</summary>
internal static class BenchTsv
{
    public static string Format(BenchResult r) => string.Join('\t', r.Name, r.Value.ToString("R", CultureInfo.InvariantCulture), r.Unit, r.Target,
        r.Met switch { true => "met", false => "missed", null => "" }, r.Note);

    /// <summary>Each line's value by name.</summary>
    public static Dictionary<string, double> Parse(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries)
        .Select(line => line.TrimEnd('\r').Split('\t'))
        .Where(f => f.Length >= 2 && double.TryParse(f[1], NumberStyles.Float, CultureInfo.InvariantCulture, out _))
        .ToDictionary(f => f[0], f => double.Parse(f[1], CultureInfo.InvariantCulture));
}
