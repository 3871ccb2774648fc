using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace Retain.Cli;

/// <summary>
/// How torch's OpenMP threads wait between parallel operations, as the environment variables libgomp reads when it
/// loads: <c>OMP_WAIT_POLICY</c> (ACTIVE: spin; PASSIVE: sleep at once) and <c>GOMP_SPINCOUNT</c> (spin this many
/// rounds, then sleep). Neither set: the training command chooses by its own rule (<see cref="OpenMpWaitPolicy"/>).
/// </summary>
public sealed record WaitPolicy(string? WaitPolicyVariable, string? SpinCount)
{
    public static readonly IReadOnlyList<string> Variables = ["OMP_WAIT_POLICY", "GOMP_SPINCOUNT"];

    /// <summary>No variable set: each training command chooses by retain's rule.</summary>
    public static readonly WaitPolicy Rule = new(null, null);

    /// <summary>Spinning threads: the fastest for a step of torch's operations alone with the cores to itself.</summary>
    public static readonly WaitPolicy Active = new("ACTIVE", null);

    /// <summary>The short spin: the best or within 5% of it everywhere but a plain step with the cores to itself.</summary>
    public static readonly WaitPolicy ShortSpin = new(null, "1000");

    /// <summary>The variables as a child process started with <paramref name="start"/> gets them (none for <see cref="Rule"/>).</summary>
    public void ApplyTo(ProcessStartInfo start)
    {
        foreach (var name in Variables) start.Environment.Remove(name);
        foreach (var (name, value) in Settings()) start.Environment[name] = value;
    }

    /// <summary>The variables this policy sets, as (name, value).</summary>
    public IEnumerable<(string Name, string Value)> Settings()
    {
        if (WaitPolicyVariable is { } policy) yield return ("OMP_WAIT_POLICY", policy);
        if (SpinCount is { } count) yield return ("GOMP_SPINCOUNT", count);
    }

    public override string ToString() =>
        this == Rule ? "retain's rule" : string.Join(' ', Settings().Select(s => $"{s.Name}={s.Value}"));
}

/// <summary>
/// How torch's OpenMP threads wait between parallel operations, chosen for each training command before torch loads
/// (libgomp reads <c>OMP_WAIT_POLICY</c> and <c>GOMP_SPINCOUNT</c> once, when it loads with torch). Measured on an
/// idle 2-core machine (<c>retain bench wait-policy</c>, docs/performance.md):
/// <list type="bullet">
/// <item>a step that is torch's operations alone (sgd's MLP step) is fastest with spinning threads when its threads have
/// the cores to themselves: ACTIVE 9.2 ms against 11.1 ms passive and 12.1 ms for a spin of 1,000 rounds;</item>
/// <item>beside another training process the spinning takes the cores from the threads with work (ACTIVE 36 ms); a
/// short spin of 1,000 rounds was the best (16.9 ms, passive 20.2 ms);</item>
/// <item>DWA's masked layers split the batch over .NET threads (<c>MaskedLayers</c>), which spinning OpenMP threads starve
/// even alone (ACTIVE 220 ms against 136 ms for the short spin, within 3% of the best alone and beside a process).</item>
/// </list>
/// A user's own <c>OMP_WAIT_POLICY</c> or <c>GOMP_SPINCOUNT</c> is kept as it is.
/// </summary>
public static class OpenMpWaitPolicy
{
    /// <summary>Approaches whose layers split each batch over .NET threads of their own (DWA's masked layers).</summary>
    private static readonly HashSet<string> SampleParallelApproaches = ["dwa"];

    /// <summary>
    /// The rule: spin (ACTIVE) when the command trains an approach made of torch's operations alone and its threads
    /// find as many free cores; the short spin otherwise.
    /// </summary>
    /// <param name="ownThreads">torch threads the command will use.</param>
    /// <param name="busyCores">cores other processes kept busy just before the command started.</param>
    public static WaitPolicy Choose(bool sampleParallel, int ownThreads, int cores, double busyCores) =>
        !sampleParallel && cores - busyCores >= ownThreads - 0.25 ? WaitPolicy.Active : WaitPolicy.ShortSpin;

    /// <summary>
    /// The commands that train (run, compress, bench) get the rule's policy, unless the user set one; nothing else
    /// changes. Returns the setting applied (for the run's log), or null.
    /// </summary>
    public static WaitPolicy? ApplyBeforeTorchLoads(IReadOnlyList<string> args)
    {
        if (args.Count == 0 || args[0] is not ("run" or "compress" or "bench")) return null;
        if (WaitPolicy.Variables.Any(v => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable(v)))) return null;
        // An empty value counts as unset here; libgomp would warn that it is invalid, so it goes.
        foreach (var v in WaitPolicy.Variables) Set(v, null);
        var sampleParallel = args[0] == "bench"
            ? args.Skip(1).Any(a => a.StartsWith("dwa", StringComparison.Ordinal))
            : OptionValue(args, "-a", "--approach") is { } approach && SampleParallelApproaches.Contains(approach);
        var threads = int.TryParse(OptionValue(args, null, "--threads"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var t) && t > 0
            ? t : Environment.ProcessorCount;
        var choice = Choose(sampleParallel, threads, Environment.ProcessorCount, BusyCores());
        foreach (var (name, value) in choice.Settings()) Set(name, value);
        return choice;
    }

    /// <summary>
    /// Sets (or with null removes) a variable for this process and its children. .NET keeps its own copy of the
    /// environment on Unix, and libgomp reads the C library's, so it is changed in both.
    /// </summary>
    private static void Set(string name, string? value)
    {
        Environment.SetEnvironmentVariable(name, value);
        if (!OperatingSystem.IsLinux()) return;
        _ = value is null ? unsetenv(name) : setenv(name, value, 1);
    }

    /// <summary>The value of an option given as <c>-a x</c>, <c>--approach x</c> or <c>--approach=x</c>.</summary>
    private static string? OptionValue(IReadOnlyList<string> args, string? shortName, string longName)
    {
        for (var i = 1; i < args.Count; i++)
        {
            if ((args[i] == longName || args[i] == shortName) && i + 1 < args.Count) return args[i + 1];
            if (args[i].StartsWith(longName + "=", StringComparison.Ordinal)) return args[i][(longName.Length + 1)..];
        }
        return null;
    }

    /// <summary>
    /// Cores kept busy by every process over a fifth of a second, from the kernel's CPU counters (/proc/stat): the
    /// load average would still count a build that ended a minute ago. 0 where there is no /proc/stat.
    /// </summary>
    internal static double BusyCores()
    {
        static (long Busy, long Total)? Read()
        {
            try
            {
                var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)
                    .Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
                var idle = fields[3] + (fields.Length > 4 ? fields[4] : 0);
                return (fields.Sum() - idle, fields.Sum());
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
            {
                return null;
            }
        }
        if (Read() is not { } before) return 0;
        Thread.Sleep(200);
        if (Read() is not { } after || after.Total == before.Total) return 0;
        return Environment.ProcessorCount * (double)(after.Busy - before.Busy) / (after.Total - before.Total);
    }

    [DllImport("libc.so.6", SetLastError = true)]
    private static extern int setenv(string name, string value, int overwrite);

    [DllImport("libc.so.6", SetLastError = true)]
    private static extern int unsetenv(string name);
}
