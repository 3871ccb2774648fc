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

    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.allclose(b, rtol: 0, atol: 0);

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
            var setup = ApproachRegistry.Get(name).Bind(new Dictionary<string, string>(), BackboneRegistry.AlexNet);
            var prepared = setup.Prepare(BackboneRegistry.AlexNet, new NetworkShape([1, 28, 28], [3, 4]));
            using var network = prepared.Network;
            using var approach = prepared.Create(new ApproachContext(network, setup.TrainingDefaults(BackboneRegistry.AlexNet), CPU, new NumpyRandomState(0)));
            var description = new ModelDescription
            {
                Approach = name, Network = "alexnet", InputSize = [1, 28, 28], ClassCounts = [3, 4], TaskNames = ["a", "b"], TasksTrained = 2,
                Options = setup.OptionValues.ToDictionary(o => o.Name, o => o.Value),
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

    [Fact]
    public void ALoadedFileGivesBackTheNetworkAndTheApproachStateExactly()
    {
        foreach (var run in new[] { runs.Hat, runs.Ewc })
        {
            var (description, approach) = KeptModel.Read(KeptModel.PathFor(run));
            using var _ = approach;
            using var __ = approach.Model;
            var path = Temp(Path.GetFileNameWithoutExtension(run) + ".roundtrip.pt");
            using (var exported = ((IPortableState)approach).ExportState(description.TasksTrained))
                PyTorchFile.Save(path, approach.Model, description, exported);

            // The file goes back into a fresh network of the described architecture, and its state into an approach on it,
            // which then holds what the run's held.
            var (_, backbone, setup) = description.Resolve(path);
            var prepared = setup.Prepare(backbone, description.Shape);
            using var ___ = prepared.Network;
            var (loaded, state) = PyTorchFile.Load(path, prepared.Network);
            using var ____ = state;
            Assert.Equal(description.Approach, loaded.Approach);
            Assert.Equal(description.InputSize, loaded.InputSize);
            Assert.Equal(description.ClassCounts, loaded.ClassCounts);
            Assert.Equal(description.TaskNames, loaded.TaskNames);
            Assert.Equal(description.TasksTrained, loaded.TasksTrained);
            Assert.Equal(description.Options, loaded.Options);
            var original = SeedNames.Tensors(approach.Model);
            foreach (var (name, tensor) in SeedNames.Tensors(prepared.Network)) Assert.True(Same(tensor, original[name]), name);
            using var restored = prepared.Create(new ApproachContext(prepared.Network, setup.TrainingDefaults(backbone), CPU, new NumpyRandomState(0)));
            ((IPortableState)restored).ImportState(state);
            if (approach is Hat hat)
            {
                var again = (Hat)restored;
                Assert.Equal(hat.State.CumulativeMasks.Keys.Order(), again.State.CumulativeMasks.Keys.Order());
                foreach (var (layer, mask) in hat.State.CumulativeMasks) Assert.True(Same(mask, again.State.CumulativeMasks[layer]), layer);
                Assert.Equal(hat.State.GradientMasks.Count, again.State.GradientMasks.Count);
                foreach (var (name, mask) in hat.State.GradientMasks) Assert.True(Same(mask, again.State.GradientMasks[name]), name);
                Assert.Equal(2, state.Groups["masks"]["fc1"].shape[0]);
            }
            else
            {
                var (ewc, again) = ((Ewc)approach, (Ewc)restored);
                foreach (var (name, fisher) in ewc.State.Fisher!) Assert.True(Same(fisher, again.State.Fisher![name]), name);
                foreach (var (name, old) in ewc.State.OldParameters!) Assert.True(Same(old, again.State.OldParameters![name]), name);
            }
        }
        // PathNet's modules are of no use without the paths: they travel with the file.
        var pathnetSetup = ApproachRegistry.Get("pathnet").Bind(new Dictionary<string, string> { ["modules"] = "3", ["active"] = "2" }, BackboneRegistry.Mlp);
        var shape = new NetworkShape([1, 28, 28], [2, 2]);
        var training = pathnetSetup.TrainingDefaults(BackboneRegistry.Mlp);
        var built = pathnetSetup.Prepare(BackboneRegistry.Mlp, shape);
        using (var pathnet = built.Network)
        using (var approach = (PathNet)built.Create(new ApproachContext(pathnet, training, CPU, new NumpyRandomState(0))))
        {
            ((PathNetModules)pathnet.Backbone.Gating).SetPath(0, [[2, 0], [1, 1], [0, 2]]);
            var path = Temp("pathnet.pt");
            var description = new ModelDescription
            {
                Approach = "pathnet", Network = "mlp", InputSize = [1, 28, 28], ClassCounts = [2, 2], TaskNames = ["a", "b"], TasksTrained = 1,
                Options = pathnetSetup.OptionValues.ToDictionary(o => o.Name, o => o.Value),
            };
            using (var exported = approach.ExportState(1)) PyTorchFile.Save(path, pathnet, description, exported);
            var fresh = pathnetSetup.Prepare(BackboneRegistry.Mlp, shape);
            using var loaded = fresh.Network;
            var (_, state) = PyTorchFile.Load(path, loaded);
            using var __ = state;
            using var again = (PathNet)fresh.Create(new ApproachContext(loaded, training, CPU, new NumpyRandomState(0)));
            again.ImportState(state);
            Assert.Equal(((PathNetModules)pathnet.Backbone.Gating).Paths, ((PathNetModules)loaded.Backbone.Gating).Paths);
            Assert.Equal([-1, -1], ((PathNetModules)loaded.Backbone.Gating).PathOf(1)[0]);
        }

        // A file read into a network of another architecture names the file and the first tensor that does not fit.
        using var plain = NetworkFactory.Create(BackboneRegistry.Mlp, [1, 28, 28], [5, 5]);
        var error = Assert.Throws<DataFileException>(() => PyTorchFile.Load(Path.ChangeExtension(Temp("mnist2_hat_0"), ".roundtrip.pt"), plain));
        Assert.Contains("mnist2_hat_0.roundtrip.pt", error.Message);
    }

    /// <summary>Every network's tensors under the names of the seed's modules (networks.md; the seed's networks/*.py).</summary>
    [Fact]
    public void TensorsAreNamedAsInTheSeedsNetworks()
    {
        static string[] Names(MultiHeadNetwork network)
        {
            var names = SeedNames.For(network);
            return names.RetainNames.Select(names.ToSeed).Order(StringComparer.Ordinal).ToArray();
        }
        static string[] Layers(params string[] modules) =>
            modules.SelectMany(m => m.Split('.')[0].EndsWith("scale", StringComparison.Ordinal) ? [$"{m}.weight"] : new[] { $"{m}.weight", $"{m}.bias" })
                .Order(StringComparer.Ordinal).ToArray();
        int[] image = [3, 32, 32], classes = [2, 2];
        var heads = new[] { "last.0", "last.1" };

        using (var mlp = NetworkFactory.Create(BackboneRegistry.Mlp, [1, 28, 28], classes))
            Assert.Equal(Layers([.. heads, "fc1", "fc2", "fc3"]), Names(mlp));
        using (var mlpHat = HatUnitGates.CreateNetwork(BackboneRegistry.Mlp, [1, 28, 28], classes).Network)
            Assert.Equal(Layers([.. heads, "fc1", "fc2"]).Concat(["efc1.weight", "efc2.weight"]).Order(StringComparer.Ordinal), Names(mlpHat));
        using (var alexnet = NetworkFactory.Create(BackboneRegistry.AlexNet, image, classes))
            Assert.Equal(Layers([.. heads, "conv1", "conv2", "conv3", "fc1", "fc2"]), Names(alexnet));
        using (var alexnetHat = HatUnitGates.CreateNetwork(BackboneRegistry.AlexNet, image, classes).Network)
            Assert.Equal(Layers([.. heads, "c1", "c2", "c3", "fc1", "fc2"]).Concat(new[] { "ec1", "ec2", "ec3", "efc1", "efc2" }.Select(e => e + ".weight"))
                .Order(StringComparer.Ordinal), Names(alexnetHat));
        using (var progressive = ProgressiveColumns.CreateNetwork(BackboneRegistry.AlexNet, image, classes).Network)
        {
            var columns = new[] { "conv1", "conv2", "conv3", "fc1", "fc2", "last" }.SelectMany(m => new[] { $"{m}.0", $"{m}.1" });
            var laterals = new[] { "V2scale", "V2x1", "U2", "V3scale", "V3x1", "U3", "Vf1scale", "Vf1", "Uf1", "Vf2scale", "Vf2", "Uf2", "Vflscale", "Vfl", "Ufl" }
                .Select(m => $"{m}.0");
            Assert.Equal(Layers([.. columns, .. laterals]), Names(progressive));
            var scales = SeedNames.For(progressive);
            var alpha = progressive.named_parameters().First(p => p.name.EndsWith("alpha", StringComparison.Ordinal));
            Assert.Equal([1L, 1L], scales.ToSeedShape(alpha.name, alpha.parameter).shape); // the seed's Embedding(1, t)
        }
        using (var pathnet = PathNetModules.CreateNetwork(BackboneRegistry.AlexNet, image, classes, moduleCount: 3, activeCount: 2).Network)
            Assert.Equal(Layers([.. heads, .. new[] { "conv1", "conv2", "conv3", "fc1", "fc2" }.SelectMany(m => Enumerable.Range(0, 3).Select(i => $"{m}.{i}"))]),
                Names(pathnet));
        using (var dwa = Networks.Dwa.DwaNetworkFactory.Create(BackboneRegistry.AlexNet, image, classes, new Networks.Dwa.DwaNetworkOptions()).Network)
            // use_stem 1: c1 plain; c2, c3 masked with one generator each, fc1, fc2 with two (A: E -> f1, Bm: E -> f2); the processor.
            Assert.Equal(Layers([.. heads, "c1", "c2", "c3", "fc1", "fc2", "pc1", "pc2", "pfc1",
                "mask_layers.0", "mask_layers.1", "mask_layers.2.0", "mask_layers.2.1", "mask_layers.3.0", "mask_layers.3.1"]), Names(dwa));
    }

    [Fact]
    public void BadInputStopsTheExportBeforeAnyWorkWithOneLine()
    {
        var plainResult = Temp("only_results.txt");
        File.WriteAllText(plainResult, "1 0\n1 1\n");
        var existing = Temp("existing.pt");
        File.WriteAllText(existing, "keep me");
        (string[] Args, string Expected)[] cases =
        [
            (["export", Temp("nope.txt")], "nope.txt: no such run"),
            (["export", plainResult], "only_results.txt: the run kept no trained model"),
            (["export", runs.Hat, "--format", "onnx"], "--format: expected pytorch (got 'onnx')"),
            (["export", runs.Hat, "--output", existing], "existing.pt: already exists; add --overwrite"),
            (["export", runs.Hat, "--output", Path.ChangeExtension(runs.Hat, ".json")], "is one of the run's own files"),
            (["export", runs.Hat, "--output", Path.Combine(existing, "x.pt")], "existing.pt is a file, not a folder"),
            (["run", "-e", "mnist2", "-a", "sgd", "--output", Temp("run.model")], ".model, .dwa files itself beside its output"),
            (["export", KeptRandomRun()], "random is a reference that does not train its network"),
        ];
        foreach (var (args, expected) in cases)
        {
            var (code, _, error) = Cli(args);
            Assert.True(code == 2, $"retain {string.Join(' ', args)} exited {code}: {error}");
            Assert.Contains(expected, error);
            Assert.Single(error.TrimEnd().Split('\n'));
        }
        Assert.Equal("keep me", File.ReadAllText(existing));
    }

    /// <summary>The random reference's run, kept (it takes no training).</summary>
    private string KeptRandomRun()
    {
        var output = Temp("mnist2_random_0.txt");
        var (code, _, error) = Cli("run", "-e", "mnist2", "-a", "random", "--limit", "20", "--save-model", "--output", output, "--data", TestSupport.DataDir);
        Assert.True(code == 0, error);
        return output;
    }

    /// <summary>A run that replaces results without --save-model removes the model an earlier run of them kept.</summary>
    [Fact]
    public void AModelKeptForReplacedResultsIsRemoved()
    {
        var path = Temp("replaced.model");
        File.WriteAllText(path, "an earlier run's model");
        new KeptModelSink(path, keep: false).RunFinished(null!);
        Assert.False(File.Exists(path));
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
