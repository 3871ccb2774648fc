namespace Retain.Data;

/// <summary>Text taken from a data file for an error message, which must stay one readable line.</summary>
internal static class FileText
{
    /// <summary>Control characters (newlines included) and undecodable ones become '?'; long text is cut.</summary>
    public static string Printable(string text, int maxLength = 160)
    {
        var chars = text.Take(maxLength).Select(c => char.IsControl(c) || c == '\uFFFD' ? '?' : c).ToArray();
        return text.Length > maxLength ? new string(chars) + "..." : new string(chars);
    }
}
