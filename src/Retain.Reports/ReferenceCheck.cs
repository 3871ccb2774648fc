using Retain.Evaluation;

namespace Retain.Reports;

/// <summary>
/// A run's random and joint references, found where <c>retain metrics</c> looks (<see cref="ReferenceRuns.PathFor"/>:
/// the run's folder) and checked as it checks them (<see cref="RunCompatibility.AsReference"/>, and enough of
/// them completed). Where <c>retain metrics</c> stops with an error, a report only leaves the seed's ρ and FWT out
/// and says why, once per missing or unusable reference.
/// </summary>
internal sealed class ReferenceCheck(Func<string, ReportRun?> find)
{
    private readonly Dictionary<string, string> _notes = [];

    public IEnumerable<string> Notes => _notes.Values;

    /// <summary>Both references of <paramref name="run"/>, or null (with a note) when one is missing or unusable.</summary>
    public (ReportRun Random, ReportRun Joint)? For(ReportRun run)
    {
        var random = Usable(run, ReferenceRuns.Random);
        var joint = Usable(run, ReferenceRuns.Joint);
        return random is not null && joint is not null ? (random, joint) : null;
    }

    private ReportRun? Usable(ReportRun run, string approach)
    {
        var path = Path.GetFullPath(ReferenceRuns.PathFor(run.Name, approach, run.Folder));
        var description = RunDescription.Read(run.MatrixPath, run.Name, run.Accuracy);
        if (find(path) is not { } reference)
        {
            var missing = new MissingReferenceRun(path, run.Name.Experiment, approach, run.Name.Seed, description.ReferenceArguments);
            _notes.TryAdd(path, $"{path} is missing (make it with: {missing.Command}): runs of seed {run.Name.Seed} have no ρ or FWT");
            return null;
        }
        var problem = RunCompatibility.AsReference(description, RunDescription.Read(reference.MatrixPath, reference.Name, reference.Accuracy), approach)
            ?? (reference.CompletedTasks < run.CompletedTasks
                ? $"{reference.MatrixPath}: this reference completed {reference.CompletedTasks} tasks, {run.MatrixPath} completed {run.CompletedTasks}"
                : null);
        if (problem is null) return reference;
        _notes.TryAdd(path + "\n" + problem, $"{problem}: not used, so {run.Label} has no ρ or FWT");
        return null;
    }
}
