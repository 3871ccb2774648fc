using System.Diagnostics;
using Retain.Cli;
using Retain.Evaluation;
using Retain.Experiments;
using Retain.Studies;

namespace Retain.Tests;

/// <summary>
/// Studies run for real: local processes in parallel, stopped halfway and continued, summarised, and submitted as a
/// job array to the checkout's Slurm cluster, whose results must equal the local ones bit for bit.
/// </summary>
public class StudyRunTests(BaselinesSmallMnist mnist) : TempFolderTests, IClassFixture<BaselinesSmallMnist>
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(5);

    /// <summary>sgd and ewc on mnist2's small slice, two seeds, with or without the references; a few seconds a run.</summary>
    private string WriteStudy(string name, bool references = true)
    {
        var path = Path.Combine(Folder, name + ".yaml");
        File.WriteAllText(path, $$"""
            name: {{name}}
            output: out-{{name}}
            experiments: [mnist2]
            seeds: 2
            options: {nepochs: 2, limit: 100, sbatch: 32, data: {{mnist.DataDir}}}
            approaches:
              sgd: {}
              ewc: {lamb: 100}
            references: {{(references ? "true" : "false")}}
            """);
        return path;
    }

    private static Study Load(string path) => Study.Load(path, RunCommand.OptionNames);

    [Fact]
    public void RunsEveryRunInParallelThenSkipsThemAndSummarises()
    {
        var file = WriteStudy("local");
        var (code, output, error) = CliProcess.Run(Folder, "study", "run", file, "--jobs", "2");
        Assert.True(code == 0, output + error);
        var study = Load(file);
        Assert.Equal(8, study.Runs.Count); // sgd, ewc, joint, random × 2 seeds
        Assert.All(study.Runs, r => Assert.Equal(RunState.Complete, r.State.State));
        Assert.All(study.Runs, r => Assert.True(File.Exists(Path.Combine(study.Output, "logs", r.Name + ".log"))));

        // Complete runs are skipped; --dry-run lists each with its state and command.
        var stamps = study.Runs.Select(r => File.GetLastWriteTimeUtc(r.Output)).ToArray();
        (code, output, error) = CliProcess.Run(Folder, "study", "run", file, "--jobs", "2", "--dry-run");
        Assert.True(code == 0, error);
        Assert.Contains("8 runs (8 complete, 0 to run)", output);
        Assert.Contains("mnist2_ewc_1", output);
        Assert.Equal(stamps, study.Runs.Select(r => File.GetLastWriteTimeUtc(r.Output)));

        // The summary's numbers are the metrics of the runs' own files, averaged over the seeds.
        (code, output, error) = CliProcess.Run(Folder, "study", "summary", file);
        Assert.True(code == 0, error);
        var csv = File.ReadAllLines(Path.Combine(study.Output, "summary.csv"));
        var ewc = csv.Single(l => l.StartsWith("task,mnist2,ewc,", StringComparison.Ordinal)).Split(',');
        double Acc(int seed) => Metrics.AverageAccuracy(AccuracyMatrix.Read(study.Runs.Single(r => r.Name == $"mnist2_ewc_{seed}").Output));
        Assert.Equal((Acc(0) + Acc(1)) / 2, double.Parse(ewc[6], System.Globalization.CultureInfo.InvariantCulture), 6);
        Assert.Equal("0 1", ewc[4]);

        // An option changed after the runs completed: their results are not taken as the new option's. The study
        // stops before running anything, at the option's line, names every run made with the old value (both seeds),
        // and keeps the results.
        File.WriteAllText(file, File.ReadAllText(file).Replace("ewc: {lamb: 100}", "ewc: {lamb: 50}"));
        (code, output, error) = CliProcess.Run(Folder, "study", "run", file, "--jobs", "2");
        Assert.Equal(2, code);
        var ewc0 = Path.Combine(study.Output, "mnist2_ewc_0.json");
        Assert.Equal($"retain: error: {file}: line 8 (mnist2_ewc_0): --lamb is 50 in the study but 100 in {ewc0}; " +
            "1 more made with other options than the study's: mnist2_ewc_1; " +
            "delete those runs' files to run them again with the study's options, or give the study another output", error.Trim());
        Assert.Equal(stamps, study.Runs.Select(r => File.GetLastWriteTimeUtc(r.Output)));
    }

    /// <param name="signal">Ctrl-C at a terminal (INT), or TERM to a study a script started in the background, which
    /// ignores SIGINT as its runs do.</param>
    [Theory]
    [InlineData("INT", false)]
    [InlineData("TERM", true)]
    public void StoppedHalfwayTheNextRunFinishesOnlyWhatIsMissing(string signal, bool inBackground)
    {
        var file = WriteStudy("stopped", references: false);
        var study = Load(file);
        using (var cli = new CliProcess(Folder, null, inBackground, "study", "run", file, "--jobs", "1"))
        {
            // Stop once the first run is complete and the second has trained an epoch (so it has a checkpoint).
            Assert.True(cli.WaitForLines("complete ", 1, Patience), cli.Output + cli.Error);
            var second = Path.Combine(study.Output, "logs", study.Runs[1].Name + ".log");
            Assert.True(TestSupport.WaitUntil(
                () => File.Exists(second) && File.ReadAllText(second).Split('\n').Count(l => l.StartsWith("  epoch ", StringComparison.Ordinal)) >= 2,
                Patience, TimeSpan.FromMilliseconds(50)), "the second run never trained two epochs");
            cli.Signal(signal);
            Assert.Equal(130, cli.WaitForExit(Patience));
            Assert.Contains("stopped runs keep their checkpoints", cli.Output);
        }
        Assert.Equal(RunState.Complete, study.Runs[0].State.State);
        Assert.NotNull(study.Runs[1].State.Checkpoint);
        var first = File.GetLastWriteTimeUtc(study.Runs[0].Output);

        var (code, output, error) = CliProcess.Run(Folder, "study", "run", file, "--jobs", "1");
        Assert.True(code == 0, output + error);
        Assert.Contains("(1 complete, 3 to run)", output);
        Assert.All(study.Runs, r => Assert.Equal(RunState.Complete, r.State.State));
        Assert.Equal(first, File.GetLastWriteTimeUtc(study.Runs[0].Output));
        Assert.Contains("resumed from the checkpoint", File.ReadAllText(Path.Combine(study.Output, "logs", study.Runs[1].Name + ".log")));
    }

    [Fact]
    public void StatusNamesTheProcessWritingARun()
    {
        // Epochs enough for the first run to be looked at while it runs.
        var file = WriteStudy("watched", references: false);
        File.WriteAllText(file, File.ReadAllText(file).Replace("nepochs: 2,", "nepochs: 1000,"));
        var study = Load(file);
        var run = study.Runs[0];
        // The study's first run started by hand, as in another terminal.
        using (var cli = new CliProcess(Folder, null, [.. run.Arguments]))
        {
            Assert.True(cli.WaitForLines("  epoch ", 1, Patience), cli.Output + cli.Error);
            var (code, output, error) = CliProcess.Run(Folder, "study", "status", file);
            Assert.True(code == 0, output + error);
            Assert.Matches($@"{run.Name}\s*│\s*running\s*│\s*PID {cli.Id}\s", output);
            Assert.Matches($@"{study.Runs[1].Name}\s*│\s*notstarted", output);
            cli.Signal("TERM");
            Assert.Equal(143, cli.WaitForExit(Patience));
        }
        // Stopped, it is partial again: its checkpoint is there and nothing holds it.
        var (after, text, _) = CliProcess.Run(Folder, "study", "status", file);
        Assert.Equal(0, after);
        Assert.Matches($@"{run.Name}\s*│\s*partial", text);
    }

    [Fact]
    public void AFailedRunIsListedWithItsLogAndDoesNotStopTheOthers()
    {
        // lr 1e10 makes every run's loss infinite: each fails with exit code 3, and each is tried.
        var file = WriteStudy("failing", references: false);
        File.WriteAllText(file, File.ReadAllText(file).Replace("sbatch: 32,", "sbatch: 32, lr: 1e10,"));
        var (code, output, _) = CliProcess.Run(Folder, "study", "run", file, "--jobs", "2");
        Assert.Equal(1, code);
        Assert.Contains("0 runs completed, 4 failed", output);
        Assert.Equal(4, output.Split('\n').Count(l => l.Contains("failed (exit code 3)", StringComparison.Ordinal) && l.Contains("logs/", StringComparison.Ordinal)));

        // study status tells them from runs never started, with the exit code and the log.
        (code, output, var error) = CliProcess.Run(Folder, "study", "status", file);
        Assert.True(code == 0, output + error);
        Assert.Contains("study failing: 4 failed", output);
        Assert.Contains("exit code 3, see ", output);
    }

    [Fact]
    public void ASlurmJobArrayGivesTheLocalResultsBitForBit()
    {
        var cluster = SlurmCluster.Instance;
        var local = WriteStudy("here", references: false);
        var slurm = WriteStudy("there", references: false);
        // One torch thread per run in both places: local runs share the cores, Slurm gives each one CPU.
        var (code, output, error) = CliProcess.Run(Folder, "study", "run", local, "--jobs", Environment.ProcessorCount.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(code == 0, output + error);

        using (var submit = new CliProcess(Folder, cluster.Environment, "study", "run", slurm, "--slurm", "--cpus-per-task", "1", "--max-parallel", "2"))
        {
            Assert.Equal(0, submit.WaitForExit(Patience));
            Assert.Matches(@"submitted job array \d+ \(4 runs\)", submit.Output);
        }
        Assert.True(TestSupport.WaitUntil(() =>
        {
            using var cli = new CliProcess(Folder, cluster.Environment, "study", "status", slurm);
            Assert.True(cli.WaitForExit(Patience) == 0, cli.Output + cli.Error);
            Assert.DoesNotContain("failed", cli.Output.Split('\n').Last(l => l.StartsWith("study ", StringComparison.Ordinal)));
            return cli.Output.Contains("study there: 4 done", StringComparison.Ordinal);
        }, Patience, TimeSpan.FromMilliseconds(500)), "the job array did not finish");

        var here = Load(local).Runs;
        var there = Load(slurm).Runs;
        for (var i = 0; i < here.Count; i++)
            ResultComparison.AssertSameResults(here[i].Output, there[i].Output);
    }
}
