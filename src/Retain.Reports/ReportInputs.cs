using Retain.Evaluation;
using Retain.Studies;

namespace Retain.Reports;

/// <summary>The runs a report shows, notes on what it could not find, and where its files go by default.</summary>
public sealed record ReportSources(IReadOnlyList<ReportRun> Runs, IReadOnlyList<string> Notes, string DefaultOutput);

/// <summary>
/// Turns a report's inputs into runs: a results folder (every <c>*.txt</c> named as a result file), a study file
/// (every run of it that has results, with its options), or result files (<c>.txt</c> or <c>.json</c>). The random
/// and joint references beside a run are added when they exist, as <c>retain metrics</c> finds them.
/// </summary>
public static class ReportInputs
{
    internal static bool IsStudyFile(string path) =>
        path.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".yml", StringComparison.OrdinalIgnoreCase);

    /// <param name="loadStudy">reads a study file (the CLI's, which checks every run's options as <c>retain run</c> does).</param>
    public static ReportSources Resolve(IReadOnlyList<string> inputs, Func<string, Study> loadStudy)
    {
        if (inputs.Count == 0) throw new RetainException("report: give a results folder, a study file or result files");
        var runs = new Dictionary<string, ReportRun>();
        var notes = new List<string>();
        void Add(ReportRun run) => runs.TryAdd(run.MatrixPath, run);
        string? defaultOutput = null;
        foreach (var input in inputs)
        {
            if (Directory.Exists(input))
            {
                foreach (var run in Folder(input, notes)) Add(run);
                defaultOutput ??= Path.Combine(input, "report");
            }
            else if (IsStudyFile(input))
            {
                var study = loadStudy(input);
                foreach (var run in StudyRuns(input, study, notes)) Add(run);
                defaultOutput ??= Path.Combine(study.Output, "report");
            }
            else
            {
                Add(ReportRun.Read(input));
                defaultOutput ??= Path.Combine(Path.GetDirectoryName(Path.GetFullPath(input))!, "report");
            }
        }
        foreach (var run in runs.Values.Where(r => !r.IsReference).ToArray())
            foreach (var approach in new[] { ReferenceRuns.Random, ReferenceRuns.Joint })
            {
                var path = Path.GetFullPath(ReferenceRuns.PathFor(run.Name, approach, run.Folder));
                if (!runs.ContainsKey(path) && File.Exists(path)) Add(ReportRun.Read(path));
            }
        return new ReportSources(Labelled(runs.Values), notes, defaultOutput!);
    }

    /// <summary>
    /// The runs, told apart by their paths: runs of one name from different folders are labelled with their nearest
    /// folders (<c>a/mnist2_sgd_0</c>, <c>b/mnist2_sgd_0</c>), so that none of their figures replaces another's.
    /// </summary>
    private static IReadOnlyList<ReportRun> Labelled(IEnumerable<ReportRun> runs)
    {
        var labelled = runs.ToArray();
        foreach (var twins in labelled.Select((run, i) => (run, i)).GroupBy(r => r.run.RunName).Where(g => g.Count() > 1))
        {
            var folders = twins.Select(t => t.run.Folder.Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries)).ToArray();
            var depth = 1;
            string Label(int k) => string.Join('/', folders[k].TakeLast(depth).Append(twins.Key));
            while (depth < folders.Max(f => f.Length) && Enumerable.Range(0, folders.Length).Select(Label).Distinct().Count() < folders.Length) depth++;
            var k = 0;
            foreach (var (run, i) in twins) labelled[i] = run with { Label = Label(k++) };
        }
        // Labels become file names; two that differ only in characters a file name cannot hold are numbered.
        foreach (var twins in labelled.Select((run, i) => (run, i)).GroupBy(r => FigureStyle.FileName(r.run.Label)).Where(g => g.Count() > 1))
        {
            var number = 1;
            foreach (var (run, i) in twins.Skip(1)) labelled[i] = run with { Label = $"{run.Label} ({++number})" };
        }
        return labelled;
    }

    private static IEnumerable<ReportRun> Folder(string folder, List<string> notes)
    {
        var runs = new List<ReportRun>();
        var skipped = new List<string>();
        foreach (var file in Directory.GetFiles(folder, "*.txt").Order(StringComparer.Ordinal))
        {
            if (!IsResultFileName(file)) { skipped.Add(Path.GetFileName(file)); continue; }
            runs.Add(ReportRun.Read(Path.GetFullPath(file)));
        }
        if (runs.Count == 0) throw new DataFileException(folder, $"no result file ({ResultFileName.Pattern}) in this folder");
        if (skipped.Count > 0) notes.Add($"{folder}: skipped {string.Join(", ", skipped)} (not named as result files, {ResultFileName.Pattern})");
        return runs;
    }

    private static bool IsResultFileName(string path)
    {
        try { ResultFileName.Parse(path); return true; }
        catch (DataFileException) { return false; }
    }

    private static IEnumerable<ReportRun> StudyRuns(string file, Study study, List<string> notes)
    {
        var runs = new List<ReportRun>();
        var missing = new List<string>();
        foreach (var run in study.Runs)
        {
            if (!File.Exists(run.Output)) { missing.Add(run.Name); continue; }
            runs.Add(ReportRun.Read(run.Output) with { Options = run.Options });
        }
        if (runs.Count == 0)
            throw new DataFileException(file, $"no run of study {study.Name} has results in {study.Output} yet (run it with: retain study run {file})");
        if (missing.Count > 0)
            notes.Add($"study {study.Name}: {missing.Count} of {study.Runs.Count} runs have no results yet: {string.Join(", ", missing)}");
        return runs;
    }
}
