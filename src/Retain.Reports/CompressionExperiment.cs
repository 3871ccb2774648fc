using System.Globalization;
using System.Text;
using Retain.Approaches;
using Retain.Data;
using Retain.Evaluation;
using Retain.Networks;
using Retain.Training;
using TorchSharp;

namespace Retain.Experiments;

/// <summary>What to run: HAT's compression experiment on the first task of an experiment, once per seed.</summary>
internal sealed record CompressionConfig
{
    public required string Experiment { get; init; }
    /// <summary>One run per seed; on mixture each seed puts a different data set first (run_compression.sh: 0,1,2,3,6,10,13,25).</summary>
    public IReadOnlyList<int> Seeds { get; init; } = [0];
    public HatTestOptions Hat { get; init; } = new();
    public string DataDir { get; init; } = "dat";
    /// <summary>Path of the result files without extension; .csv, .json and .png are written.</summary>
    public required string Output { get; init; }
    public string Device { get; init; } = "cpu";
    public BackboneArchitecture? Network { get; init; }
    /// <summary>mixture only: the data sets to draw from (default: the seed's eight).</summary>
    public IReadOnlyList<string>? Datasets { get; init; }
    public int? Epochs { get; init; }
    public int? BatchSize { get; init; }
    public double? LearningRate { get; init; }
    /// <summary>Keep at most this many samples of each split (class-stratified, as <c>retain run --limit</c>), for quick trials.</summary>
    public int? Limit { get; init; }

    /// <summary><c>res/compression_&lt;experiment&gt;_lamb&lt;c&gt;_smax&lt;s&gt;</c>.</summary>
    public static string DefaultOutput(string resultsDir, string experiment, HatTestOptions hat) => Path.Combine(resultsDir,
        string.Create(CultureInfo.InvariantCulture, $"compression_{experiment}_lamb{hat.Lamb:G}_smax{hat.Smax:G}"));
}

/// <summary>One seed's run: the task trained, its curve (epoch 0 = before training) and the restored best model's point.</summary>
internal sealed record CompressionRun(int Seed, string Task, IReadOnlyList<CompressionPoint> Curve, CompressionPoint Best);

/// <summary>The JSON result of a compression experiment.</summary>
internal sealed record CompressionRecord
{
    public required string Experiment { get; init; }
    public required double Lamb { get; init; }
    public required double Smax { get; init; }
    public required string Network { get; init; }
    public required TrainingOptions Training { get; init; }
    public required List<CompressionRun> Runs { get; init; }
}

/// <summary>Progress of a compression experiment (the CLI prints it).</summary>
internal interface ICompressionObserver
{
    void SeedStarted(int seed, string task, int maxEpochs) { }
    void EpochMeasured(EpochRecord epoch, CompressionPoint point) { }
    void SeedFinished(CompressionRun run) { }
}

/// <summary>
/// The HAT paper's compression experiment (the seed's run_compression.sh with hat-test): train HAT on a single task
/// starting with every unit in use, and follow epoch by epoch how the attention regulariser frees capacity and what
/// that costs in test accuracy. Writes the curves as CSV and JSON and plots accuracy against used capacity.
/// </summary>
internal static class CompressionExperiment
{
    /// <summary>The extensions of the files written at <see cref="CompressionConfig.Output"/>.</summary>
    public static readonly IReadOnlyList<string> Extensions = [".csv", ".json", ".png"];

    /// <summary>
    /// Checks everything that can be checked before the data is loaded: the options, and where the results go (a file
    /// name in a writable folder; existing results, only with <paramref name="overwrite"/>, and never a run's record).
    /// </summary>
    public static void Check(CompressionConfig config, bool overwrite)
    {
        Setup(config, config.Network ?? ExperimentCatalog.DefaultBackbone(config.Experiment), config.Seeds.FirstOrDefault());
        OutputPaths.RequireStem(config.Output, "--output", Extensions, overwrite);
        if (Extensions.Contains(Path.GetExtension(config.Output), StringComparer.OrdinalIgnoreCase))
            throw new RetainException($"--output {config.Output}: give the path without extension; compress writes .csv, .json and .png files there (e.g. {Path.ChangeExtension(config.Output, null)})");
        var json = config.Output + ".json";
        if (File.Exists(json) && !IsCompressionRecord(json))
            throw new RetainException($"--output: {json} is there and is not a compression result (a retain run's record?); write elsewhere");
    }

    public static CompressionRecord Run(CompressionConfig config, ICompressionObserver observer)
    {
        if (config.Seeds.Count == 0) throw new RetainException("--seed: give at least one seed");
        var spec = new HatTestSpec();
        var data = new BenchmarkSource(config.Experiment, config.DataDir, config.Datasets, config.Limit);
        var backbone = config.Network ?? data.DefaultBackbone;
        var training = Setup(config, backbone, config.Seeds[0]).Training;
        var record = new CompressionRecord
        {
            Experiment = config.Experiment, Lamb = config.Hat.Lamb, Smax = config.Hat.Smax, Network = backbone.Name, Training = training, Runs = [],
        };
        foreach (var seed in config.Seeds)
        {
            var setup = Setup(config, backbone, seed);
            using var benchmark = data.Load(seed);
            torch.manual_seed(seed);
            var task = benchmark.Tasks[0];
            observer.SeedStarted(seed, task.Name, training.Epochs);
            // A network for this one task: the gates and head of the others would never be used.
            var (network, gates) = spec.CreateNetwork(backbone, new NetworkShape(benchmark.InputSize, [task.ClassCount]), config.Hat);
            network.to(setup.Device);
            using var approach = spec.Create(new ApproachContext(network, setup.Training, setup.Device, new NumpyRandomState((uint)seed)), config.Hat, gates);
            var history = approach.Train(0, task, new CurveObserver(approach, observer));
            var bestEpoch = history.LastOrDefault(e => e.Improved)?.Epoch + 1 ?? 0;
            var run = new CompressionRun(seed, task.Name, approach.Curve.ToArray(), approach.Measure(0, task.Test, bestEpoch));
            record.Runs.Add(run);
            network.Dispose();
            Write(config.Output, record);
            observer.SeedFinished(run);
        }
        return record;
    }

    /// <summary>The set-up of a run of hat-test, as retain run resolves it (options checked), for one seed.</summary>
    private static RunSetup Setup(CompressionConfig config, BackboneArchitecture backbone, int seed)
    {
        if (config.Seeds.Count == 0) throw new RetainException("--seed: give at least one seed");
        return RunSetup.Resolve(new HatTestSpec().With(config.Hat), backbone, t => t with
        {
            Epochs = config.Epochs ?? t.Epochs, BatchSize = config.BatchSize ?? t.BatchSize, LearningRate = config.LearningRate ?? t.LearningRate,
        }, seed, config.Device);
    }

    /// <summary>A JSON file as <see cref="Write"/> writes it (an object with the experiment's lamb, smax and runs).</summary>
    private static bool IsCompressionRecord(string path)
    {
        try
        {
            return System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path)) is System.Text.Json.Nodes.JsonObject o
                   && o.ContainsKey("lamb") && o.ContainsKey("smax") && o.ContainsKey("runs");
        }
        catch (System.Text.Json.JsonException) { return false; }
    }

    /// <summary>Rewrites <c>.csv</c>, <c>.json</c> and <c>.png</c> at <paramref name="output"/> (after every seed).</summary>
    public static void Write(string output, CompressionRecord record)
    {
        ResultFiles.WriteRecord(output + Extensions[1], record);
        ResultFiles.WriteText(output + Extensions[0], Csv(record));
        HatPlots.CompressionCurves(output + Extensions[2], record);
    }

    /// <summary>One row per seed and epoch: test accuracy, share of gated weights in use, and per layer the shares of units and weights in use.</summary>
    public static string Csv(CompressionRecord record)
    {
        var layers = record.Runs.Count == 0 ? [] : record.Runs[0].Curve[0].Layers.Select(l => l.Layer).ToArray();
        var text = new StringBuilder("seed,task,epoch,test_accuracy,used_weights");
        foreach (var layer in layers) text.Append($",{layer}_units,{layer}_weights");
        text.Append('\n');
        foreach (var run in record.Runs)
            foreach (var point in run.Curve)
            {
                text.Append(string.Create(CultureInfo.InvariantCulture, $"{run.Seed},{run.Task},{point.Epoch},{point.TestAccuracy:0.####},{point.UsedWeights:0.######}"));
                foreach (var layer in point.Layers)
                    text.Append(string.Create(CultureInfo.InvariantCulture, $",{layer.UsedUnits:0.######},{layer.UsedWeights:0.######}"));
                text.Append('\n');
            }
        return text.ToString();
    }

    /// <summary>Hands each epoch's curve point to the caller together with the epoch's record.</summary>
    private sealed class CurveObserver(HatTest approach, ICompressionObserver inner) : ITrainingEvents
    {
        public void EpochFinished(EpochRecord epoch) => inner.EpochMeasured(epoch, approach.Curve[^1]);
    }
}
