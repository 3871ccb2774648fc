using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace Retain.Studies;

/// <summary>Where one run of a study stands while it runs, as its output tells.</summary>
public sealed record RunProgress(StudyRun Run, int Task, int Tasks, int Epoch, int MaxEpochs, TimeSpan Elapsed)
{
    /// <summary>The share of the run done: finished tasks, plus the running task's epochs (an upper bound on its epochs).</summary>
    public double Fraction => Tasks == 0 ? 0 : Math.Clamp((Task + (MaxEpochs == 0 ? 0 : (double)Epoch / MaxEpochs)) / Tasks, 0, 1);
}

/// <summary>How a run of the study ended in this session.</summary>
public sealed record RunOutcome(StudyRun Run, int ExitCode, TimeSpan Elapsed, string Log)
{
    public bool Succeeded => ExitCode == 0;
    public bool Interrupted => ExitCode is 130 or 143;
}

/// <summary>What a local study reports while it runs (the CLI draws it).</summary>
public interface IStudyObserver
{
    void RunStarted(StudyRun run) { }
    void RunProgressed(RunProgress progress) { }
    void RunEnded(RunOutcome outcome) { }
}

/// <summary>
/// Runs a study's pending runs on this machine, <c>jobs</c> at a time, each as its own <c>retain run ... --resume</c>
/// process with <c>threads</c> torch threads and its output in <c>&lt;output&gt;/logs/&lt;run&gt;.log</c>. A failed run
/// does not stop the others. <see cref="Stop"/> (Ctrl-C) starts no further run and asks the running ones to stop:
/// each writes a checkpoint, and the next <c>study run</c> continues them.
/// </summary>
public sealed partial class LocalStudyRunner(Study study, int jobs, int threads, IReadOnlyList<string> retainCommand)
{
    private readonly List<(StudyRun Run, Process Process)> _running = [];
    private volatile bool _stopping;

    /// <summary>Logs of the study's runs (one per run, appended to by every attempt).</summary>
    public string LogFolder => Path.Combine(study.Output, "logs");

    /// <summary>
    /// The exit code of a run's last attempt here, beside its log (<c>logs/&lt;run&gt;.exit</c>); deleted when an attempt
    /// starts. <c>study status</c> reads it to tell a run that failed from one never started.
    /// </summary>
    internal static string ExitFile(Study study, StudyRun run) => Path.Combine(study.Output, "logs", run.Name + ".exit");

    public IReadOnlyList<RunOutcome> Run(IStudyObserver observer)
    {
        Directory.CreateDirectory(LogFolder);
        var queue = new Queue<StudyRun>(study.Pending);
        var outcomes = new List<RunOutcome>();
        using var finished = new BlockingCollection<RunOutcome>();
        while (queue.Count > 0 && !_stopping || _running.Count > 0)
        {
            while (!_stopping && queue.Count > 0 && _running.Count < jobs)
            {
                var run = queue.Dequeue();
                lock (_running) _running.Add((run, Start(run, observer, finished)));
                observer.RunStarted(run);
            }
            var outcome = finished.Take();
            lock (_running) _running.RemoveAll(r => r.Run == outcome.Run);
            outcomes.Add(outcome);
            observer.RunEnded(outcome);
        }
        return outcomes;
    }

    /// <summary>
    /// Starts no further run and asks each running one to checkpoint and stop (SIGTERM, once). Not SIGINT: a study
    /// started in the background by a script ignores SIGINT, its runs inherit that, and they would train on.
    /// </summary>
    public void Stop()
    {
        if (_stopping) return;
        _stopping = true;
        lock (_running)
            foreach (var (_, process) in _running)
                if (!process.HasExited) _ = Kill(process.Id, SignalTerminate);
    }

    private Process Start(StudyRun run, IStudyObserver observer, BlockingCollection<RunOutcome> finished)
    {
        var log = Path.Combine(LogFolder, run.Name + ".log");
        Directory.CreateDirectory(Path.GetDirectoryName(log)!);
        var exitFile = ExitFile(study, run);
        File.Delete(exitFile);
        // setsid: a Ctrl-C in the terminal reaches this process only, which passes it on to each run exactly once.
        var start = new ProcessStartInfo("setsid") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in retainCommand.Concat(run.Arguments).Append("--threads").Append(threads.ToString(System.Globalization.CultureInfo.InvariantCulture)))
            start.ArgumentList.Add(a);
        var writer = new StreamWriter(log, append: true) { AutoFlush = true };
        writer.WriteLine($"# {DateTime.Now:yyyy-MM-dd HH:mm:ss} retain {string.Join(' ', run.Arguments)}");
        var clock = Stopwatch.StartNew();
        var (task, tasks, epoch, maxEpochs) = (0, 1, 0, 0);
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        void Line(string? line)
        {
            if (line is null) return;
            lock (writer) writer.WriteLine(line);
            if (TaskLine().Match(line) is { Success: true } t)
                (task, tasks, epoch, maxEpochs) = (int.Parse(t.Groups[1].Value), int.Parse(t.Groups[2].Value), 0, int.Parse(t.Groups[3].Value));
            else if (EpochLine().Match(line) is { Success: true } e) epoch = int.Parse(e.Groups[1].Value);
            else return;
            observer.RunProgressed(new RunProgress(run, task, tasks, epoch, maxEpochs, clock.Elapsed));
        }
        process.OutputDataReceived += (_, e) => Line(e.Data);
        process.ErrorDataReceived += (_, e) => Line(e.Data);
        process.Exited += (_, _) =>
        {
            process.WaitForExit(); // the redirected output is complete after this
            lock (writer) writer.Dispose();
            // Only study status reads it: losing it (a full disk, a removed folder) must not end the study.
            try { File.WriteAllText(exitFile, process.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture)); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            finished.Add(new RunOutcome(run, process.ExitCode, clock.Elapsed, log));
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    // The run command's plain output: "task 1 of 10 mnist-5-9 (at most 100 epochs)" and "  epoch   3  train loss ...".
    [GeneratedRegex(@"^task (\d+) of (\d+) .* \(at most (\d+) epochs\)")]
    private static partial Regex TaskLine();

    [GeneratedRegex(@"^  epoch +(\d+) ")]
    private static partial Regex EpochLine();

    private const int SignalTerminate = 15;

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
