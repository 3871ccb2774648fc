using System.Globalization;
using System.Text.Json.Nodes;
using Retain.Evaluation;

namespace Retain.Tests;

/// <summary>
/// One command writing an output at a time: a run holds its outputs for its whole life, and a second run, a compress,
/// a report, an inspection or a study onto them is refused with exit code 2, naming the holder's PID.
/// </summary>
public class OutputLockTests(BaselinesSmallMnist mnist) : TempFolderTests, IClassFixture<BaselinesSmallMnist>
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(3);
    private static readonly string ThisProcess = Environment.ProcessId.ToString(CultureInfo.InvariantCulture);

    private string[] Run(string output, string lr) =>
        ["run", "-e", "mnist2", "-a", "sgd", "--nepochs", "8", "--lr-patience", "20", "--sbatch", "16", "--lr", lr,
         "--data", mnist.DataDir, "--output", Path.Combine(Folder, output)];

    [Fact]
    public void ASecondRunOntoTheSameOutputIsRefusedNamingTheFirstsPidAndTheFirstResultStands()
    {
        using (var first = new CliProcess(Folder, null, Run("shared.txt", "0.05")))
        {
            Assert.True(first.WaitForLines("  epoch ", 1, Patience), $"the first run never trained\n{first.Output}\n{first.Error}");
            var (code, _, error) = CliProcess.Run(Folder, Run("shared.txt", "0.1"));
            Assert.Equal(2, code);
            var line = Assert.Single(error.TrimEnd().Split('\n'));
            Assert.Contains($"shared.txt: in use by another retain process (PID {first.Id}, lock file {Path.Combine(Folder, "shared.lock")})", line);
            Assert.Equal(0, first.WaitForExit(Patience));
        }
        // The result is the first run's, whole: its learning rate, both tasks.
        var record = JsonNode.Parse(File.ReadAllText(Path.Combine(Folder, "shared.json")))!;
        Assert.Equal(0.05, record["training"]!["learning_rate"]!.GetValue<double>());
        Assert.Equal(2, record["tasks_completed"]!.GetValue<int>());
        // Released at the end: the next run onto it is told what is there, not that it is busy.
        var (again, _, refusal) = CliProcess.Run(Folder, Run("shared.txt", "0.1"));
        Assert.Equal(2, again);
        Assert.Contains("a complete run (2 of 2 tasks) is already there", refusal);
    }

    [Fact]
    public void EveryCommandThatWritesIsRefusedWhileAnotherHoldsItsOutputs()
    {
        // This process holds the locks (as a run in it would); each command runs in this process or a child process.
        var model = Path.Combine(Folder, "m.model");
        File.WriteAllText(model, "{}");
        var study = Path.Combine(Folder, "s.yaml");
        File.WriteAllText(study, $"name: s\noutput: out\nexperiments: [mnist2]\nseeds: 1\noptions: {{nepochs: 1, limit: 100, data: {mnist.DataDir}}}\napproaches: [sgd]\nreferences: false\n");
        var cases = new (string Stem, string[] Args, bool Child)[]
        {
            ("r", ["run", "-e", "mnist2", "-a", "sgd", "--data", mnist.DataDir, "-o", Path.Combine(Folder, "r.txt")], true),
            ("r", ["run", "-e", "mnist2", "-a", "sgd", "--data", mnist.DataDir, "-o", Path.Combine(Folder, "r.csv")], false),
            ("logs/r", ["run", "-e", "mnist2", "-a", "sgd", "--data", mnist.DataDir, "-o", Path.Combine(Folder, "elsewhere", "r.txt"), "--log-path", Path.Combine(Folder, "logs")], false),
            ("c", ["compress", "-e", "mnist2", "--data", mnist.DataDir, "-o", Path.Combine(Folder, "c")], true),
            ("rep/report", ["report", Path.Combine(Folder, "res"), "-o", Path.Combine(Folder, "rep")], false),
            ("m_masks", ["inspect", "masks", model], false),
            ("out/study", ["study", "run", study, "--jobs", "1"], true),
            ("out/summary", ["study", "summary", study], false),
        };
        Directory.CreateDirectory(Path.Combine(Folder, "res"));
        ResultFiles.WriteAccuracyMatrix(Path.Combine(Folder, "res", "mnist2_sgd_0.txt"), [[0.9, 0], [0.8, 0.9]]);
        foreach (var (stem, args, child) in cases)
        {
            using var held = OutputLock.Acquire("test", Path.Combine(Folder, stem));
            string error;
            if (child)
            {
                var result = CliProcess.Run(Folder, args);
                Assert.True(result.Code == 2, $"{string.Join(' ', args)}: exit {result.Code}\n{result.Error}");
                error = Assert.Single(result.Error.TrimEnd().Split('\n'));
            }
            else error = CliRunner.Refuses(args);
            Assert.Contains($"in use by another retain process (PID {ThisProcess}, lock file {Path.Combine(Folder, stem)}.lock)", error);
        }
        Assert.False(Directory.Exists(Path.Combine(Folder, "out", "logs")), "the refused study started no run");
        Assert.False(File.Exists(Path.Combine(Folder, "c.csv")), "the refused compress wrote nothing");
    }

    [Fact]
    public void TheLockIsHeldOnceAndReleasedWhenDisposed()
    {
        var stem = Path.Combine(Folder, "x");
        using (OutputLock.Acquire("x", stem))
        {
            var error = Assert.Throws<RetainException>(() => OutputLock.Acquire("x again", stem));
            Assert.Equal($"x again: in use by another retain process (PID {ThisProcess}, lock file {stem}.lock); wait for it to end, or write elsewhere", error.Message);
            Assert.Throws<RetainException>(() => OutputLock.RequireFree("x", stem));
            Assert.Equal(ThisProcess, File.ReadAllText(stem + ".lock").Trim());
        }
        OutputLock.RequireFree("x", stem);
        using (OutputLock.Acquire("x", stem)) { }
        // Of several stems, none is held when one of them is taken.
        using (OutputLock.Acquire("y", Path.Combine(Folder, "y")))
            Assert.Throws<RetainException>(() => OutputLock.Acquire("both", stem, Path.Combine(Folder, "y")));
        using (OutputLock.Acquire("x", stem)) { }
    }
}
