using System.Diagnostics;
using Retain.Approaches;
using Retain.Data;
using Retain.Evaluation;
using Retain.Networks;
using Retain.Training;
using TorchSharp;

namespace Retain.Experiments;

/// <summary>Everything a run produced; also the content of its JSON result file.</summary>
public sealed record RunRecord
{
    public required string Experiment { get; init; }
    public required string Approach { get; init; }
    public required int Seed { get; init; }
    public required string Device { get; init; }
    public required string DataSource { get; init; }
    public required string[] TaskNames { get; init; }
    public required int[] ClassCounts { get; init; }
    public required TrainingOptions Training { get; init; }
    public required string Network { get; init; }
    public string? WeightInit { get; init; }
    /// <summary>The --limit of a trial run (samples kept per split), null for a run on the full data.</summary>
    public int? Limit { get; init; }
    /// <summary>The approach's own options (all of them, defaults included), as text.</summary>
    public required Dictionary<string, string> Parameters { get; init; }
    public required long ParameterCount { get; init; }
    /// <summary><c>Accuracy[t][u]</c>: test accuracy on task u after training task t (0 for u &gt; t).</summary>
    public required double[][] Accuracy { get; init; }
    public required double[][] Loss { get; init; }
    /// <summary>Test accuracy on task u just before training it (forward transfer needs it).</summary>
    public required double[] AccuracyBeforeTraining { get; init; }
    public required List<EpochRecord> History { get; init; }
    public int TasksCompleted { get; set; }
    public double Seconds { get; set; }
}

/// <summary>
/// The seed's experiment protocol: seed the generators, load the experiment, build the network and the approach,
/// then for each task train it and test on every task so far, rewriting the result files after each task.
/// </summary>
public static class ExperimentRunner
{
    public static RunRecord Run(RunConfig config, IRunObserver observer)
    {
        var info = ApproachRegistry.Get(config.Approach);
        config.ResolveTraining(info.Defaults); // bad options fail before the data is loaded
        var options = info.BindOptions(config.Parameters);
        var device = ParseDevice(config.Device);
        var clock = Stopwatch.StartNew();

        torch.manual_seed(config.Seed);
        if (config.Limit is < 1) throw new RetainException($"--limit must be at least 1 sample (got {config.Limit})");
        using var benchmark = Limited(ExperimentCatalog.Load(config.Experiment, config.DataDir, config.Seed, config.Datasets), config.Limit);
        var taskCount = benchmark.Tasks.Count;
        if (config.TestMode is { } n && (n < 1 || n > taskCount))
            throw new RetainException($"--test-mode must be between 1 and {taskCount} for {config.Experiment} (got {n})");
        var tasksToRun = config.TestMode ?? taskCount;

        var backbone = config.Network ?? benchmark.Backbone;
        var training = config.ResolveTraining(info.DefaultsFor(backbone, options));
        var request = new NetworkRequest(backbone, benchmark.InputSize, benchmark.ClassCounts, options);
        var network = info.CreateNetwork(request);
        config.WeightInit?.Apply(network);
        network.to(device);
        observer.NetworkBuilt(network, training);
        // Frozen copies (lwf, lfl) take the model's parameters at once, so they need no weight initialisation.
        MultiHeadNetwork CreateNetwork() => info.CreateNetwork(request).to(device);
        using var approach = info.Create(new ApproachContext(network, training, device, new NumpyRandomState((uint)config.Seed))
        {
            CreateNetwork = CreateNetwork,
        }, options);

        var record = new RunRecord
        {
            Experiment = config.Experiment, Approach = config.Approach, Seed = config.Seed, Device = config.Device,
            DataSource = benchmark.Source, TaskNames = benchmark.Tasks.Select(t => t.Name).ToArray(),
            ClassCounts = benchmark.ClassCounts.ToArray(), Training = training, Network = backbone.ToString().ToLowerInvariant(), WeightInit = config.WeightInit?.ToString(), Limit = config.Limit,
            Parameters = info.Options(options).ToDictionary(o => o.Name, o => o.Value), ParameterCount = network.ParameterCount,
            Accuracy = Square(taskCount), Loss = Square(taskCount), AccuracyBeforeTraining = new double[taskCount], History = [],
        };
        for (var t = 0; t < tasksToRun; t++)
        {
            observer.TaskStarted(t, benchmark.Tasks[t].Name, approach.MaxEpochsPerTask);
            record.AccuracyBeforeTraining[t] = approach.Evaluate(t, benchmark.Tasks[t].Test).Accuracy;
            record.History.AddRange(approach.Train(t, benchmark.Tasks[t], observer));
            var row = new List<EvalResult>();
            for (var u = 0; u <= t; u++)
            {
                var test = approach.Evaluate(u, benchmark.Tasks[u].Test);
                record.Accuracy[t][u] = test.Accuracy;
                record.Loss[t][u] = test.Loss;
                row.Add(test);
            }
            record.TasksCompleted = t + 1;
            record.Seconds = clock.Elapsed.TotalSeconds;
            ResultFiles.WriteAccuracyMatrix(config.Output, record.Accuracy);
            ResultFiles.WriteRecord(ResultFiles.JsonPathFor(config.Output), record);
            if (config.LogPath is not null) ResultFiles.WriteRecord(RunLogs.PathFor(config.LogPath, config.Output), RunLogs.From(record));
            observer.TaskFinished(t, row);
        }
        if (config.LogPath is not null) SavedModel.Save(approach.Model, config, record, benchmark.InputSize);
        if (approach is IRunArtifacts artifacts)
        {
            var folder = config.LogPath ?? Path.GetDirectoryName(Path.GetFullPath(config.Output))!;
            foreach (var line in artifacts.WriteArtifacts(benchmark, record.TasksCompleted, folder, Path.GetFileNameWithoutExtension(config.Output)))
                observer.Note(line);
        }
        return record;
    }

    private static Benchmark Limited(Benchmark benchmark, int? limit)
    {
        if (limit is not { } n) return benchmark;
        using (benchmark) return benchmark.Take(n);
    }

    public static torch.Device ParseDevice(string name)
    {
        if (name != "cpu" && !name.StartsWith("cuda", StringComparison.Ordinal))
            throw new RetainException($"--device: expected cpu or cuda[:N] (got '{name}')");
        if (name.StartsWith("cuda", StringComparison.Ordinal) && !torch.cuda.is_available())
            throw new RetainException($"--device {name}: CUDA is not available (this build uses TorchSharp-cpu; reference TorchSharp-cuda-linux for a GPU)");
        return torch.device(name);
    }

    private static double[][] Square(int n) => Enumerable.Range(0, n).Select(_ => new double[n]).ToArray();
}
