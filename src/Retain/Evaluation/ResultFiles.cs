using Retain;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Retain.Evaluation;

/// <summary>
/// The result files of a run. The accuracy matrix is written as the seed writes it (numpy <c>savetxt</c>, <c>%.4f</c>,
/// space separated, one row per task trained, zeros above the diagonal), so the seed's plotting scripts read it. The
/// JSON file beside it holds everything: configuration, per-epoch history, accuracy and loss matrices.
/// Both are written atomically (temporary file, then rename) after every task.
/// </summary>
internal static partial class ResultFiles
{
    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary><c>res/&lt;experiment&gt;_&lt;approach&gt;_&lt;seed&gt;[_&lt;name&gt;].txt</c>, the seed's naming.</summary>
    public static string DefaultOutput(string resultsDir, string experiment, string approach, int seed, string? name) =>
        Path.Combine(resultsDir, $"{experiment}_{approach}_{seed}{(string.IsNullOrEmpty(name) ? "" : "_" + name)}.txt");

    public static string JsonPathFor(string output) => Path.ChangeExtension(output, ".json");

    public static string FormatMatrix(double[][] matrix)
    {
        var text = new StringBuilder();
        foreach (var row in matrix)
            text.Append(string.Join(' ', row.Select(v => v.ToString("0.0000", CultureInfo.InvariantCulture)))).Append('\n');
        return text.ToString();
    }

    public static void WriteAccuracyMatrix(string path, double[][] matrix) => WriteAtomically(path, FormatMatrix(matrix));

    public static double[][] ReadAccuracyMatrix(string path)
    {
        if (!File.Exists(path)) throw new DataFileException(path, "file not found");
        var rows = File.ReadAllLines(path).Where(l => l.Trim().Length > 0).ToArray();
        var matrix = new double[rows.Length][];
        for (var r = 0; r < rows.Length; r++)
        {
            var cells = rows[r].Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (cells.Length != rows.Length)
                throw new DataFileException(path, $"row {r + 1} has {cells.Length} values, a {rows.Length}x{rows.Length} accuracy matrix needs {rows.Length}");
            matrix[r] = new double[cells.Length];
            for (var c = 0; c < cells.Length; c++)
                if (!double.TryParse(cells[c], NumberStyles.Float, CultureInfo.InvariantCulture, out matrix[r][c]) || matrix[r][c] is < 0 or > 1)
                    throw new DataFileException(path, $"row {r + 1}, column {c + 1}: '{cells[c]}' is not an accuracy in [0,1]");
        }
        return matrix;
    }

    public static void WriteRecord<T>(string path, T record) => WriteAtomically(path, JsonSerializer.Serialize(record, Json));

    public static T ReadRecord<T>(string path)
    {
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new DataFileException(path, $"cannot read ({e.Message.TrimEnd('.')})", e); }
        try { return JsonSerializer.Deserialize<T>(text, Json) ?? throw new DataFileException(path, "empty JSON"); }
        catch (JsonException e) when (MissingFields().Match(e.Message) is { Success: true } missing)
        {
            throw new DataFileException(path, $"invalid result JSON (it lacks {missing.Groups[1].Value.Replace('\'', '"')})", e);
        }
        catch (JsonException e) { throw new DataFileException(path, $"invalid result JSON ({e.Message})", e); }
        // An object of several kinds (an optimiser, a loss) whose "type" is missing.
        catch (NotSupportedException e) { throw new DataFileException(path, $"invalid result JSON ({e.Message})", e); }
        // A value the record's types parse themselves (a curriculum) and reject.
        catch (RetainException e) when (e is not DataFileException) { throw new DataFileException(path, $"invalid result JSON ({e.Message})", e); }
    }

    /// <summary>System.Text.Json's message for absent required members, which names the .NET type rather than the file's keys.</summary>
    [System.Text.RegularExpressions.GeneratedRegex("missing required properties including: (.*?)\\.?$")]
    private static partial System.Text.RegularExpressions.Regex MissingFields();

    /// <summary>Writes a text file (CSV, for example) atomically, as the result files.</summary>
    public static void WriteText(string path, string content) => WriteAtomically(path, content);

    /// <summary>
    /// Writes a file through <paramref name="write"/> (which creates it at the path it is given) to a temporary name
    /// in the same folder, then renames it: readers never see a half-written file. When the write fails (a full
    /// disk), the temporary file is removed, so that it does not keep the disk full, and the error names the file.
    /// </summary>
    public static void WriteAtomically(string path, Action<string> write)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var tmp = Path.Combine(dir, $".{Path.GetFileName(path)}.{Environment.ProcessId}.tmp");
        try
        {
            Directory.CreateDirectory(dir);
            write(tmp);
            File.Move(tmp, path, overwrite: true);
        }
        catch (Exception e)
        {
            try { File.Delete(tmp); }
            catch (Exception cleanup) when (cleanup is IOException or UnauthorizedAccessException) { }
            if (e is IOException or UnauthorizedAccessException)
                throw new RetainException($"{path}: cannot write ({e.Message.TrimEnd('.')})", e);
            throw;
        }
    }

    private static void WriteAtomically(string path, string content) => WriteAtomically(path, tmp => File.WriteAllText(tmp, content));
}
