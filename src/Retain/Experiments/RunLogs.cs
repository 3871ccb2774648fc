using Retain.Evaluation;
using Retain.Networks;
using Retain.Training;

namespace Retain.Experiments;

/// <summary>
/// The seed's per-run log (<c>&lt;log_path&gt;/&lt;output name&gt;_logs</c>), as JSON: per task, per-epoch learning rate
/// and train/valid loss and accuracy, and the test loss and accuracy of every time the task was tested. Values are
/// per-sample means (the seed logged sums).
/// </summary>
public sealed record RunLogs
{
    public required string[] TaskName { get; init; }
    public required double[][] LearningRate { get; init; }
    public required double[][] TrainLoss { get; init; }
    public required double[][] TrainAcc { get; init; }
    public required double[][] ValidLoss { get; init; }
    public required double[][] ValidAcc { get; init; }
    /// <summary><c>TestAcc[u]</c>: accuracy on task u after training task u, u+1, ... (one entry per test so far).</summary>
    public required double[][] TestAcc { get; init; }
    public required double[][] TestLoss { get; init; }

    public static RunLogs From(RunRecord record)
    {
        var tasks = record.TaskNames.Length;
        double[][] PerTask(Func<Training.EpochRecord, double> value) =>
            Enumerable.Range(0, tasks).Select(t => record.History.Where(e => e.Task == t).Select(value).ToArray()).ToArray();
        double[][] Tested(double[][] matrix) =>
            Enumerable.Range(0, tasks).Select(u => Enumerable.Range(u, Math.Max(0, record.TasksCompleted - u)).Select(t => matrix[t][u]).ToArray()).ToArray();
        return new RunLogs
        {
            TaskName = record.TaskNames, LearningRate = PerTask(e => e.LearningRate),
            TrainLoss = PerTask(e => e.TrainLoss), TrainAcc = PerTask(e => e.TrainAccuracy),
            ValidLoss = PerTask(e => e.ValidLoss), ValidAcc = PerTask(e => e.ValidAccuracy),
            TestAcc = Tested(record.Accuracy), TestLoss = Tested(record.Loss),
        };
    }
}

/// <summary>
/// With <c>--log-path</c>: rewrites the run's logs after every task, and saves the trained model when the run ends.
/// </summary>
public sealed class RunLogsSink(string folder, string runName) : IRunSink
{
    private MultiHeadNetwork? _model;

    public static string PathFor(string logPath, string runName) => Path.Combine(logPath, runName + "_logs.json");

    public void RunStarted(RunRecord record, MultiHeadNetwork network, CheckpointPosition? resumedFrom) => _model = network;

    public void TaskTested(int task, IReadOnlyList<Training.EvalResult> row, RunRecord record) =>
        ResultFiles.WriteRecord(PathFor(folder, runName), RunLogs.From(record));

    public void RunFinished(RunRecord record) => SavedModel.Save(_model!, folder, runName, record);
}

/// <summary>
/// The extra files an approach writes once the run ends (<see cref="IRunArtifacts"/>: DWA's introspection), into
/// <paramref name="folder"/> under the run's name; what the approach says about them goes to every sink as a note.
/// </summary>
public sealed class ArtifactsSink(string folder, string runName) : IRunAttachedSink
{
    private ExperimentRun? _run;

    public void Attach(ExperimentRun run) => _run = run;

    public void RunFinished(RunRecord record)
    {
        if (_run?.Approach is not IRunArtifacts artifacts) return;
        foreach (var line in artifacts.WriteArtifacts(_run.Benchmark, record.TasksCompleted, folder, runName)) _run.Events.Note(line);
    }
}

/// <summary>
/// A trained network on disk: <c>&lt;name&gt;.weights</c> (TorchSharp state dict) and <c>&lt;name&gt;.model.json</c>, which says
/// how to rebuild the network before loading the weights.
/// </summary>
public sealed record SavedModel
{
    public required string Experiment { get; init; }
    public required string Approach { get; init; }
    public required string Network { get; init; }
    public required int[] InputSize { get; init; }
    public required int[] ClassCounts { get; init; }
    public required string[] TaskNames { get; init; }
    public required Dictionary<string, string> Parameters { get; init; }
    public required string Weights { get; init; }
    /// <summary>Tasks trained when the model was saved (the first of <see cref="TaskNames"/>; fewer with --test-mode). Null in older files: all.</summary>
    public int? TasksCompleted { get; init; }

    public const string WeightsExtension = ".weights";

    public static string PathFor(string logPath, string runName) => Path.Combine(logPath, runName + ".model.json");

    public static string WeightsFor(string logPath, string runName) => Path.Combine(logPath, runName + WeightsExtension);

    /// <summary>Rebuilds the network described by <paramref name="path"/> (a .model.json file) and loads its weights.</summary>
    public static (SavedModel Description, MultiHeadNetwork Network) Load(string path)
    {
        if (!File.Exists(path)) throw new DataFileException(path, "file not found");
        var description = ResultFiles.ReadRecord<SavedModel>(path);
        Check(description, path);
        var approach = Approaches.ApproachRegistry.Get(description.Approach);
        var backbone = BackboneRegistry.All.FirstOrDefault(b => b.Name == description.Network)
            ?? throw new DataFileException(path, $"unknown network '{description.Network}' (registered: {BackboneRegistry.KnownNames})");
        var network = approach.Bind(description.Parameters, backbone)
            .CreateNetwork(backbone, new NetworkShape(description.InputSize, description.ClassCounts));
        var weights = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, description.Weights);
        if (!File.Exists(weights)) throw new DataFileException(weights, "file not found (the weights of " + Path.GetFileName(path) + ")");
        try { network.load(weights); }
        catch (Exception e) when (e is not RetainException) { throw new DataFileException(weights, $"cannot load the weights ({e.Message})", e); }
        return (description, network);
    }

    /// <summary>A description edited by hand (a null, a missing or inconsistent size) is one line naming the file, before any network is built.</summary>
    private static void Check(SavedModel d, string path)
    {
        void Require(bool ok, string problem) { if (!ok) throw new DataFileException(path, problem); }
        Require(d.Experiment is not null && d.Approach is not null && d.Network is not null && d.Parameters is not null && d.Parameters.Values.All(v => v is not null),
            "\"experiment\", \"approach\", \"network\" and \"parameters\" must all be given");
        Require(d.InputSize is [1 or 3, > 0 and <= Data.ImageFolderReader.MaxSide, > 0 and <= Data.ImageFolderReader.MaxSide],
            $"\"input_size\" must be [C, H, W] with C 1 or 3 and sides 1..{Data.ImageFolderReader.MaxSide}");
        Require(d.TaskNames is { Length: > 0 } names && names.All(n => n is not null) && d.ClassCounts is { } counts && counts.Length == names.Length && counts.All(c => c is >= 1 and <= 100_000),
            "\"task_names\" and \"class_counts\" must name the same tasks, each with a positive class count");
        Require(d.TasksCompleted is null || (d.TasksCompleted >= 0 && d.TasksCompleted <= d.TaskNames.Length), $"\"tasks_completed\" must be between 0 and {d.TaskNames.Length}");
        Require(d.Weights is { Length: > 0 } w && w == Path.GetFileName(w), "\"weights\" must be the name of the weights file beside it");
    }

    public static void Save(MultiHeadNetwork network, string logPath, string runName, RunRecord record)
    {
        var description = PathFor(logPath, runName);
        var weights = WeightsFor(logPath, runName);
        ResultFiles.WriteAtomically(weights, tmp => network.save(tmp));
        ResultFiles.WriteRecord(description, new SavedModel
        {
            Experiment = record.Experiment, Approach = record.Approach, Network = record.Network, InputSize = record.InputSize,
            ClassCounts = record.ClassCounts, TaskNames = record.TaskNames, Parameters = record.Parameters,
            Weights = Path.GetFileName(weights), TasksCompleted = record.TasksCompleted,
        });
    }
}
