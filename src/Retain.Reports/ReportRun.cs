using Retain.Evaluation;
using Retain.Experiments;
using Retain.Studies;

namespace Retain.Reports;

/// <summary>
/// One run as a report reads it: the accuracy matrix (<c>&lt;experiment&gt;_&lt;approach&gt;_&lt;seed&gt;[_&lt;name&gt;].txt</c>),
/// the JSON record beside it when there is one (history, validation accuracy, accuracy before training), and, for a
/// study's run, its options (which tell a grid point's parameters) and its log folder.
/// </summary>
public sealed record ReportRun(string MatrixPath, ResultFileName Name, AccuracyMatrix Accuracy, RunRecord? Record)
{
    /// <summary>The study options of the run (empty outside a study).</summary>
    public IReadOnlyList<StudyOption> Options { get; init; } = [];

    /// <summary>The file name of the run's results, without extension (what its approach pictures are named after).</summary>
    public string RunName => Path.GetFileNameWithoutExtension(MatrixPath);

    /// <summary>The scenario its record names (task-IL without a record, as the seed's runs were).</summary>
    public Scenario Scenario => Record?.Scenario ?? Scenario.Task;

    /// <summary>
    /// How the report names the run (titles, figure files, the CSV): its <see cref="RunName"/>, with as much of its
    /// folder as tells it apart from another run of the same name (<see cref="ReportInputs"/> sets it).
    /// </summary>
    public string Label { get; init; } = Path.GetFileNameWithoutExtension(MatrixPath);
    public string Folder => Path.GetDirectoryName(Path.GetFullPath(MatrixPath))!;
    public bool IsReference => Name.IsReference;
    public int CompletedTasks => Accuracy.CompletedTasks;

    /// <summary>Tasks the run was asked to train: all of them, or its --test-mode (unknown without a record: all).</summary>
    public int TasksToRun => Record?.TestMode ?? Accuracy.TaskCount;

    /// <summary>Stopped before training every task it was asked to (from the record; without one, a short matrix).</summary>
    public bool IsPartial => CompletedTasks < TasksToRun;

    /// <summary>The folders where the run's approach pictures may be: its log path (a study option) and its result folder.</summary>
    internal IEnumerable<string> PictureFolders =>
        Options.Where(o => o.Name == "log-path").Select(o => Path.GetFullPath(o.Value)).Append(Folder).Distinct();

    /// <summary>
    /// Reads a run from its accuracy matrix (<c>.txt</c>) or its JSON record (<c>.json</c>), each with the other when
    /// it is there; without a text file the record's accuracy matrix is used.
    /// </summary>
    public static ReportRun Read(string path)
    {
        if (!File.Exists(path)) throw new DataFileException(path, "file not found");
        var isRecord = path.EndsWith(".json", StringComparison.OrdinalIgnoreCase);
        if (!isRecord && !path.EndsWith(".txt", StringComparison.OrdinalIgnoreCase))
            throw new DataFileException(path, $"not a result file: a report reads {ResultFileName.Pattern} and the JSON record beside it");
        var matrixPath = Path.GetFullPath(isRecord ? Path.ChangeExtension(path, ".txt") : path);
        var name = ResultFileName.Parse(matrixPath);
        var jsonPath = ResultFiles.JsonPathFor(matrixPath);
        var record = File.Exists(jsonPath) ? RunRecordFile.Read(jsonPath) : null;
        var accuracy = File.Exists(matrixPath) ? AccuracyMatrix.Read(matrixPath, record?.TasksCompleted is > 0 and var n ? n : (int?)null) : new AccuracyMatrix(record!.Accuracy, jsonPath);
        return new ReportRun(matrixPath, name, accuracy, record);
    }

    /// <summary>The name of task u from the record, or null without one.</summary>
    /// <summary>The task-agnostic accuracy matrix of the run's own task predictor, or null (--eval aware, older records).</summary>
    public AccuracyMatrix? AgnosticAccuracy => AgnosticOf(m => m.Accuracy);

    /// <summary>How often the run's own predictor named the right task, as a matrix like the accuracy, or null.</summary>
    public AccuracyMatrix? TaskPrediction => AgnosticOf(m => m.TaskAccuracy);

    private AccuracyMatrix? AgnosticOf(Func<Experiments.AgnosticMatrices, double[][]> matrix) =>
        Record is { Agnostic: { } all, AgnosticPredictor: { } predictor } && all.TryGetValue(predictor, out var m)
            ? new AccuracyMatrix(matrix(m), MatrixPath) : null;

    public string? TaskName(int u) => Record?.TaskNames is { } names && u < names.Length ? names[u] : null;
}
