using Retain.Cli;
using Retain.Studies;

namespace Retain.Tests;

/// <summary>
/// The study files shipped in <c>studies/</c> cannot rot: each one passes <c>retain study run --dry-run</c>, which reads
/// it and resolves every run's command line as the run itself would (no data is loaded, so cifar and mixture need
/// none), and the seed's scripts keep one run per command line.
/// </summary>
public class ShippedStudiesTests
{
    private static string StudiesFolder => Path.Combine(TestSupport.RepositoryRoot, "studies");

    public static TheoryData<string> Files => [.. Directory.GetFiles(StudiesFolder, "*.yaml").Select(f => Path.GetFileName(f)).Order()];

    [Theory]
    [MemberData(nameof(Files))]
    public void EveryShippedStudyPassesTheDryRun(string file)
    {
        // A failure prints the error line, which names the file, line and option.
        var result = CliRunner.Run("study", "run", Path.Combine(StudiesFolder, file), "--dry-run");
        Assert.True(result.Code == 0, result.Error);
    }

    /// <summary>Runs per file: the command lines of the seed's script (or its product), plus joint and random per experiment and seed.</summary>
    [Theory]
    [InlineData("run_multi.yaml", 4 * 10 * (12 + 2))] // mnist2, pmnist, cifar, mixture × seeds 0..9 × 12 approaches and the references
    [InlineData("hat_grid.yaml", 8 * 6 + 2)]
    [InlineData("dwa_gridsearch1.yaml", 17 + 2)]
    [InlineData("dwa_gridsearch2.yaml", 8 + 2)]
    [InlineData("dwa_gridsearch3.yaml", 10 + 2)]
    [InlineData("dwa_gridsearch4.yaml", 14 + 2)]
    [InlineData("dwa_paramsearch1.yaml", 4 + 2)]
    [InlineData("dwa_paramsearch2.yaml", 4 + 2)]
    [InlineData("dwa_paramsearch3.yaml", 5 + 2)]
    [InlineData("dwa_quicksearch.yaml", 24 + 2)] // 30 lines, 6 of them commented out
    [InlineData("relatedwork.yaml", 20)]         // its joint and random lines are the references
    public void TheSeedsStudiesHaveOneRunPerCommandLine(string file, int runs)
    {
        var study = Study.Load(Path.Combine(StudiesFolder, file), RunCommand.OptionNames);
        Assert.Equal(runs, study.Runs.Count);
        Assert.Equal(runs, study.Runs.Select(r => r.Output).Distinct().Count());
    }

    [Fact]
    public void TheRunThePaperReportsAsDwaHasTheScriptsOptions()
    {
        // run_quicksearch.sh: --name="final-warm" ... --nepochs=200 --delta=1.0 --alpha=1.5 --gate=tanh --lamb_reg=500
        // --lamb_loss=[20,0.05] --warmup=[20,1000], plus the run.py default lr 0.05 and the seed's default curriculum,
        // which the study gives explicitly.
        var study = Study.Load(Path.Combine(StudiesFolder, "dwa_quicksearch.yaml"), RunCommand.OptionNames);
        var run = study.Runs.Single(r => r.Name == "mixture_dwa_0_final-warm");
        var options = run.Options.ToDictionary(o => o.Name, o => o.Value);
        Assert.Equal(new Dictionary<string, string>
        {
            ["weight-init"] = "kaiming:xavier", ["nepochs"] = "200", ["log-path"] = "res/dwa_quicksearch", ["lr"] = "0.05",
            ["delta"] = "1.0", ["alpha"] = "1.5", ["gate"] = "tanh", ["lamb_reg"] = "500", ["lamb_loss"] = "20,0.05", ["warmup"] = "20,1000",
            ["curriculum"] = "linear:100:0.2",
        }, options);
        Assert.Equal(("mixture", 0), (run.Experiment, run.Seed));
    }
}
