using System.Globalization;
using System.Text.Json;

namespace Retain.Evaluation;

/// <summary>
/// What a result file tells about the run that made it, so that a reference run (random, joint) can be checked to be of
/// the same tasks as the run it normalises: experiment and seed (from the JSON record beside the matrix, else from the
/// file name), the task count (the matrix), and, from the JSON record only, task names and order, data source,
/// <c>--limit</c> and the scenario (runs of two scenarios are never combined).
/// </summary>
public sealed class RunDescription
{
    private const string Experiment = "experiment", Seed = "seed", TaskCount = "task count", Tasks = "tasks",
        DataSource = "data source", Limit = "limit", ScenarioName = "scenario";
    private static readonly string[] Compared = [Experiment, Seed, TaskCount, Tasks, DataSource, Limit, ScenarioName];

    /// <summary>The compared values as text, by name; null where unknown (no JSON record, or one without the field).</summary>
    private readonly Dictionary<string, string?> _values;

    private RunDescription(string matrixPath, string? recordPath, Dictionary<string, string?> values)
    {
        MatrixPath = matrixPath;
        RecordPath = recordPath;
        _values = values;
    }

    /// <summary>The accuracy-matrix file.</summary>
    public string MatrixPath { get; }

    /// <summary>The JSON record beside it, or null when there is none.</summary>
    public string? RecordPath { get; }

    /// <summary>The file the description comes from: the JSON record, or the matrix when there is no record.</summary>
    public string Source => RecordPath ?? MatrixPath;

    /// <summary>
    /// The <c>retain run</c> options, besides experiment, approach and seed, that make a reference matching this run:
    /// its <c>--limit</c>, and for mixture its data sets (the data source); null when there are none.
    /// </summary>
    public string? ReferenceArguments
    {
        get
        {
            var arguments = new List<string>();
            if (_values[Limit] is { } limit and not "none") arguments.Add($"--limit {limit}");
            if (_values[Experiment] == "mixture" && _values[DataSource] is { } datasets) arguments.Add($"--datasets {datasets}");
            if (_values[ScenarioName] is { } scenario and not "task") arguments.Add($"--scenario {scenario}");
            return arguments.Count > 0 ? string.Join(" ", arguments) : null;
        }
    }

    public static RunDescription Read(string matrixPath, ResultFileName name, AccuracyMatrix matrix)
    {
        var values = new Dictionary<string, string?>
        {
            [Experiment] = name.Experiment,
            [Seed] = name.Seed.ToString(CultureInfo.InvariantCulture),
            [TaskCount] = matrix.TaskCount.ToString(CultureInfo.InvariantCulture),
            [Tasks] = null, [DataSource] = null, [Limit] = null, [ScenarioName] = null,
        };
        var jsonPath = ResultFiles.JsonPathFor(matrixPath);
        if (!File.Exists(jsonPath)) return new RunDescription(matrixPath, null, values);

        using var document = Parse(jsonPath);
        var root = document.RootElement;
        void Set(string field, string property, Func<JsonElement, string?> read)
        {
            if (!root.TryGetProperty(property, out var value)) return;
            try { values[field] = read(value); }
            catch (InvalidOperationException) { throw new DataFileException(jsonPath, $"\"{property}\" is a JSON {value.ValueKind.ToString().ToLowerInvariant()}, not what a result record holds there"); }
        }
        Set(Experiment, "experiment", v => v.GetString());
        Set(Seed, "seed", v => v.GetInt32().ToString(CultureInfo.InvariantCulture));
        Set(Tasks, "task_names", v => "[" + string.Join(", ", v.EnumerateArray().Select(t => t.GetString())) + "]");
        Set(DataSource, "data_source", v => v.GetString());
        // retain run always records "limit"; null there is a run on the full data.
        Set(Limit, "limit", v => v.ValueKind == JsonValueKind.Null ? "none" : v.GetInt32().ToString(CultureInfo.InvariantCulture));
        // A record written before scenarios existed is of a task-IL run.
        values[ScenarioName] = Scenario.Task.Name();
        Set(ScenarioName, "scenario", v => v.GetString());
        return new RunDescription(matrixPath, jsonPath, values);
    }

    private static JsonDocument Parse(string jsonPath)
    {
        try
        {
            var document = JsonDocument.Parse(File.ReadAllText(jsonPath));
            if (document.RootElement.ValueKind == JsonValueKind.Object) return document;
            document.Dispose();
            throw new DataFileException(jsonPath, "invalid result JSON (not an object)");
        }
        catch (JsonException e) { throw new DataFileException(jsonPath, $"invalid result JSON ({e.Message.ReplaceLineEndings(" ")})", e); }
    }

    /// <summary>
    /// The first difference of <paramref name="reference"/> from <paramref name="run"/>, as one line
    /// (<c>res/mnist2_joint_0.json: reference run has limit 500, res/mnist2_ewc_0.json has none</c>), or null.
    /// </summary>
    public static string? Difference(RunDescription run, RunDescription reference) =>
        Compared.Where(f => run._values[f] is not null && reference._values[f] is not null && run._values[f] != reference._values[f])
            .Select(f => $"{reference.Source}: reference run has {f} {reference._values[f]}, {run.Source} has {run._values[f]}")
            .FirstOrDefault();

    /// <summary>
    /// For a reference in which <see cref="Difference"/> found none: what it was compared on and what could not be
    /// compared for want of a JSON record (or of a field in it), as one line; null when everything was compared.
    /// </summary>
    public static string? Unchecked(RunDescription run, RunDescription reference)
    {
        var unknown = Compared.Where(f => run._values[f] is null || reference._values[f] is null).ToArray();
        if (unknown.Length == 0) return null;
        var lacking = new[] { run, reference }.Where(d => d.RecordPath is null).Select(d => d.MatrixPath).ToArray();
        var why = lacking.Length > 0 ? $"no JSON record beside {string.Join(" and ", lacking)}" : "the JSON records do not hold them";
        return $"{reference.MatrixPath} matches {run.MatrixPath} in {string.Join(", ", Compared.Except(unknown))}; " +
               $"{string.Join(", ", unknown)} could not be checked ({why})";
    }
}
