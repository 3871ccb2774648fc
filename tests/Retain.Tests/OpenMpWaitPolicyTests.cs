using Retain.Cli;
using Xunit;

namespace Retain.Tests;

/// <summary>The OpenMP wait policy each training command chooses before torch loads (docs/performance.md).</summary>
public class OpenMpWaitPolicyTests : TempFolderTests
{
    [Theory]
    [InlineData(false, 2, 2, 0.05, "OMP_WAIT_POLICY=ACTIVE")]    // alone: spinning threads are fastest
    [InlineData(false, 2, 2, 1.0, "GOMP_SPINCOUNT=1000")]  // another process holds a core
    [InlineData(false, 1, 2, 1.0, "OMP_WAIT_POLICY=ACTIVE")]     // one thread, and a core is free for it
    [InlineData(false, 2, 2, 2.0, "GOMP_SPINCOUNT=1000")]
    [InlineData(true, 2, 2, 0.0, "GOMP_SPINCOUNT=1000")]   // DWA's own threads would starve beside spinning ones
    public void TheRuleSpinsOnlyWhenTheThreadsHaveTheCoresToThemselves(bool sampleParallel, int threads, int cores, double busy, string expected) =>
        Assert.Equal(expected, OpenMpWaitPolicy.Choose(sampleParallel, threads, cores, busy).ToString());

    /// <summary>libgomp itself shows what it read when it loaded (OMP_DISPLAY_ENV): the rule's choice reached it.</summary>
    [Fact]
    public void ARunsChoiceReachesLibgomp()
    {
        var (code, error) = DwaRun(new() { ["OMP_WAIT_POLICY"] = "", ["GOMP_SPINCOUNT"] = "" });

        Assert.Equal(0, code);
        Assert.Contains("GOMP_SPINCOUNT = '1000'", error);
        Assert.DoesNotContain("Invalid value", error);
    }

    [Fact]
    public void AUsersOwnPolicyIsKept()
    {
        var (code, error) = DwaRun(new() { ["OMP_WAIT_POLICY"] = "ACTIVE", ["GOMP_SPINCOUNT"] = "" });

        Assert.Equal(0, code);
        Assert.Contains("OMP_WAIT_POLICY = 'ACTIVE'", error);
        Assert.DoesNotContain("GOMP_SPINCOUNT = '1000'", error);
    }

    private (int Code, string Error) DwaRun(Dictionary<string, string> environment)
    {
        environment["OMP_DISPLAY_ENV"] = "VERBOSE";
        using var cli = new CliProcess(Folder, environment, "run", "-e", "split-fashion", "-a", "dwa", "--test-mode", "1", "--limit", "40",
            "--nepochs", "1", "-o", Path.Combine(Folder, "dwa.txt"));
        return (cli.WaitForExit(TimeSpan.FromMinutes(5)), cli.Error);
    }
}
