namespace Retain;

/// <summary>Quoting for the command lines Retain prints or writes (resume commands, study run lists and scripts).</summary>
internal static class Shell
{
    /// <summary>The text as one shell word: as it is when it holds only safe characters, else in single quotes.</summary>
    public static string Quote(string text) =>
        text.Length > 0 && text.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.' or '/' or ',' or ':' or '=' or '+' or '%')
            ? text : "'" + text.Replace("'", "'\\''") + "'";
}
