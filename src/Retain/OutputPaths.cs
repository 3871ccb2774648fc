namespace Retain;

/// <summary>
/// The one check of where a command may write, called by every command that writes before it does any work: a path
/// that is empty or names a folder where a file is meant, a file where a folder is meant, a file on the way, a place
/// that cannot be written (<c>/proc</c>, a read-only mount), an existing result that would be replaced without
/// <c>--overwrite</c>, and two outputs of one command on the same path. Every problem is one line naming the option.
/// </summary>
internal static class OutputPaths
{
    /// <summary>A file path: not empty, not a folder, no file on its way, and its nearest existing folder writable.</summary>
    public static void RequireFile(string path, string option)
    {
        RequireNamed(path, option, "a file");
        if (Directory.Exists(path)) throw new RetainException($"{option} {path}: is a folder, not a file");
        RequireWritableAncestor(Path.GetDirectoryName(Path.GetFullPath(path))!, path, option);
    }

    /// <summary>A folder path: not empty, not a file, no file on its way, and writable (or creatable).</summary>
    public static void RequireFolder(string path, string option)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new RetainException($"{option}: empty path, give a folder");
        if (File.Exists(path)) throw new RetainException($"{option} {path}: is a file, not a folder");
        RequireWritableAncestor(Path.GetFullPath(path), path, option);
    }

    /// <summary>
    /// The stem of a command's files (<paramref name="path"/> + each of <paramref name="extensions"/>): a file name
    /// in a writable folder, none of the files a folder, and none there already unless <paramref name="overwrite"/>.
    /// </summary>
    public static void RequireStem(string path, string option, IReadOnlyList<string> extensions, bool overwrite)
    {
        RequireFile(path, option);
        var files = extensions.Select(e => path + e).ToArray();
        RequireNotFolders(files, option);
        if (!overwrite) RequireAbsent(files, option);
    }

    /// <summary>None of <paramref name="files"/> exists: a command does not replace results without <c>--overwrite</c>.</summary>
    public static void RequireAbsent(IEnumerable<string> files, string option)
    {
        if (files.FirstOrDefault(File.Exists) is { } existing)
            throw new RetainException($"{option}: {existing} already exists; add --overwrite to replace it, or write elsewhere");
    }

    /// <summary>None of the files a command will write is a folder (a file cannot replace one).</summary>
    public static void RequireNotFolders(IEnumerable<string> files, string option)
    {
        if (files.FirstOrDefault(Directory.Exists) is { } folder)
            throw new RetainException($"{option}: {folder} is a folder, where a file of this command goes");
    }

    /// <summary>
    /// No two of the paths a command writes (files and folders, each with the option it comes from) are the same:
    /// one would replace the other.
    /// </summary>
    public static void RequireDistinct(IEnumerable<(string Path, string Option)> paths)
    {
        foreach (var twins in paths.GroupBy(p => Path.GetFullPath(p.Path)).Where(g => g.Count() > 1))
        {
            var (first, second) = (twins.First(), twins.Skip(1).First());
            throw new RetainException($"{first.Option} and {second.Option} both write {twins.Key}: one would replace the other");
        }
    }

    /// <summary>An extension of <paramref name="path"/> that the command writes itself beside it is refused.</summary>
    public static void RequireNotOwnExtension(string path, string option, IReadOnlyList<string> ownExtensions, string example)
    {
        var extension = Path.GetExtension(path);
        if (ownExtensions.Contains(extension, StringComparer.OrdinalIgnoreCase))
            throw new RetainException($"{option} {path}: a run writes {string.Join(", ", ownExtensions)} files itself beside its output; give another extension (e.g. {example})");
    }

    private static void RequireNamed(string path, string option, string what)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new RetainException($"{option}: empty path, give {what}");
        if (Path.EndsInDirectorySeparator(path) || Path.GetFileName(path) is "." or "..")
            throw new RetainException($"{option} {path}: names a folder; give {what} in it");
    }

    private static void RequireWritableAncestor(string folder, string given, string option)
    {
        var existing = folder;
        while (!Directory.Exists(existing))
        {
            if (File.Exists(existing)) throw new RetainException($"{option} {given}: {existing} is a file, not a folder");
            existing = Path.GetDirectoryName(existing) ?? throw new RetainException($"{option} {given}: no existing folder on its path");
        }
        // Permissions alone do not tell (root ignores them, read-only file systems do not show in them): try it.
        var probe = Path.Combine(existing, $".retain-write-test-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            using (File.Create(probe, 1, FileOptions.DeleteOnClose)) { }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new RetainException($"{option} {given}: cannot write in {existing} ({e.Message.TrimEnd('.')})");
        }
    }
}
