namespace Retain;

/// <summary>
/// One field of the CSV files Retain writes (study summaries, report values), quoted as RFC 4180 asks when it holds a
/// comma, a quote or a line break (a grid point's label such as <c>lamb_loss-20,1.3</c>). Hand-written: the files are
/// written in a few lines each and a CSV library would add a dependency for one function.
/// </summary>
internal static class CsvField
{
    public static string Quote(string text) =>
        text.IndexOfAny([',', '"', '\n', '\r']) < 0 ? text : "\"" + text.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
}
