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
    /// <summary>The network is built and the run's base-loop options are resolved (the approach's defaults for this backbone, then the options given).</summary>
    void NetworkBuilt(Networks.MultiHeadNetwork network, TrainingOptions training) { }
    void TaskStarted(int task, string name, int maxEpochs) { }
    void EpochFinished(EpochRecord epoch) { }
    void TaskFinished(int task, IReadOnlyList<EvalResult> testSoFar) { }
    /// <summary>A line worth showing (e.g. where an approach wrote extra files, or a summary it computed).</summary>
    void Note(string line) { }
}

/// <summary>An approach that writes extra files once the run's tasks are done (DWA's masks and embeddings).</summary>
public interface IRunArtifacts
{
    /// <summary>
    /// Writes the files into <paramref name="folder"/> (the log path, else the accuracy file's folder), named after
    /// the run (<paramref name="runName"/>: the accuracy file's name without extension), after
    /// <paramref name="tasksCompleted"/> tasks; returns lines for the user (what was written, summaries).
    /// </summary>
    IReadOnlyList<string> WriteArtifacts(Data.Benchmark benchmark, int tasksCompleted, string folder, string runName);
}

public sealed class SilentObserver : IRunObserver
{
    public static readonly SilentObserver Instance = new();
}
