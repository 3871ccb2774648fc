namespace Retain.Training;

/// <summary>Mean loss and accuracy of a model on a set of samples.</summary>
public readonly record struct EvalResult(double Loss, double Accuracy);

/// <summary>
/// Task-agnostic evaluation of one split: how often the predicted task's head gave the right class of the right task,
/// how often the task was right, and how often the predicted task's head gave the right class whatever the task
/// (<paramref name="ClassAccuracy"/>: the domain-incremental accuracy, where every task has the same classes).
/// </summary>
public readonly record struct AgnosticResult(double Accuracy, double TaskAccuracy, double ClassAccuracy)
{
    /// <summary>The accuracy without the task id in <paramref name="scenario"/>: in domain-IL a class is right whichever task's head named it.</summary>
    public double In(Scenario scenario) => scenario == Scenario.Domain ? ClassAccuracy : Accuracy;
}

/// <summary>
/// What one epoch of training a task produced (losses and accuracies are per-sample means), with the scalars the
/// approach reported for the epoch (DWA's loss terms and mask use, HAT's capacity in use, EWC's penalty), by name.
/// </summary>
public sealed record EpochRecord(
    int Task, int Epoch, double TrainLoss, double TrainAccuracy, double ValidLoss, double ValidAccuracy,
    double LearningRate, bool Improved, double Seconds)
{
    public IReadOnlyDictionary<string, double> Scalars { get; init; } = new Dictionary<string, double>();
}

/// <summary>
/// What the training loop tells the run while it trains a task. The run decides what follows: its sinks record the
/// epoch, and after any step it may write a checkpoint and stop (<see cref="StepFinished"/> is the one place where a
/// run can be interrupted mid-epoch, so everything the loop needs to continue must be in its state by then).
/// </summary>
public interface ITrainingEvents
{
    void EpochFinished(EpochRecord epoch) { }
    void StepFinished() { }
    /// <summary>A line worth showing (e.g. where an approach wrote extra files, or a summary it computed).</summary>
    void Note(string line) { }
}

/// <summary>Training events nobody listens to (tests, and approaches trained outside a run).</summary>
public sealed class IgnoredEvents : ITrainingEvents
{
    public static readonly IgnoredEvents Instance = new();
}

/// <summary>
/// A training loss that is not a finite number: the run stops (exit code 3) rather than report a result computed
/// from it. The results written so far and the last checkpoint are kept.
/// </summary>
public sealed class NonFiniteLossException(int task, int epoch, double loss, double learningRate)
    : Exception(string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"the training loss became {loss} in task {task}, epoch {epoch + 1} (learning rate {learningRate:G3}); the run stopped, results so far and the last checkpoint are kept (try a lower --lr or --clipgrad)"))
{
    public int Task { get; } = task;
    public int Epoch { get; } = epoch;
}
