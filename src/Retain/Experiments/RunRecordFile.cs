using System.Globalization;
using Retain.Evaluation;

namespace Retain.Experiments;

/// <summary>
/// The fields of a run's JSON record that the commands reading results use, each null where the record lacks it
/// (records written by older versions, or by hand for the seed's matrices, hold only some of them).
/// </summary>
internal sealed record RecordFields
{
    public string? Experiment { get; init; }
    public string? Approach { get; init; }
    public int? Seed { get; init; }
    public string? DataSource { get; init; }
    public string[]? TaskNames { get; init; }
    public int? TasksCompleted { get; init; }
    public int? TestMode { get; init; }
    public int? Limit { get; init; }
    /// <summary>The scenario of the run; a record from before scenarios has none and is of a task-IL run.</summary>
    public Scenario? Scenario { get; init; }
    public string? Network { get; init; }
    public string? WeightInit { get; init; }
    public Training.TrainingOptions? Training { get; init; }
    public Dictionary<string, string>? Parameters { get; init; }
    public double[][]? Accuracy { get; init; }
    public double[][]? ValidAccuracy { get; init; }
    public double[]? AccuracyBeforeTraining { get; init; }
    public Dictionary<string, AgnosticMatrices>? Agnostic { get; init; }
    public string? AgnosticPredictor { get; init; }
    public Dictionary<string, string>? Identity { get; init; }

    /// <summary>Tasks of the experiment, where the record tells.</summary>
    public int? TaskCount => TaskNames?.Length ?? Accuracy?.Length;
}

/// <summary>
/// Reads run records (the JSON files <c>retain run</c> writes beside its accuracy matrices, and the record inside a
/// checkpoint) and checks them before anything uses them: a record edited by hand, with a key missing, a null, a
/// matrix of the wrong size or an accuracy outside [0,1], is one line naming the file and the field (exit code 2),
/// never an exception deep inside a command.
/// </summary>
internal static class RunRecordFile
{
    /// <summary>The fields present in the record at <paramref name="path"/>, each checked; absent ones are null.</summary>
    public static RecordFields ReadFields(string path)
    {
        var fields = ResultFiles.ReadRecord<RecordFields>(path);
        Check(fields, path);
        return fields;
    }

    /// <summary>The whole record at <paramref name="path"/>, as <c>retain run</c> writes it: every field present and checked.</summary>
    public static RunRecord Read(string path)
    {
        var record = ResultFiles.ReadRecord<RunRecord>(path);
        Check(record, path);
        return record;
    }

    /// <summary>Checks a whole record (read from <paramref name="source"/>, a JSON file or a checkpoint).</summary>
    public static void Check(RunRecord record, string source)
    {
        void Require(bool ok, string problem) { if (!ok) throw new DataFileException(source, problem); }
        Require(record.Experiment is not null, Missing("experiment"));
        Require(record.Approach is not null, Missing("approach"));
        Require(record.Device is not null, Missing("device"));
        Require(record.DataSource is not null, Missing("data_source"));
        Require(record.Network is not null, Missing("network"));
        Require(record.Training is not null, Missing("training"));
        Require(record.TaskNames is not null, Missing("task_names"));
        Require(record.Accuracy is not null, Missing("accuracy"));
        Require(record.Loss is not null, Missing("loss"));
        Require(record.AccuracyBeforeTraining is not null, Missing("accuracy_before_training"));
        Require(record.History is not null, Missing("history"));
        Require(record.Parameters is not null && record.Parameters.Values.All(v => v is not null), "\"parameters\" is missing or holds a null");
        Check(Fields(record), source);
        var n = record.TaskNames!.Length;
        Require(record.ClassCounts is { } counts && counts.Length == n && counts.All(c => c >= 1),
            $"\"class_counts\" must hold a positive class count for each of the {n} tasks");
        Require(record.InputSize is [> 0, > 0, > 0], "\"input_size\" must be three positive sizes [C, H, W]");
        Require(record.AccuracyBeforeTraining!.Length == n, $"\"accuracy_before_training\" has {record.AccuracyBeforeTraining.Length} values, the record has {n} tasks");
        RequireMatrix(record.Loss!, n, "loss", source, accuracies: false);
        Require(record.ParameterCount >= 0 && record.Seconds >= 0, "\"parameter_count\" and \"seconds\" must not be negative");
        for (var i = 0; i < record.History!.Count; i++)
            Require(record.History[i] is { Scalars: not null } e && e.Task >= 0 && e.Task < n && e.Epoch >= 0,
                $"\"history\"[{i}] must be an epoch of one of the {n} tasks (task 0..{n - 1}, epoch >= 0, scalars)");
    }

    /// <summary>The checks every record gets, on the fields it has.</summary>
    private static void Check(RecordFields r, string source)
    {
        void Require(bool ok, string problem) { if (!ok) throw new DataFileException(source, problem); }
        if (r.TaskNames is { } names)
            Require(names.Length > 0 && names.All(t => !string.IsNullOrEmpty(t)), "\"task_names\" must be a non-empty list of names");
        var n = r.TaskCount;
        if (r.Accuracy is { } accuracy) RequireMatrix(accuracy, n!.Value, "accuracy", source);
        if (r.ValidAccuracy is { } valid && n is { } size) RequireMatrix(valid, size, "valid_accuracy", source);
        if (r.TasksCompleted is { } done)
            Require(done >= 0 && (n is null || done <= n), $"\"tasks_completed\" is {done}, not between 0 and the {n?.ToString(CultureInfo.InvariantCulture) ?? "record's"} tasks");
        if (r.TestMode is { } testMode)
            Require(testMode >= 1 && (n is null || testMode <= n), $"\"test_mode\" is {testMode}, not between 1 and the {n} tasks");
        if (r.Limit is { } limit) Require(limit >= 1, $"\"limit\" is {limit}, not a number of samples");
        if (r.Parameters is { } parameters) Require(parameters.Values.All(v => v is not null), "\"parameters\" holds a null");
        if (r.Identity is { } identity) Require(identity.Values.All(v => v is not null), "\"identity\" holds a null");
        if (r.AccuracyBeforeTraining is { } before)
            for (var u = 0; u < before.Length; u++)
                Require(before[u] is >= 0 and <= 1, $"\"accuracy_before_training\"[{u}] = {Format(before[u])} is not an accuracy in [0,1]");
        if (r.Agnostic is { } agnostic && n is { } tasks)
            foreach (var (predictor, matrices) in agnostic)
            {
                if (matrices is not { Accuracy: { } accuracyOf, TaskAccuracy: { } taskAccuracyOf })
                    throw new DataFileException(source, $"\"agnostic\".{predictor} needs \"accuracy\" and \"task_accuracy\"");
                RequireMatrix(accuracyOf, tasks, $"agnostic.{predictor}.accuracy", source);
                RequireMatrix(taskAccuracyOf, tasks, $"agnostic.{predictor}.task_accuracy", source);
            }
    }

    private static void RequireMatrix(double[][] matrix, int size, string field, string source, bool accuracies = true)
    {
        if (matrix.Length != size || matrix.Any(row => row is null || row.Length != size))
            throw new DataFileException(source, $"\"{field}\" must be a {size}x{size} matrix, one row and column per task");
        if (!accuracies) return;
        for (var t = 0; t < size; t++)
            for (var u = 0; u < size; u++)
                if (matrix[t][u] is not (>= 0 and <= 1))
                    throw new DataFileException(source, $"\"{field}\"[{t}][{u}] = {Format(matrix[t][u])} is not an accuracy in [0,1]");
    }

    private static RecordFields Fields(RunRecord r) => new()
    {
        Experiment = r.Experiment, Approach = r.Approach, Seed = r.Seed, DataSource = r.DataSource, TaskNames = r.TaskNames,
        TasksCompleted = r.TasksCompleted, TestMode = r.TestMode, Limit = r.Limit, Network = r.Network, WeightInit = r.WeightInit,
        Training = r.Training, Parameters = r.Parameters, Accuracy = r.Accuracy,
        ValidAccuracy = r.ValidAccuracy, AccuracyBeforeTraining = r.AccuracyBeforeTraining, Agnostic = r.Agnostic,
        AgnosticPredictor = r.AgnosticPredictor, Identity = r.Identity?.ToDictionary(),
    };

    private static string Missing(string field) => $"\"{field}\" is missing or null";

    private static string Format(double value) => value.ToString(CultureInfo.InvariantCulture);
}
