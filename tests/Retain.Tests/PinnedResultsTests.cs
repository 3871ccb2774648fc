using Retain.Cli;
using Retain.Evaluation;

namespace Retain.Tests;

/// <summary>
/// The exact test accuracy and loss matrices of a few tiny runs, as main computed them before the typed approach specs
/// and the resolved run plan replaced the registry of names and casts (issue 21). A refactoring of the run's set-up
/// must not change a single bit of what a seed computes; these runs go through the whole command line (options,
/// defaults per backbone, the approach's own network, warm-up and curriculum, the record) so they pin all of it.
/// </summary>
public class PinnedResultsTests : TempFolderTests
{
    /// <summary>split-fashion's first two tasks, 100 samples per split, two epochs of batches of 16 (the cases may say otherwise).</summary>
    private static readonly string[] Tiny =
        ["-e", "split-fashion", "--test-mode", "2", "--limit", "100", "--nepochs", "2", "--sbatch", "16", "--eval", "aware"];

    public static TheoryData<string, string[]> Runs => new()
    {
        { "sgd", ["-a", "sgd", "--network", "mlp"] },
        { "ewc", ["-a", "ewc", "--network", "mlp"] },
        { "hat", ["-a", "hat", "--network", "mlp"] },
        { "hat-alexnet", ["-a", "hat", "--network", "alexnet", "--limit", "60", "--sbatch", "10"] },
        { "dwa", ["-a", "dwa", "--network", "mlp", "--warmup", "1,10", "--curriculum", "linear:2:0.5", "--limit", "40", "--sbatch", "10"] },
        { "lwf", ["-a", "lwf", "--network", "mlp"] },
        { "lfl", ["-a", "lfl", "--network", "mlp"] },
        { "imm-mode", ["-a", "imm-mode", "--network", "mlp"] },
        // joint ignores a warm-up and a curriculum: given both, its matrices are those of a run without them.
        { "joint", ["-a", "joint", "--network", "mlp", "--warmup", "1,10", "--curriculum", "linear:2:0.5"] },
        { "pathnet", ["-a", "pathnet", "--network", "mlp", "--generations", "2", "--modules", "4", "--active", "2"] },
        { "progressive", ["-a", "progressive", "--network", "mlp"] },
    };

    private (double[][] Accuracy, double[][] Loss) Run(string name, string[] args)
    {
        var output = Path.Combine(Folder, name + ".txt");
        var result = CliRunner.Run(["run", .. Tiny, .. args, "-o", output]);
        Assert.True(result.Code == 0, result.Printed);
        var record = ResultFiles.ReadRecord<Matrices>(ResultFiles.JsonPathFor(output));
        return (record.Accuracy, record.Loss);
    }

    private sealed record Matrices(double[][] Accuracy, double[][] Loss);

    /// <summary>
    /// Per run, the matrices' cells of the two trained tasks, A[0][0], A[1][0], A[1][1], as main computed them (printed
    /// with the round-trip format, so each is the exact double); every other cell is 0.
    /// </summary>
    private static readonly Dictionary<string, (double[] Accuracy, double[] Loss)> Pinned = new()
    {
        ["sgd"] = ([0.99, 0.99, 0.92], [0.24766935408115387, 0.251278760433197, 0.37822507858276366]),
        ["ewc"] = ([0.99, 0.99, 0.92], [0.24766935408115387, 0.25101768612861636, 0.36390000462532046]),
        ["hat"] = ([1, 1, 0.9], [0.13314486622810365, 0.1333698269724846, 0.35047245025634766]),
        ["hat-alexnet"] = ([0.65, 0.6333333333333333, 0.5], [0.691910179456075, 0.691577402750651, 0.6928464253743489]),
        ["dwa"] = ([0.925, 0.925, 0.9], [3.3022671699523927, 3.324201965332031, 3.4087714195251464]),
        ["lwf"] = ([0.99, 0.98, 0.93], [0.24766935408115387, 0.2612878906726837, 1.5401726484298706]),
        ["lfl"] = ([0.99, 0.99, 0.94], [0.2455545848608017, 0.24963521718978882, 0.385269558429718]),
        ["imm-mode"] = ([0.99, 0.99, 0.92], [0.24766935408115387, 0.24418957710266112, 0.4045357036590576]),
        ["joint"] = ([0.99, 0.98, 0.91], [0.24766935408115387, 0.221805921792984, 0.42216010332107545]),
        ["pathnet"] = ([1, 1, 0.92], [0.01839550509583205, 0.01839550509583205, 0.18675902605056763]),
        ["progressive"] = ([0.98, 0.98, 0.92], [0.4086188864707947, 0.4086188864707947, 0.5831873941421509]),
    };

    [Theory]
    [MemberData(nameof(Runs))]
    public void TheSameSeedGivesTheSameMatricesBitForBit(string name, string[] args)
    {
        var (accuracy, loss) = Run(name, args);
        static double[] Trained(double[][] m) => [m[0][0], m[1][0], m[1][1]];
        static double[] Rest(double[][] m) => m.SelectMany((row, t) => row.Where((_, u) => !(t < 2 && u <= t))).ToArray();
        Assert.Equal(Pinned[name].Accuracy, Trained(accuracy));
        Assert.Equal(Pinned[name].Loss, Trained(loss));
        Assert.All(Rest(accuracy).Concat(Rest(loss)), v => Assert.Equal(0.0, v));
    }
}
