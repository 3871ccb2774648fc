namespace Retain;

/// <summary>
/// An error caused by the user's input (an option, a data file, a result file). Its message is one line that names
/// the option or file and what is wrong (line breaks quoted from a file become spaces); the CLI prints it and exits with code 2.
/// </summary>
public class RetainException(string message, Exception? inner = null) : Exception(message.ReplaceLineEndings(" "), inner);

/// <summary>A data file that cannot be read: missing, truncated, corrupt or of the wrong shape.</summary>
public sealed class DataFileException(string path, string problem, Exception? inner = null)
    : RetainException($"{path}: {problem}", inner)
{
    public string Path { get; } = path;
}
