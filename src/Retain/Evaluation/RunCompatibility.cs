using System.Globalization;
using Retain.Experiments;

namespace Retain.Evaluation;

/// <summary>
/// What a result file tells about the run that made it: its file name (experiment, approach, seed), its accuracy
/// matrix (the task count) and, where there is one beside it, its JSON record (everything else).
/// </summary>
internal sealed record RunDescription(string MatrixPath, ResultFileName Name, AccuracyMatrix Matrix, RecordFields? Record)
{
    /// <summary>The JSON record beside the matrix, or null when there is none.</summary>
    public string? RecordPath => Record is null ? null : ResultFiles.JsonPathFor(MatrixPath);

    /// <summary>The file the description comes from: the JSON record, or the matrix when there is no record.</summary>
    public string Source => RecordPath ?? MatrixPath;

    public static RunDescription Read(string matrixPath, ResultFileName name, AccuracyMatrix matrix)
    {
        var json = ResultFiles.JsonPathFor(matrixPath);
        return new RunDescription(matrixPath, name, matrix, File.Exists(json) ? RunRecordFile.ReadFields(json) : null);
    }

    /// <summary>
    /// The <c>retain run</c> options, besides experiment, approach and seed, that make a reference matching this run:
    /// its <c>--limit</c> and <c>--test-mode</c>, for mixture its data sets (the data source), and its scenario outside task-IL; null when there are none.
    /// </summary>
    public string? ReferenceArguments
    {
        get
        {
            var arguments = new List<string>();
            if (Record?.Limit is { } limit) arguments.Add($"--limit {limit.ToString(CultureInfo.InvariantCulture)}");
            // Only the tasks the run trained: a reference of every task would cost far more and add nothing.
            if (Record?.TestMode is { } testMode) arguments.Add($"--test-mode {testMode.ToString(CultureInfo.InvariantCulture)}");
            if (Record is { Experiment: "mixture", DataSource: { } datasets }) arguments.Add($"--datasets {datasets}");
            if (Record?.Scenario is { } scenario and not Scenario.Task) arguments.Add($"--scenario {scenario.Name()}");
            return arguments.Count > 0 ? string.Join(" ", arguments) : null;
        }
    }
}

/// <summary>
/// The one decision of what may be combined: a run with the reference that normalises it (<c>retain metrics</c>,
/// <c>study summary</c> and <c>report</c> all ask here), and two seeds averaged into one interval. Each fact below is
/// compared where both sides know it; the first difference is one line naming it.
/// </summary>
internal static class RunCompatibility
{
    /// <summary>
    /// A fact of a run as text, named as the option that sets it where one does, and whether it must be equal between
    /// a run and its reference and between two seeds. Every option that changes the data a run sees is one; two seeds
    /// must differ in nothing but the seed.
    /// </summary>
    /// <remarks><paramref name="Compared"/>, where given, is what is compared in place of the value shown.</remarks>
    private sealed record Fact(string Name, string Value, bool ForReference, bool ForSeeds, string? Compared = null)
    {
        public string Key => Compared ?? Value;
    }

    /// <summary>The facts a run's files tell (without a JSON record, only those its file name and matrix tell).</summary>
    private static IEnumerable<Fact> Facts(RunDescription d)
    {
        static string Text(object? value) => value switch
        {
            null => "none",
            double x => x.ToString("R", CultureInfo.InvariantCulture),
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            _ => value.ToString() ?? "none",
        };
        var r = d.Record;
        yield return new("--experiment", r?.Experiment ?? d.Name.Experiment, true, true);
        yield return new("--approach", r?.Approach ?? d.Name.Approach, false, true);
        yield return new("--seed", Text(r?.Seed ?? d.Name.Seed), true, false);
        yield return new("task count", Text(d.Matrix.TaskCount), true, true);
        if (r is null) yield break;
        if (r.TaskNames is { } names)
        {
            yield return new("tasks", $"[{string.Join(", ", names)}]", true, false);
            yield return new("task set", $"[{string.Join(", ", names.Order(StringComparer.Ordinal))}]", false, true);
        }
        // The data set, not where it lies: results made in two checkouts combine (Data.DataSourceIdentity).
        if (r.DataSource is { } source) yield return new("data source", source, true, true, Data.DataSourceIdentity.Of(source));
        yield return new("--limit", Text(r.Limit), true, true);
        // Runs of two scenarios are never combined; a record from before scenarios is of a task-IL run.
        yield return new("--scenario", (r.Scenario ?? Scenario.Task).Name(), true, true);
        if (r.Network is { } network)
        {
            yield return new("--network", network, false, true);
            yield return new("--weight-init", Text(r.WeightInit), false, true);
        }
        if (r.Training is { } t)
        {
            yield return new("--nepochs", Text(t.Epochs), false, true);
            yield return new("--sbatch", Text(t.BatchSize), false, true);
            yield return new("--lr", Text(t.LearningRate), false, true);
            yield return new("--lr-min", Text(t.MinLearningRate), false, true);
            yield return new("--lr-factor", Text(t.LearningRateFactor), false, true);
            yield return new("--lr-patience", Text(t.Patience), false, true);
            yield return new("--clipgrad", Text(t.ClipGradient), false, true);
            yield return new("--warmup", t.Warmup is { } w ? $"{Text(w.Epochs)},{Text(w.Divisor)}" : "none", false, true);
            yield return new("--curriculum", Text(t.Curriculum), false, true);
        }
    }

    /// <summary>
    /// Why <paramref name="reference"/> cannot normalise <paramref name="run"/> as its <paramref name="approach"/>
    /// reference (random or joint), as one line; null when it can.
    /// </summary>
    public static string? AsReference(RunDescription run, RunDescription reference, string approach)
    {
        if (reference.Record?.Approach is { } recorded && recorded != approach)
            return $"{reference.Source}: the {approach} reference's record says approach {recorded}, not {approach}";
        return FirstDifference(run, reference, f => f.ForReference, "reference run");
    }

    /// <summary>Why <paramref name="seed"/> cannot be averaged with <paramref name="first"/> (another seed of the same series), or null.</summary>
    public static string? AsSeeds(RunDescription first, RunDescription seed) =>
        FirstDifference(first, seed, f => f.ForSeeds, "seed") ?? OptionDifference(first, seed);

    /// <summary>
    /// For a reference that <see cref="AsReference"/> accepts: what it was compared on and what could not be compared
    /// for want of a JSON record (or of a field in it), as one line; null when everything was compared.
    /// </summary>
    public static string? Unchecked(RunDescription run, RunDescription reference)
    {
        var known = Facts(run).Where(f => f.ForReference).Select(f => f.Name).Intersect(Facts(reference).Select(f => f.Name)).ToArray();
        var unknown = ReferenceFactNames.Except(known).ToArray();
        if (unknown.Length == 0) return null;
        var lacking = new[] { run, reference }.Where(d => d.RecordPath is null).Select(d => d.MatrixPath).ToArray();
        var why = lacking.Length > 0 ? $"no JSON record beside {string.Join(" and ", lacking)}" : "the JSON records do not hold them";
        return $"{reference.MatrixPath} matches {run.MatrixPath} in {string.Join(", ", known)}; {string.Join(", ", unknown)} could not be checked ({why})";
    }

    /// <summary>Every fact a reference is compared on, as a run with a complete record tells them.</summary>
    private static readonly string[] ReferenceFactNames = ["--experiment", "--seed", "task count", "tasks", "data source", "--limit", "--scenario"];

    /// <summary>The first fact compared that both sides tell, and tell differently.</summary>
    private static string? FirstDifference(RunDescription run, RunDescription other, Func<Fact, bool> compared, string role)
    {
        var theirs = Facts(other).Where(compared).ToDictionary(f => f.Name);
        return Facts(run).Where(compared)
            .Select(f => theirs.GetValueOrDefault(f.Name) is { } fact && fact.Key != f.Key ? Line(run, other, role, f.Name, f.Value, fact.Value) : null)
            .FirstOrDefault(line => line is not null);
    }

    /// <summary>The first of the approach's own options (<c>--lamb</c>) that two seeds' records give different values, or that one of them lacks.</summary>
    private static string? OptionDifference(RunDescription first, RunDescription seed)
    {
        if (first.Record?.Parameters is not { } mine || seed.Record?.Parameters is not { } theirs) return null;
        return mine.Keys.Union(theirs.Keys).Order(StringComparer.Ordinal)
            .Select(name => (Name: name, Mine: mine.GetValueOrDefault(name) ?? "(not set)", Theirs: theirs.GetValueOrDefault(name) ?? "(not set)"))
            .Where(o => o.Mine != o.Theirs)
            .Select(o => Line(first, seed, "seed", "--" + o.Name, o.Mine, o.Theirs))
            .FirstOrDefault();
    }

    private static string Line(RunDescription run, RunDescription other, string role, string fact, string mine, string theirs) =>
        $"{other.Source}: {role} has {fact} {theirs}, {run.Source} has {mine}";
}
