using System.Diagnostics;
using System.Globalization;
using System.Text;
using Retain.Evaluation;
using Retain.Experiments;

namespace Retain.Studies;

/// <summary>How a study's job array asks Slurm for resources.</summary>
public sealed record SlurmSettings(string? Partition, string? Time, int CpusPerTask, int? MaxParallel);

/// <summary>One submitted job array: its id and the run of each array element, in element order.</summary>
public sealed record SlurmSubmission(string JobId, string[] Runs, DateTime Submitted);

public enum StudyRunStatus { Pending, Running, Done, Failed, Partial, NotStarted }

/// <summary>
/// A study as a Slurm job array (Mammoth's <c>slurm_sbatcher</c>): one array element per pending run, each running
/// <c>retain run ... --resume</c> with as many torch threads as the CPUs it got. Elements are requeued on preemption
/// (<c>--requeue</c>) and continue from their checkpoint; results land in the study's folder exactly as a local study
/// writes them. Everything Slurm needs is kept in <c>&lt;output&gt;/slurm/</c>: the array script, the run list, the
/// submissions, and each element's exit code.
/// </summary>
public static class SlurmStudy
{
    public static string Folder(Study study) => Path.Combine(study.Output, "slurm");
    private static string SubmissionsFile(Study study) => Path.Combine(Folder(study), "submissions.json");
    private static string ExitFile(Study study, string jobId, int element) => Path.Combine(Folder(study), "exit", $"{jobId}_{element}");

    /// <summary>Writes the array script for <paramref name="runs"/> and submits it with <c>sbatch</c>.</summary>
    public static SlurmSubmission Submit(Study study, IReadOnlyList<StudyRun> runs, SlurmSettings settings, IReadOnlyList<string> retainCommand)
    {
        if (runs.Count == 0) throw new ArgumentException("nothing to submit", nameof(runs));
        var folder = Folder(study);
        Directory.CreateDirectory(Path.Combine(folder, "exit"));
        // A run of the domain or class scenario logs in the scenario's subfolder (its name says which).
        foreach (var logs in runs.Select(r => Path.GetDirectoryName(Path.Combine(study.Output, "logs", r.Name + ".log"))!).Distinct())
            Directory.CreateDirectory(logs);
        var stamp = DateTime.Now.ToString("yyyyMMdd-HHmmss-fff", CultureInfo.InvariantCulture);
        var list = Path.Combine(folder, $"array-{stamp}.runs");
        File.WriteAllLines(list, runs.Select(r => r.Name + "\t" + string.Join(' ', retainCommand.Concat(r.Arguments).Select(Shell.Quote))));
        var script = Path.Combine(folder, $"array-{stamp}.sh");
        File.WriteAllText(script, Script(study, runs, settings, list));
        var jobId = Sbatch(script);
        var submission = new SlurmSubmission(jobId, runs.Select(r => r.Name).ToArray(), DateTime.Now);
        ResultFiles.WriteRecord(SubmissionsFile(study), Submissions(study).Append(submission).ToArray());
        return submission;
    }

    /// <summary>
    /// The sbatch script: element i runs line i+1 of the run list (<c>name TAB command</c>) with the element's CPUs as
    /// torch threads, its output appended to the run's log, its exit code kept for <see cref="Status"/>.
    /// </summary>
    internal static string Script(Study study, IReadOnlyList<StudyRun> runs, SlurmSettings settings, string runList)
    {
        var text = new StringBuilder("#!/usr/bin/env bash\n");
        text.Append($"#SBATCH --job-name={Shell.Quote("retain-" + study.Name)}\n");
        text.Append($"#SBATCH --array=0-{runs.Count - 1}{(settings.MaxParallel is { } k ? $"%{k}" : "")}\n");
        text.Append($"#SBATCH --cpus-per-task={settings.CpusPerTask}\n");
        text.Append("#SBATCH --requeue\n");
        text.Append("#SBATCH --open-mode=append\n");
        text.Append($"#SBATCH --output={Path.Combine(Folder(study), "%A_%a.out")}\n");
        if (settings.Partition is { } partition) text.Append($"#SBATCH --partition={partition}\n");
        if (settings.Time is { } time) text.Append($"#SBATCH --time={time}\n");
        text.Append($$"""
            # A study of Retain ({{study.File}}): one element per run, each `retain run ... --resume`, so a requeued element
            # continues from its checkpoint and a complete run is not trained again.
            line=$(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" {{Shell.Quote(runList)}})
            name=${line%%$'\t'*}
            eval "${line#*$'\t'} --threads ${SLURM_CPUS_PER_TASK:-1}" >> {{Shell.Quote(Path.Combine(study.Output, "logs"))}}/"$name.log" 2>&1
            code=$?
            echo "$code" > {{Shell.Quote(Path.Combine(Folder(study), "exit"))}}/"${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"
            exit "$code"

            """);
        return text.ToString();
    }

    public static IReadOnlyList<SlurmSubmission> Submissions(Study study) =>
        File.Exists(SubmissionsFile(study)) ? ResultFiles.ReadRecord<SlurmSubmission[]>(SubmissionsFile(study)) : [];

    /// <summary>
    /// Each run's state from the result files, <c>squeue</c> and the elements' exit codes: done when its results are
    /// complete; pending or running while Slurm lists its element so; failed when its element, or its last attempt by a
    /// local <c>study run</c>, ended without a complete result; partial when it has results or a checkpoint but no
    /// element of it is queued; not started otherwise.
    /// </summary>
    public static IReadOnlyDictionary<StudyRun, (StudyRunStatus Status, string? Detail)> Status(Study study)
    {
        var submissions = Submissions(study);
        var queued = submissions.Count == 0 ? [] : Squeue(submissions.Select(s => s.JobId));
        var status = new Dictionary<StudyRun, (StudyRunStatus, string?)>();
        foreach (var run in study.Runs)
        {
            var existing = run.State;
            if (existing.State == RunState.Complete) { status[run] = (StudyRunStatus.Done, null); continue; }
            // The newest submission that includes the run decides.
            var latest = submissions.Select(s => (Submission: s, Element: Array.IndexOf(s.Runs, run.Name))).LastOrDefault(x => x.Element >= 0);
            // A process holding the run's outputs is writing them now: a local study's run, or one started by hand.
            var writer = RunOutputs.HeldBy(run.Paths);
            if (latest.Submission is null)
            {
                status[run] = writer is not null ? (StudyRunStatus.Running, $"PID {writer}")
                    : LocalAttempt(study, run) is { } failed ? (StudyRunStatus.Failed, failed)
                    : (existing.State == RunState.Missing ? StudyRunStatus.NotStarted : StudyRunStatus.Partial, null);
                continue;
            }
            var element = $"{latest.Submission.JobId}_{latest.Element}";
            if (queued.TryGetValue(element, out var state) && state is "RUNNING" or "COMPLETING" or "CONFIGURING")
                status[run] = (StudyRunStatus.Running, $"{element} {state}");
            else if (state is "PENDING" or "REQUEUED" or "REQUEUE_HOLD" or "REQUEUE_FED" or "SUSPENDED" or "RESIZING")
                status[run] = (StudyRunStatus.Pending, $"{element} {state}");
            else if (writer is not null)
                status[run] = (StudyRunStatus.Running, $"PID {writer}");
            else if (File.Exists(ExitFile(study, latest.Submission.JobId, latest.Element)))
                status[run] = (StudyRunStatus.Failed, $"{element} exit code {File.ReadAllText(ExitFile(study, latest.Submission.JobId, latest.Element)).Trim()}");
            else
                status[run] = (StudyRunStatus.Failed, $"{element} left the queue without an exit code (cancelled or killed)");
        }
        return status;
    }

    /// <summary>
    /// "exit code N, see its log" when the run's last attempt by <c>study run</c> here ended in an error (a stopped
    /// run, exit code 130 or 143, is partial, not failed); null otherwise.
    /// </summary>
    private static string? LocalAttempt(Study study, StudyRun run)
    {
        var file = LocalStudyRunner.ExitFile(study, run);
        if (!File.Exists(file) || !int.TryParse(File.ReadAllText(file).Trim(), out var code) || code is 0 or 130 or 143) return null;
        return $"exit code {code}, see {Path.ChangeExtension(file, ".log")}";
    }

    /// <summary>Array elements in the queue by <c>&lt;job&gt;_&lt;index&gt;</c>, with their state (one line per element).</summary>
    private static Dictionary<string, string> Squeue(IEnumerable<string> jobIds)
    {
        var (code, output, error) = Command("squeue", ["-h", "-r", "-o", "%i %T", "-j", string.Join(',', jobIds)]);
        // squeue fails for job ids it no longer knows: then none of them is queued.
        if (code != 0) return error.Contains("Invalid job id", StringComparison.OrdinalIgnoreCase) ? [] : throw new RetainException($"squeue failed: {FirstLine(error)}");
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(' ', 2))
            .Where(parts => parts.Length == 2)
            .ToDictionary(parts => parts[0], parts => parts[1].Trim());
    }

    private static string Sbatch(string script)
    {
        var (code, output, error) = Command("sbatch", ["--parsable", script]);
        if (code != 0) throw new RetainException($"sbatch {script} failed: {FirstLine(error)}");
        return output.Trim().Split(';')[0];
    }

    private static (int Code, string Output, string Error) Command(string program, IReadOnlyList<string> args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        try
        {
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, output.Result, error);
        }
        catch (System.ComponentModel.Win32Exception)
        {
            throw new RetainException($"--slurm: '{program}' is not installed here (Slurm's client commands are needed; tools/slurm-cluster.sh starts a local test cluster)");
        }
    }

    private static string FirstLine(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault()?.Trim() ?? "";
}
