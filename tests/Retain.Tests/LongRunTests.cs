using Retain.Cli;
using Retain.Experiments;

namespace Retain.Tests;

/// <summary>
/// Long runs that survive, through the real command: killed with SIGKILL at random moments and resumed, stopped
/// with SIGINT or SIGTERM, and existing results that are never silently replaced.
/// </summary>
public class LongRunTests(BaselinesSmallMnist mnist, Xunit.Abstractions.ITestOutputHelper log) : TempFolderTests, IClassFixture<BaselinesSmallMnist>
{
    /// <summary>pmnist's first three tasks on the small slice: about 30 short epochs, one checkpoint per epoch.</summary>
    private string[] ThreeTaskRun(string name, params string[] extra) =>
    [
        "run", "-e", "pmnist", "-a", "sgd", "--test-mode", "3", "--limit", "200", "--nepochs", "10", "--sbatch", "16",
        "--lr-patience", "20", "--checkpoint-every", "1", "--data", mnist.DataDir, "--output", Path.Combine(Folder, name + ".txt"), .. extra,
    ];

    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(3);

    [Fact]
    public void TenKillsAtRandomMomentsThenResumingGiveTheUninterruptedResult()
    {
        var (code, _, error) = CliProcess.Run(Folder, ThreeTaskRun("reference"));
        Assert.True(code == 0, error);

        var random = new Random(2024);
        // Where each run started: null for the beginning, else the checkpoint it resumed from.
        var starts = new List<(int Task, int Epoch)?>();
        for (var i = 0; i < 10; i++)
        {
            using var cli = new CliProcess(Folder, null, ThreeTaskRun("soak", "--resume"));
            // Kill once the process is training: after one or two more epochs, and then a random part of an epoch,
            // so kills land anywhere: between steps, during evaluation, while a checkpoint is written.
            Assert.True(cli.WaitForLines("  epoch ", random.Next(1, 3), Patience), $"kill {i}: the run ended or stalled before training\n{cli.Output}\n{cli.Error}");
            Thread.Sleep(random.Next(0, 150));
            cli.Signal("KILL");
            Assert.Equal(137, cli.WaitForExit(Patience));
            Assert.DoesNotContain("Wrote ", cli.Output);
            starts.Add(ResumedFrom(cli.Output));
        }
        string output;
        (code, output, error) = CliProcess.Run(Folder, ThreeTaskRun("soak", "--resume"));
        Assert.True(code == 0, error);
        starts.Add(ResumedFrom(output));

        // What the kills did: each one stopped a run before its end, and the next run continued from the last
        // checkpoint, never from an earlier place, so the runs made their way through the tasks across the kills.
        log.WriteLine($"kills: 10; each run started at (task, epochs done): {string.Join(", ", starts.Select(s => s?.ToString() ?? "the beginning"))}");
        var reached = starts.Select(s => s ?? (-1, -1)).ToArray();
        Assert.True(reached.Zip(reached.Skip(1)).All(p => p.First.CompareTo(p.Second) <= 0), $"resumed from: {string.Join(", ", starts)}");
        Assert.NotNull(starts[^1]);
        // A run killed after two epoch lines has written the checkpoint of the first (it comes before the second line),
        // so the next run starts further on: the seeded draws wait for two lines four times, hence five places at least.
        Assert.True(starts.Distinct().Count() >= 5, $"the kills landed in few places: {string.Join(", ", starts)}");
        ResultComparison.AssertSameResults(Path.Combine(Folder, "reference.txt"), Path.Combine(Folder, "soak.txt"));
    }

    /// <summary>
    /// The checkpoint a run said it resumed from ("resumed from the checkpoint (task 1, after epoch 3)" or "(after
    /// task 0)"), as the task being trained and the epochs of it done; null for a run that started from the beginning.
    /// </summary>
    private static (int Task, int Epoch)? ResumedFrom(string output)
    {
        var line = output.Split('\n').SingleOrDefault(l => l.StartsWith("resumed from the checkpoint (", StringComparison.Ordinal));
        if (line is null) return null;
        if (System.Text.RegularExpressions.Regex.Match(line, @"\(task (\d+), after epoch (\d+)\)") is { Success: true } epoch)
            return (int.Parse(epoch.Groups[1].Value), int.Parse(epoch.Groups[2].Value));
        var task = System.Text.RegularExpressions.Regex.Match(line, @"\(after task (\d+)\)");
        Assert.True(task.Success, line);
        return (int.Parse(task.Groups[1].Value) + 1, 0);
    }

    [Theory]
    [InlineData("INT", 130)]
    [InlineData("TERM", 143)]
    public void ASignalCheckpointsAndPrintsTheCommandThatResumes(string signal, int exitCode)
    {
        var (code, _, error) = CliProcess.Run(Folder, ThreeTaskRun("reference"));
        Assert.True(code == 0, error);

        using (var cli = new CliProcess(Folder, null, ThreeTaskRun("stopped")))
        {
            Assert.True(cli.WaitForLines("  epoch ", 2, Patience), cli.Error);
            cli.Signal(signal);
            Assert.Equal(exitCode, cli.WaitForExit(Patience));
            var line = cli.Error.Split('\n').Single(l => l.Contains("Resume with:", StringComparison.Ordinal));
            Assert.Contains($"interrupted by SIG{signal}", line);
            Assert.EndsWith("--resume", line.TrimEnd());
            Assert.Contains("./retain run -e pmnist -a sgd", line);
            Assert.True(File.Exists(Path.Combine(Folder, "stopped.ckpt")));
        }

        (code, _, error) = CliProcess.Run(Folder, ThreeTaskRun("stopped", "--resume"));
        Assert.True(code == 0, error);
        ResultComparison.AssertSameResults(Path.Combine(Folder, "reference.txt"), Path.Combine(Folder, "stopped.txt"));
    }

    [Fact]
    public void ACompleteResultIsNeverReplacedSilently()
    {
        // Tasks long enough (about a second each) that the replacing run below is killed during its second task.
        string[] Run(string name, params string[] extra) =>
            ["run", "-e", "mnist2", "-a", "sgd", "--nepochs", "10", "--limit", "1000", "--data", mnist.DataDir, "--output", Path.Combine(Folder, name + ".txt"), .. extra];
        var output = Path.Combine(Folder, "done.txt");
        var (code, _, error) = CliProcess.Run(Folder, Run("done"));
        Assert.True(code == 0, error);
        var complete = (File.ReadAllText(output), ResultComparison.WithoutTimings(Path.ChangeExtension(output, ".json")));

        // The same name again: exit 2, naming the file and the three ways on; nothing is touched.
        (code, _, error) = CliProcess.Run(Folder, Run("done"));
        Assert.Equal(2, code);
        Assert.Single(error.TrimEnd().Split('\n'));
        Assert.Contains("done.json: a complete run (2 of 2 tasks) is already there", error);
        Assert.Contains("--resume", error);
        Assert.Contains("--overwrite", error);
        Assert.Contains("--name", error);

        // --resume of a complete run has nothing to do.
        (code, var text, error) = CliProcess.Run(Folder, Run("done", "--resume"));
        Assert.True(code == 0, error);
        Assert.Contains("nothing to resume", text);
        // With another value of an option the results depend on, the complete run is not this run's result.
        (code, _, error) = CliProcess.Run(Folder, Run("done", "--resume", "--lr", "0.5"));
        Assert.Equal(2, code);
        Assert.Equal($"retain: error: --resume: --lr is 0.5 here but 0.05 in the complete run {Path.ChangeExtension(output, ".json")}; " +
            "give the same options, --overwrite to replace it, or another --name or --output to write another run", error.Trim());

        // --overwrite, killed after its first task: the complete result is still there, untouched.
        using (var cli = new CliProcess(Folder, null, Run("done", "--overwrite")))
        {
            Assert.True(cli.WaitForLines("test accuracy", 1, Patience), $"the run ended or stalled before its first task was tested\n{cli.Output}\n{cli.Error}");
            cli.Signal("KILL");
            cli.WaitForExit(Patience);
        }
        Assert.Equal(complete, (File.ReadAllText(output), ResultComparison.WithoutTimings(Path.ChangeExtension(output, ".json"))));
        Assert.True(File.Exists(Path.Combine(Folder, "done.ckpt")), "the replacing run's checkpoint");

        // Resuming the replacing run completes it; only then are the results replaced (here by equal ones: same seed).
        (code, _, error) = CliProcess.Run(Folder, Run("done", "--resume"));
        Assert.True(code == 0, error);
        Assert.Equal(complete, (File.ReadAllText(output), ResultComparison.WithoutTimings(Path.ChangeExtension(output, ".json"))));
        Assert.False(File.Exists(Path.Combine(Folder, "done.ckpt")));
    }

    [Fact]
    public void AResumeWithOtherOptionsIsRefusedNamingTheOption()
    {
        using (var cli = new CliProcess(Folder, null, ThreeTaskRun("changed")))
        {
            // The second epoch's line comes after the first epoch's checkpoint.
            Assert.True(cli.WaitForLines("  epoch ", 2, Patience), cli.Error);
            cli.Signal("KILL");
            cli.WaitForExit(Patience);
        }
        var (code, _, error) = CliProcess.Run(Folder, [.. ThreeTaskRun("changed", "--resume"), "--lr", "0.1"]);
        Assert.Equal(2, code);
        Assert.Contains("--resume: --lr is 0.1 here but 0.05 in the checkpoint", error);
        Assert.Single(error.TrimEnd().Split('\n'));
    }

    [Fact]
    public void ALossThatIsNotANumberStopsTheRunWithExitCode3AndKeepsTheCheckpoint()
    {
        // Epoch 1 at lr 0.1 (warm-up), then lr 1e10: the loss overflows in epoch 2.
        var (code, _, error) = CliProcess.Run(Folder,
            ["run", "-e", "mnist2", "-a", "sgd", "--nepochs", "4", "--lr", "1e10", "--warmup", "1,1e11", "--limit", "100",
             "--checkpoint-every", "1", "--data", mnist.DataDir, "--output", Path.Combine(Folder, "nan.txt")]);
        Assert.Equal(3, code);
        Assert.Single(error.TrimEnd().Split('\n'));
        Assert.Matches(@"the training loss became (NaN|-?∞|-?Infinity) in task 0, epoch 2", error);
        Assert.True(File.Exists(Path.Combine(Folder, "nan.ckpt")), "the checkpoint of epoch 1 is kept");
        Assert.False(File.Exists(Path.Combine(Folder, "nan.txt")), "no result is reported");
    }
}
