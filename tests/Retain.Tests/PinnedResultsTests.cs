using Retain.Cli;
using Retain.Evaluation;

namespace Retain.Tests;

/// <summary>
/// The exact test accuracy and loss matrices of a few tiny runs, first pinned before the typed approach specs and the
/// resolved run plan replaced the registry of names and casts (issue 21), and pinned again when the backbone's dropout
/// drew its masks from another random stream (issue 24: <c>UniformDropout</c>; dwa, without dropout, kept its values).
/// A refactoring of the run's set-up must not change a single bit of what a seed computes; these runs go through the whole command line (options,
/// defaults per backbone, the approach's own network, warm-up and curriculum, the record) so they pin all of it.
/// <para>
/// The kernels libtorch picks depend on the CPU (MKL's, ATen's and oneDNN's vector paths), so pins made on one
/// machine failed on another by a few units of the last place (pinned again on an AMD EPYC with AVX-512, after an
/// earlier machine). Each run is therefore a process of its own with the libraries' CPU-independent paths
/// (<see cref="SameOnEveryCpu"/>) and one torch thread: what they compute is the same on every x86-64 CPU.
/// </para>
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

    /// <summary>
    /// MKL's conditional numerical reproducibility in its compatible (SSE2) mode, ATen's kernels without CPU-specific
    /// vectorisation, oneDNN's convolutions at SSE4.1: each library's documented way to compute alike on every x86-64
    /// CPU. Read when the libraries load, hence a process of its own.
    /// </summary>
    private static readonly Dictionary<string, string> SameOnEveryCpu = new()
    {
        ["MKL_CBWR"] = "COMPATIBLE", ["ATEN_CPU_CAPABILITY"] = "default", ["ONEDNN_MAX_CPU_ISA"] = "SSE41",
    };

    private (double[][] Accuracy, double[][] Loss) Run(string name, string[] args)
    {
        var output = Path.Combine(Folder, name + ".txt");
        using var cli = new CliProcess(Folder, SameOnEveryCpu, ["run", .. Tiny, .. args, "--threads", "1", "-o", output]);
        var code = cli.WaitForExit(TimeSpan.FromMinutes(5));
        Assert.True(code == 0, cli.Output + cli.Error);
        var record = ResultFiles.ReadRecord<Matrices>(ResultFiles.JsonPathFor(output));
        return (record.Accuracy, record.Loss);
    }

    private sealed record Matrices(double[][] Accuracy, double[][] Loss);

    /// <summary>
    /// Per run, the matrices' cells of the two trained tasks, A[0][0], A[1][0], A[1][1], as main computes them (printed
    /// with the round-trip format, so each is the exact double); every other cell is 0.
    /// </summary>
    private static readonly Dictionary<string, (double[] Accuracy, double[] Loss)> Pinned = new()
    {
        ["sgd"] = ([0.99, 0.99, 0.92], [0.23607079565525055, 0.23779987037181854, 0.378230607509613]),
        ["ewc"] = ([0.99, 0.99, 0.91], [0.23607079565525055, 0.24003301084041595, 0.38186886787414553]),
        ["hat"] = ([0.99, 0.99, 0.9], [0.11973395437002182, 0.11979688316583634, 0.352002227306366]),
        ["hat-alexnet"] = ([0.55, 0.5333333333333333, 0.5], [0.692404858271281, 0.6921242713928223, 0.6927265961964925]),
        ["dwa"] = ([0.925, 0.925, 0.9], [3.3022671699523927, 3.324201965332031, 3.4087714195251464]),
        ["lwf"] = ([0.99, 0.99, 0.92], [0.23607079565525055, 0.273970832824707, 1.3969683074951171]),
        ["lfl"] = ([0.99, 0.99, 0.92], [0.2388264399766922, 0.24093046367168428, 0.3876776552200317]),
        ["imm-mode"] = ([0.99, 0.99, 0.92], [0.23607079565525055, 0.2334782874584198, 0.41230981826782226]),
        ["joint"] = ([0.99, 0.99, 0.91], [0.23607079565525055, 0.2512873876094818, 0.41942243814468383]),
        ["pathnet"] = ([1, 1, 0.92], [0.009801439261063933, 0.009801439261063933, 0.18274649024009704]),
        ["progressive"] = ([0.98, 0.98, 0.91], [0.44492791295051576, 0.44492791295051576, 0.5490904402732849]),
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
