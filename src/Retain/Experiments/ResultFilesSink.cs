using Retain.Evaluation;
using Retain.Training;

namespace Retain.Experiments;

/// <summary>
/// Writes the run's result files, the accuracy matrix in the seed's format and the JSON record, after every task and
/// once more when the run ends. A run that replaces a complete result (<c>--overwrite</c>) leaves it in place until it
/// is complete itself: a partial run never replaces a complete result.
/// </summary>
public sealed class ResultFilesSink(RunPlan plan) : IRunSink
{
    private readonly bool _protectsComplete = plan.Existing.State == RunState.Complete;
    private readonly Dictionary<string, string> _identity = plan.Identity.ToDictionary();

    public void TaskTested(int task, IReadOnlyList<EvalResult> row, RunRecord record) => Write(record);

    public void RunFinished(RunRecord record) => Write(record);

    private void Write(RunRecord record)
    {
        if (_protectsComplete && !record.Complete) return;
        ResultFiles.WriteAccuracyMatrix(plan.Paths.Output, record.Accuracy);
        ResultFiles.WriteRecord(plan.Paths.Json, record with { Identity = _identity });
    }
}
