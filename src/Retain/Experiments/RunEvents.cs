using Retain.Networks;
using Retain.Training;

namespace Retain.Experiments;

/// <summary>
/// One destination of a run's events: the console, the result files, the run logs, checkpoints, TensorBoard. A run
/// publishes every event to all of its sinks (FACIL's <c>MultiLogger</c>, Avalanche's <c>EvaluationPlugin</c>); no
/// feature writes files from inside the training loop by itself.
/// </summary>
public interface IRunSink
{
    /// <summary>The run is resolved (approach, options, base-loop options for the backbone) and about to build its network.</summary>
    void RunPlanned(RunSetup setup) { }
    /// <summary>The data is loaded and the network built; <paramref name="resumedFrom"/> is set when a checkpoint was loaded.</summary>
    void RunStarted(RunRecord record, MultiHeadNetwork network, CheckpointPosition? resumedFrom) { }
    void TaskStarted(int task, string name, int maxEpochs) { }
    /// <summary>An approach reported a scalar of an epoch (DWA's loss terms and mask use, HAT's capacity, EWC's penalty).</summary>
    void ScalarReported(int task, int epoch, string name, double value) { }
    void EpochFinished(EpochRecord epoch) { }
    /// <summary>A training step ended (the loop's state is complete here: a checkpoint could be taken).</summary>
    void StepFinished() { }
    /// <summary>Task <paramref name="task"/> was trained and every task so far tested: row <paramref name="task"/> of the matrix.</summary>
    void TaskTested(int task, IReadOnlyList<EvalResult> row, RunRecord record) { }
    /// <summary>A checkpoint is due now: at a task boundary, every few epochs, or because the run was asked to stop.</summary>
    void CheckpointDue(CheckpointReason reason) { }
    void RunFinished(RunRecord record) { }
    /// <summary>A line worth showing (where an approach wrote extra files, a summary it computed).</summary>
    void Note(string line) { }
}

/// <summary>
/// A sink that needs the run itself, not only its events: checkpoints save its state, an approach's extra files are
/// written from its approach and tasks. The learner attaches itself when it starts (once built, and restored from a
/// checkpoint), before <see cref="IRunSink.RunStarted"/>.
/// </summary>
public interface IRunAttachedSink : IRunSink
{
    void Attach(Learner learner);
}

public enum CheckpointReason { TaskEnd, EpochEnd, Interrupted }

/// <summary>
/// Set from a signal handler when the run must stop: the training loop finishes its current step, a checkpoint is
/// written, and the run ends with <see cref="RunInterruptedException"/>.
/// </summary>
public sealed class Interruption
{
    private volatile string? _signal;

    /// <summary>The signal that asked the run to stop (SIGINT, SIGTERM), or null.</summary>
    public string? Signal => _signal;

    public void Request(string signal) => _signal ??= signal;
}

/// <summary>The run stopped on request after writing its checkpoint (if it has a checkpoint sink); the CLI exits with 128 + the signal's number.</summary>
public sealed class RunInterruptedException(string signal, string? checkpoint)
    : Exception(checkpoint is null ? $"interrupted by {signal} (the run had no checkpoint sink)" : $"interrupted by {signal}; checkpoint written to {checkpoint}")
{
    public string Signal { get; } = signal;
    public string? Checkpoint { get; } = checkpoint;
}

/// <summary>
/// The run's event bus: publishes each event to every sink, and is the point where an interruption takes effect
/// (after a step, an epoch or a task, once the sinks have seen the event and a checkpoint is written).
/// </summary>
public sealed class RunEvents(IReadOnlyList<IRunSink> sinks, Interruption interruption) : ITrainingEvents
{
    public void RunPlanned(RunSetup setup) => Each(s => s.RunPlanned(setup));
    public void RunStarted(RunRecord record, MultiHeadNetwork network, CheckpointPosition? resumedFrom) => Each(s => s.RunStarted(record, network, resumedFrom));
    public void TaskStarted(int task, string name, int maxEpochs) => Each(s => s.TaskStarted(task, name, maxEpochs));
    public void RunFinished(RunRecord record) => Each(s => s.RunFinished(record));
    public void Note(string line) => Each(s => s.Note(line));

    public void EpochFinished(EpochRecord epoch)
    {
        foreach (var (name, value) in epoch.Scalars) Each(s => s.ScalarReported(epoch.Task, epoch.Epoch, name, value));
        Each(s => s.EpochFinished(epoch));
        Each(s => s.CheckpointDue(CheckpointReason.EpochEnd));
        StopIfInterrupted();
    }

    public void StepFinished()
    {
        Each(s => s.StepFinished());
        StopIfInterrupted();
    }

    public void TaskTested(int task, IReadOnlyList<EvalResult> row, RunRecord record)
    {
        // The checkpoint first: result files never describe a task that no checkpoint covers.
        Each(s => s.CheckpointDue(CheckpointReason.TaskEnd));
        Each(s => s.TaskTested(task, row, record));
        StopIfInterrupted();
    }

    private void StopIfInterrupted()
    {
        if (interruption.Signal is not { } signal) return;
        Each(s => s.CheckpointDue(CheckpointReason.Interrupted));
        throw new RunInterruptedException(signal, sinks.OfType<CheckpointSink>().FirstOrDefault()?.Path);
    }

    private void Each(Action<IRunSink> publish)
    {
        foreach (var sink in sinks) publish(sink);
    }
}
