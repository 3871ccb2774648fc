using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Retain.Tests;

/// <summary>
/// The real one-node Slurm cluster of this checkout, run by <c>tools/slurm-cluster.sh</c>. <see cref="Instance"/>
/// starts it on first use (at once when CI or a user started it already); if it cannot start, every test that uses it
/// fails with the script's one-line reason. Processes that call Slurm's commands need <see cref="Environment"/>.
/// Accounting is off, so <c>sacct</c> does not work: finished jobs are read from the cluster's completion log.
/// </summary>
public sealed class SlurmCluster
{
    private static readonly Lazy<SlurmCluster> Shared = new(Start);
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(30);

    public static SlurmCluster Instance => Shared.Value;

    /// <summary>The variables a child process needs to reach this cluster (SLURM_CONF).</summary>
    public IReadOnlyDictionary<string, string> Environment { get; }

    /// <summary>The completion log (jobcomp/filetxt): one line per finished job or array element.</summary>
    public string CompletionLog { get; }

    private SlurmCluster(string configuration)
    {
        Environment = new Dictionary<string, string> { ["SLURM_CONF"] = configuration };
        CompletionLog = File.ReadLines(configuration).Where(line => line.StartsWith("JobCompLoc=", StringComparison.Ordinal))
            .Select(line => line["JobCompLoc=".Length..]).Single();
    }

    private static SlurmCluster Start()
    {
        var script = Path.Combine(TestSupport.RepositoryRoot, "tools", "slurm-cluster.sh");
        // Generous: on a fresh machine the script installs Debian's packages first (about 16 s here).
        var result = ChildProcess.Run(script, ["start"], TimeSpan.FromMinutes(10));
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"tools/slurm-cluster.sh start failed (exit {result.ExitCode}): {result.Error.Trim()}");
        var configuration = result.Output.Split('\n', StringSplitOptions.TrimEntries)
            .LastOrDefault(line => line.StartsWith("SLURM_CONF=", StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"tools/slurm-cluster.sh start printed no SLURM_CONF=<path>: {result.Output.Trim()}");
        return new SlurmCluster(configuration["SLURM_CONF=".Length..]);
    }

    /// <summary>Submits a batch script (its #SBATCH lines apply; <paramref name="options"/> come before it on the
    /// command line) from the script's folder, so relative paths in it start there. Returns the job id.</summary>
    public long Sbatch(string scriptPath, params string[] options)
    {
        var script = Path.GetFullPath(scriptPath);
        var output = Command("sbatch", ["--parsable", .. options, script], Path.GetDirectoryName(script));
        // --parsable prints "<job id>" or "<job id>;<cluster>".
        return long.Parse(output.Split(';')[0].Trim(), CultureInfo.InvariantCulture);
    }

    /// <summary>The job's records in the queue, in any state: a whole array while it waits ("12_[0-3%2]"), then each
    /// element ("12_0"); finished ones stay listed for MinJobAge (300 s) after they end.</summary>
    public IReadOnlyList<SlurmJob> Squeue(long jobId) =>
        Command("squeue", ["--noheader", "--states=all", $"--jobs={jobId}", "--format=%i %T"])
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => line.Split(' ')).Select(fields => new SlurmJob(fields[0], fields[1])).ToList();

    /// <summary>Waits until every element of the job has finished, then returns how each ended (one per element, by
    /// array index). Past <paramref name="timeout"/> it throws, naming the states it saw last.</summary>
    public IReadOnlyList<SlurmCompletion> WaitUntilDone(long jobId, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var jobs = Squeue(jobId);
            if (jobs.Count > 0 && jobs.All(job => job.Finished))
            {
                var completions = Completions(jobId);
                if (completions.Count >= jobs.Count) return completions;
            }
            if (clock.Elapsed > timeout)
                throw new TimeoutException($"Slurm job {jobId} not done after {timeout.TotalSeconds:0} s: {string.Join(", ", jobs)}");
            Thread.Sleep(250);
        }
    }

    /// <summary>How the job's finished elements ended, from the completion log: the last record of each element
    /// (a requeued element is logged again).</summary>
    public IReadOnlyList<SlurmCompletion> Completions(long jobId) =>
        (File.Exists(CompletionLog) ? File.ReadLines(CompletionLog) : [])
            .Select(SlurmCompletion.Parse)
            .Where(c => c.ArrayJobId == jobId || (c.ArrayJobId is null && c.JobId == jobId))
            .GroupBy(c => c.ArrayTaskId).Select(element => element.Last())
            .OrderBy(c => c.ArrayTaskId).ToList();

    private string Command(string program, IEnumerable<string> arguments, string? workingDirectory = null)
    {
        var result = ChildProcess.Run(program, arguments, CommandTimeout, Environment, workingDirectory);
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"{program} failed (exit {result.ExitCode}): {result.Error.Trim()}");
        return result.Output;
    }
}

/// <summary>A record of <c>squeue</c>: a job, an array element or the still-waiting rest of an array.</summary>
public sealed record SlurmJob(string Id, string State)
{
    // Slurm's final states; anything else (PENDING, RUNNING, COMPLETING, REQUEUED, ...) may still change.
    private static readonly HashSet<string> FinalStates =
        ["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "PREEMPTED", "BOOT_FAIL", "DEADLINE", "OUT_OF_MEMORY"];

    public bool Finished => FinalStates.Contains(State);
}

/// <summary>One line of the completion log: a finished job or array element, its final state and exit code.</summary>
public sealed record SlurmCompletion(long JobId, long? ArrayJobId, int? ArrayTaskId, string State, int ExitCode)
{
    public static SlurmCompletion Parse(string line)
    {
        string? Field(string name)
        {
            var match = Regex.Match(line, $"(?:^| ){name}=(\\S*)");
            return match.Success ? match.Groups[1].Value : null;
        }
        var jobId = Field("JobId") ?? throw new FormatException($"completion log line without JobId: {line}");
        // ExitCode=<code>:<signal>.
        var exitCode = Field("ExitCode")?.Split(':')[0] ?? throw new FormatException($"completion log line without ExitCode: {line}");
        return new SlurmCompletion(long.Parse(jobId, CultureInfo.InvariantCulture),
            Field("ArrayJobId") is { } arrayJob ? long.Parse(arrayJob, CultureInfo.InvariantCulture) : null,
            Field("ArrayTaskId") is { } task ? int.Parse(task, CultureInfo.InvariantCulture) : null,
            Field("JobState") ?? throw new FormatException($"completion log line without JobState: {line}"),
            int.Parse(exitCode, CultureInfo.InvariantCulture));
    }
}
