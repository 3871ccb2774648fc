namespace Retain.Training;

/// <summary>Mean loss and accuracy of a model on a set of samples.</summary>
public readonly record struct EvalResult(double Loss, double Accuracy);

/// <summary>What one epoch of training a task produced (losses and accuracies are per-sample means).</summary>
public sealed record EpochRecord(
    int Task, int Epoch, double TrainLoss, double TrainAccuracy, double ValidLoss, double ValidAccuracy,
    double LearningRate, bool Improved, double Seconds);

/// <summary>Receives progress while an experiment runs (the CLI draws it; tests may record it).</summary>
public interface IRunObserver
{
    void NetworkBuilt(Networks.MultiHeadNetwork network) { }
    void TaskStarted(int task, string name, int maxEpochs) { }
    void EpochFinished(EpochRecord epoch) { }
    void TaskFinished(int task, IReadOnlyList<EvalResult> testSoFar) { }
}

public sealed class SilentObserver : IRunObserver
{
    public static readonly SilentObserver Instance = new();
}
