using System.Globalization;
using System.Text;
using Retain.Evaluation;
using Retain.Experiments;

namespace Retain.Studies;

/// <summary>
/// One row of a study's summary: a scenario × experiment × approach × grid point (or named run), with the mean and 95%
/// interval over its seeds of the final ACC, BWT, FWT and forgetting ratio ρ (after the last task), and of the final
/// mean validation accuracy, which alone decides the best grid point of an approach. Runs of different scenarios are
/// never combined: each has its own rows, normalised by references of its own scenario.
/// </summary>
public sealed record SummaryRow(string Experiment, string Approach, string Label, int[] Seeds, int MissingSeeds,
    MeanWithConfidence Accuracy, MeanWithConfidence BackwardTransfer, MeanWithConfidence ForwardTransfer,
    MeanWithConfidence ForgettingRatio, MeanWithConfidence ValidAccuracy)
{
    public Scenario Scenario { get; init; } = Scenario.Task;

    /// <summary>The best of its approach's grid points on this experiment by validation accuracy (only set where there are several).</summary>
    public bool Selected { get; init; }
}

public static class StudySummary
{
    /// <summary>
    /// The rows of every group with at least one complete seed (references are not rows; they normalise ρ and FWT).
    /// Runs whose references are missing or incomplete count as missing seeds. A reference that does not match its
    /// run, or seeds that differ in more than the seed, are an error naming the option (<see cref="RunCompatibility"/>).
    /// </summary>
    public static IReadOnlyList<SummaryRow> Compute(Study study)
    {
        var references = study.Runs.Where(r => r.IsReference && r.State.State == RunState.Complete)
            .ToDictionary(r => (r.Scenario, r.Experiment, r.Approach, r.Seed), r => Describe(r.Output));
        var rows = new List<SummaryRow>();
        foreach (var group in study.Runs.Where(r => !r.IsReference).GroupBy(r => (r.Scenario, r.Experiment, r.Approach, Label: r.Label ?? "")))
        {
            var seeds = new List<(int Seed, RunMetrics Metrics, double Valid)>();
            RunDescription? first = null;
            foreach (var run in group)
            {
                if (run.State.State != RunState.Complete
                    || !references.TryGetValue((run.Scenario, run.Experiment, ReferenceRuns.Random, run.Seed), out var random)
                    || !references.TryGetValue((run.Scenario, run.Experiment, ReferenceRuns.Joint, run.Seed), out var joint)) continue;
                var record = RunRecordFile.Read(ResultFiles.JsonPathFor(run.Output));
                var description = Describe(run.Output);
                foreach (var (approach, reference) in new[] { (ReferenceRuns.Random, random), (ReferenceRuns.Joint, joint) })
                    if (RunCompatibility.AsReference(description, reference, approach) is { } mismatch) throw new RetainException(mismatch);
                if (first is not null && RunCompatibility.AsSeeds(first, description) is { } unequal) throw new RetainException(unequal);
                first ??= description;
                var metrics = RunMetrics.Compute(description.Matrix, random.Matrix, joint.Matrix, record.AccuracyBeforeTraining);
                seeds.Add((run.Seed, metrics, FinalMeanValidAccuracy(record)));
            }
            if (seeds.Count == 0) continue;
            MeanWithConfidence Of(Func<(int Seed, RunMetrics Metrics, double Valid), double> value) => MeanWithConfidence.Of(seeds.Select(value).ToArray());
            rows.Add(new SummaryRow(Path.GetFileNameWithoutExtension(group.Key.Experiment), group.Key.Approach, group.Key.Label,
                seeds.Select(s => s.Seed).ToArray(), group.Count() - seeds.Count,
                Of(s => s.Metrics.AverageAccuracy), Of(s => s.Metrics.BackwardTransfer), Of(s => s.Metrics.ForwardTransfer),
                Of(s => s.Metrics.ForgettingRatio[^1]), Of(s => s.Valid)) { Scenario = group.Key.Scenario });
        }
        // Model selection on validation data only: per scenario, experiment and approach, the grid point of best validation accuracy.
        return rows.GroupBy(r => (r.Scenario, r.Experiment, r.Approach))
            .SelectMany(g =>
            {
                if (g.Count() == 1) return g.AsEnumerable();
                var best = g.MaxBy(r => r.ValidAccuracy.Mean)!;
                return g.Select(r => r == best ? r with { Selected = true } : r);
            })
            .ToArray();
    }

    private static RunDescription Describe(string output) =>
        RunDescription.Read(output, ResultFileName.Parse(output), AccuracyMatrix.Read(output));

    /// <summary>The mean over tasks of the validation accuracy after the last completed task.</summary>
    internal static double FinalMeanValidAccuracy(RunRecord record) =>
        record.ValidAccuracy is { } valid && record.TasksCompleted > 0
            ? valid[record.TasksCompleted - 1].Take(record.TasksCompleted).Average()
            : double.NaN;

    public static string Csv(IReadOnlyList<SummaryRow> rows)
    {
        static string F(double v) => double.IsNaN(v) ? "" : v.ToString("0.######", CultureInfo.InvariantCulture);
        var text = new StringBuilder("scenario,experiment,approach,point,seeds,missing_seeds,acc,acc_ci,bwt,bwt_ci,fwt,fwt_ci,rho,rho_ci,valid_acc,valid_acc_ci,selected_by_validation\n");
        foreach (var r in rows)
        {
            text.Append(string.Join(',', new[] { r.Scenario.Name(), r.Experiment, r.Approach, r.Label, string.Join(' ', r.Seeds), r.MissingSeeds.ToString(CultureInfo.InvariantCulture) }.Select(CsvField.Quote)));
            foreach (var m in new[] { r.Accuracy, r.BackwardTransfer, r.ForwardTransfer, r.ForgettingRatio, r.ValidAccuracy })
                text.Append(',').Append(F(m.Mean)).Append(',').Append(F(m.HalfWidth));
            text.Append(',').Append(r.Selected ? "yes" : "").Append('\n');
        }
        return text.ToString();
    }
}
