using Retain.Approaches;
using Retain.Cli;
using Retain.Data;
using Retain.Experiments;
using Retain.Interop;
using Retain.Networks;
using Retain.Training;
using TorchSharp.PyBridge;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Retain.Tests;

/// <summary>Two short runs that keep their model (<c>retain run --save-model</c>): HAT and EWC on mnist2.</summary>
public sealed class KeptRuns : IDisposable
{
    public string Folder { get; } = TestSupport.TempDir();
    public string Hat => Path.Combine(Folder, "mnist2_hat_0.txt");
    public string Ewc => Path.Combine(Folder, "mnist2_ewc_0.txt");

    public KeptRuns()
    {
        foreach (var (approach, output) in new[] { ("hat", Hat), ("ewc", Ewc) })
        {
            var (code, _, error) = PyTorchExportTests.Cli("run", "-e", "mnist2", "-a", approach, "--nepochs", "1", "--limit", "20",
                "--save-model", "--output", output, "--data", TestSupport.DataDir);
            if (code != 0) throw new InvalidOperationException($"the {approach} run failed: {error}");
        }
    }

    public void Dispose() => Directory.Delete(Folder, recursive: true);
}

/// <summary>
/// <c>retain export --format pytorch</c> and the library's <see cref="PyTorchFile"/>: the seed's parameter names,
/// the same outputs in real PyTorch, a lossless round trip, and bad input stopped before any work.
/// </summary>
public sealed class PyTorchExportTests(KeptRuns runs, ITestOutputHelper log) : IClassFixture<KeptRuns>
{
    /// <summary>Runs the CLI in this process (the tests run one at a time), its console output captured.</summary>
    internal static (int Code, string Output, string Error) Cli(params string[] args)
    {
        var (output, error) = (new StringWriter(), new StringWriter());
        var console = Spectre.Console.AnsiConsole.Create(new Spectre.Console.AnsiConsoleSettings
        {
            Ansi = Spectre.Console.AnsiSupport.No, Out = new Spectre.Console.AnsiConsoleOutput(output),
        });
        var (savedOut, savedError) = (Console.Out, Console.Error);
        Console.SetOut(output);
        Console.SetError(error);
        try { return (RetainApp.Run(args, console), output.ToString(), error.ToString()); }
        finally
        {
            Console.SetOut(savedOut);
            Console.SetError(savedError);
        }
    }

    private string Temp(string name) => Path.Combine(runs.Folder, name);

    [Fact]
    public void ExportedModelsComputeInPyTorchWhatTheyComputeInRetain()
    {
        var files = new List<string>();
        // Trained HAT and EWC models, exported by the command.
        foreach (var run in new[] { runs.Hat, runs.Ewc })
        {
            var exported = Path.ChangeExtension(run, ".pt");
            var (code, output, error) = Cli("export", run, "--format", "pytorch", "--overwrite");
            Assert.True(code == 0, error);
            log.WriteLine(output.Trim());
            var (description, approach) = KeptModel.Read(KeptModel.PathFor(run));
            using (approach)
            using (approach.Model)
                files.AddRange([exported, WriteExpected(Path.ChangeExtension(run, ".expected.pt"), approach, description.TasksTrained)]);
        }
        // AlexNet, plain (convolutions conv1..conv3) and with HAT's gates (c1..c3), exported by the library call.
        foreach (var name in new[] { "sgd", "hat" })
        {
            manual_seed(7);
            var info = ApproachRegistry.Get(name);
            var request = new NetworkRequest(BackboneRegistry.AlexNet, [1, 28, 28], [3, 4], info.BindOptions(new Dictionary<string, string>()));
            using var network = info.CreateNetwork(request);
            using var approach = info.Create(new ApproachContext(network, info.Defaults, CPU, new NumpyRandomState(0)), request.Options);
            var description = new ModelDescription
            {
                Approach = name, Network = "alexnet", InputSize = [1, 28, 28], ClassCounts = [3, 4], TaskNames = ["a", "b"], TasksTrained = 2,
                Options = info.Options(request.Options).ToDictionary(o => o.Name, o => o.Value),
            };
            var path = Temp($"alexnet_{name}.pt");
            using (var state = (approach as IPortableState)?.ExportState(2)) PyTorchFile.Save(path, network, description, state);
            files.AddRange([path, WriteExpected(Temp($"alexnet_{name}.expected.pt"), approach, 2)]);
        }

        var result = RealPyTorch.Instance.Run(Path.Combine(TestSupport.RepositoryRoot, "tests", "Retain.Tests", "PyTorch", "check_export.py"), files);
        log.WriteLine(result.Output + result.Error);
        Assert.True(result.ExitCode == 0, $"check_export.py exited {result.ExitCode}:\n{result.Output}\n{result.Error}");
        Assert.Equal(4, result.Output.Split('\n').Count(l => l.StartsWith("ok ", StringComparison.Ordinal)));
    }

    /// <summary>
    /// The inputs and what Retain computes on them, for check_export.py: 16 random images, each trained task's logits in
    /// evaluation mode (HAT: gates at its evaluation sharpness), and the sums of EWC's Fisher diagonal.
    /// </summary>
    private static string WriteExpected(string path, Approach approach, int tasks)
    {
        using var scope = NewDisposeScope();
        var network = approach.Model;
        network.eval();
        manual_seed(11);
        var x = randn(16, 1, 28, 28);
        using var state = (approach as IPortableState)?.ExportState(tasks);
        var logits = new Dictionary<string, object>();
        using (no_grad())
            for (var t = 0; t < tasks; t++)
                logits[t.ToString(System.Globalization.CultureInfo.InvariantCulture)] = state?.Scalars.TryGetValue("mask_scale", out var scale) == true
                    ? network.Forward(x, new ForwardContext(t).With(new HatForwardState { Scale = scale }))
                    : network.Forward(x, t);
        var names = SeedNames.For(network);
        var fisher = approach is Ewc ewc
            ? ewc.State.Fisher!.ToDictionary(kv => names.ToSeed(kv.Key), kv => (object)kv.Value.to_type(ScalarType.Float64).sum())
            : [];
        using (var stream = File.Create(path))
            PyTorchPickler.PickleStateDict(stream, new Dictionary<string, object> { ["x"] = x, ["logits"] = logits, ["fisher_sums"] = fisher });
        return path;
    }
}
