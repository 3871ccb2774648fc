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

/// <summary>
/// A setting of a library object out of its range, named by the object's type and property
/// (<c>TrainingOptions.BatchSize must be at least 1 (got 0)</c>). The library knows nothing of command-line flags; the
/// command line reports the error under its own option name (<c>--sbatch must be at least 1 (got 0)</c>).
/// </summary>
public sealed class SettingException(Type owner, string property, string problem)
    : RetainException($"{owner.Name}.{property} {problem}")
{
    public Type Owner { get; } = owner;
    public string Property { get; } = property;
    /// <summary>What is wrong, after the setting's name: "must be at least 1 (got 0)".</summary>
    public string Problem { get; } = problem;
}
