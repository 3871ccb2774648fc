using Retain.Approaches;
using Retain.Cli;

namespace Retain.Tests;

/// <summary>Every approach option out of its range is rejected when it is bound, with one line naming it.</summary>
public class ApproachOptionsTests
{
    [Theory]
    [InlineData("ewc", "--lamb must not be negative (got -5)", "lamb", "-5")]
    [InlineData("lwf", "--lamb must not be negative (got -1)", "lamb", "-1")]
    [InlineData("lwf", "--temperature must be positive (got 0)", "temperature", "0")]
    [InlineData("lfl", "--lamb must not be negative (got -0.5)", "lamb", "-0.5")]
    [InlineData("imm-mean", "--regularizer must not be negative (got -0.001)", "regularizer", "-1e-3")]
    [InlineData("imm-mode", "--lamb must not be negative (got -2)", "lamb", "-2")]
    [InlineData("pathnet", "--generations must be at least 1 (got 0)", "generations", "0")]
    [InlineData("pathnet", "--paths must be at least 1 (got -1)", "paths", "-1")]
    [InlineData("pathnet", "--modules must be at least 1 (got 0)", "modules", "0", "active", "0")]
    [InlineData("pathnet", "--active must be at least 1 (got 0)", "active", "0")]
    [InlineData("pathnet", "--active (5) cannot exceed --modules (4)", "modules", "4", "active", "5")]
    [InlineData("hat", "--lamb must not be negative (got -0.1)", "lamb", "-0.1")]
    [InlineData("hat", "--smax must be at least 1 (got 0.5)", "smax", "0.5")]
    [InlineData("hat", "--thres-cosh must be positive (got 0)", "thres-cosh", "0")]
    [InlineData("hat", "--thres-emb must be positive (got -6)", "thres-emb", "-6")]
    [InlineData("hat-test", "--smax must be at least 1 (got 0)", "smax", "0")]
    [InlineData("hat-test", "--lamb must not be negative (got -1)", "lamb", "-1")]
    [InlineData("si", "--lamb must not be negative (got -1)", "lamb", "-1")]
    [InlineData("si", "--xi must be positive (got 0)", "xi", "0")]
    [InlineData("mas", "--lamb must not be negative (got -1)", "lamb", "-1")]
    [InlineData("mas", "--importance-batch must be at least 1 (got 0)", "importance-batch", "0")]
    [InlineData("packnet", "--prune must be at least 0 and below 1 (got 1)", "prune", "1")]
    [InlineData("packnet", "--prune must be at least 0 and below 1 (got -0.5)", "prune", "-0.5")]
    [InlineData("packnet", "--retrain-epochs must not be negative (got -1)", "retrain-epochs", "-1")]
    [InlineData("packnet", "--retrain-lr must be positive (got 0)", "retrain-lr", "0")]
    [InlineData("dwa", "--lamb_reg must not be negative (got -50)", "lamb_reg", "-50")]
    [InlineData("dwa", "--sparsity must be in [0, 1] (got 1.5)", "sparsity", "1.5")]
    [InlineData("dwa", "--alpha must not be negative (got -1)", "alpha", "-1")]
    [InlineData("dwa", "--delta must not be negative (got -1)", "delta", "-1")]
    [InlineData("dwa", "--stiff must be at least 1 (got 0)", "stiff", "0")]
    [InlineData("dwa", "--emb_size must be at least 1 (got 0)", "emb_size", "0")]
    [InlineData("dwa", "--use_stem must not be negative (got -1)", "use_stem", "-1")]
    [InlineData("dwa", "--lamb_loss: expected one or two non-negative weights", "lamb_loss", "1,-2")]
    public void OutOfRangeValuesFailWhenBound(string approach, string expected, params string[] nameValues)
    {
        var values = Enumerable.Range(0, nameValues.Length / 2).ToDictionary(i => nameValues[2 * i], i => nameValues[2 * i + 1]);
        var error = Assert.Throws<RetainException>(() => ApproachRegistry.Get(approach).Bind(values));
        Assert.StartsWith(expected, error.Message);
    }

    [Fact]
    public void EveryApproachsDefaultsAreInRange()
    {
        foreach (var info in ApproachRegistry.All)
            info.Bind(new Dictionary<string, string>());
    }

    [Fact]
    public void TheCommandLineRejectsANegativeLambdaBeforeLoadingData()
    {
        var empty = Path.Combine(Path.GetTempPath(), "retain-tests", "never-created");
        Assert.Equal("retain: error: --lamb must not be negative (got -5)",
            CliRunner.Refuses("run", "-e", "mnist2", "-a", "ewc", "--lamb", "-5", "--data", empty, "--output", Path.Combine(empty, "out.txt")));
        Assert.False(Directory.Exists(empty), "nothing is written before the options are checked");
    }
}
