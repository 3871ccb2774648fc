using System.Globalization;

namespace Retain.Evaluation;

/// <summary>
/// What a result file's name says: <c>&lt;experiment&gt;_&lt;approach&gt;_&lt;seed&gt;[_&lt;name&gt;].txt</c>
/// (<see cref="ResultFiles.DefaultOutput"/>). Experiment and approach names contain no underscore (approach names may
/// contain '-'), so the first two underscores delimit them and the optional name is everything after the third.
/// </summary>
public sealed record ResultFileName(string Experiment, string Approach, int Seed, string? Name)
{
    public const string Pattern = "<experiment>_<approach>_<seed>[_<name>].txt";

    public static ResultFileName Parse(string path)
    {
        var fileName = Path.GetFileName(path);
        if (!fileName.EndsWith(".txt", StringComparison.Ordinal))
            throw new DataFileException(path, $"not an accuracy-matrix file: its name should be {Pattern}");
        var parts = fileName[..^".txt".Length].Split('_', 4);
        if (parts.Length < 3 || parts[0].Length == 0 || parts[1].Length == 0 || parts is [_, _, _, ""])
            throw new DataFileException(path, $"cannot tell experiment, approach and seed from the file name: it should be {Pattern}");
        if (!int.TryParse(parts[2], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var seed))
            throw new DataFileException(path, $"'{parts[2]}' in the file name is not a seed (an integer): the name should be {Pattern}");
        return new ResultFileName(parts[0], parts[1], seed, parts.Length == 4 ? parts[3] : null);
    }

    /// <summary>The runs that normalise the others; they are not themselves evaluated.</summary>
    public bool IsReference => Approach is ReferenceRuns.Random or ReferenceRuns.Joint;

    public override string ToString() =>
        $"{Experiment}_{Approach}_{Seed.ToString(CultureInfo.InvariantCulture)}{(Name is null ? "" : "_" + Name)}";
}

/// <summary>
/// A reference run that a normalised metric needs and that is not there, with the command that makes it;
/// <paramref name="Arguments"/> are the options that make it match the run (e.g. <c>--limit 500</c>).
/// </summary>
internal sealed record MissingReferenceRun(string Path, string Experiment, string Approach, int Seed, string? Arguments = null)
{
    /// <summary>The <c>retain run</c> command that writes this file (with --output unless it is the default place).</summary>
    public string Command
    {
        get
        {
            var command = $"retain run --experiment {Experiment} --approach {Approach} --seed {Seed.ToString(CultureInfo.InvariantCulture)}" +
                          (string.IsNullOrEmpty(Arguments) ? "" : " " + Arguments);
            var defaultOutput = ResultFiles.DefaultOutput("res", Experiment, Approach, Seed, null);
            return System.IO.Path.GetFullPath(Path) == System.IO.Path.GetFullPath(defaultOutput)
                ? command
                : $"{command} --output {Shell.Quote(Path)}";
        }
    }

}

/// <summary>Thrown when reference runs are missing; its message lists each, with the command that makes it.</summary>
internal sealed class MissingReferenceRunsException(IReadOnlyList<MissingReferenceRun> missing)
    : RetainException($"missing reference run{(missing.Count == 1 ? "" : "s")} for the normalised metrics: " +
                      string.Join("; ", missing.Select(m => $"{m.Path} (make it with: {m.Command})")))
{
    public IReadOnlyList<MissingReferenceRun> Missing { get; } = missing;
}

/// <summary>Where a run's reference runs are: <c>&lt;experiment&gt;_random_&lt;seed&gt;.txt</c> and <c>..._joint_...</c>.</summary>
internal static class ReferenceRuns
{
    public const string Random = "random";
    public const string Joint = "joint";

    public static string PathFor(ResultFileName run, string approach, string folder) =>
        ResultFiles.DefaultOutput(folder, run.Experiment, approach, run.Seed, null);

    /// <summary>
    /// The random and joint files that the given runs (each with the folder to look in and the options a matching
    /// reference is made with) need and lack, each once.
    /// </summary>
    public static IReadOnlyList<MissingReferenceRun> FindMissing(IEnumerable<(ResultFileName Run, string Folder, string? Arguments)> runs) =>
        runs.SelectMany(r => new[] { Random, Joint }.Select(approach => (r.Run, r.Arguments, approach, Path: PathFor(r.Run, approach, r.Folder))))
            .Where(r => !File.Exists(r.Path))
            .DistinctBy(r => System.IO.Path.GetFullPath(r.Path))
            .Select(r => new MissingReferenceRun(r.Path, r.Run.Experiment, r.approach, r.Run.Seed, r.Arguments))
            .ToArray();

    /// <summary>Throws <see cref="MissingReferenceRunsException"/> listing every missing reference of the given runs.</summary>
    public static void RequireAll(IEnumerable<(ResultFileName Run, string Folder, string? Arguments)> runs)
    {
        var missing = FindMissing(runs);
        if (missing.Count > 0) throw new MissingReferenceRunsException(missing);
    }
}
