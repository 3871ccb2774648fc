using Retain.Evaluation;
using Retain.Training;

namespace Retain.Experiments;

/// <summary>
/// The seed's per-run log (<c>&lt;log_path&gt;/&lt;output name&gt;_logs</c>), as JSON: per task, per-epoch learning rate
/// and train/valid loss and accuracy, and the test loss and accuracy of every time the task was tested. Values are
/// per-sample means (the seed logged sums).
/// </summary>
internal sealed record RunLogs
{
    public required string[] TaskName { get; init; }
    public required double[][] LearningRate { get; init; }
    public required double[][] TrainLoss { get; init; }
    public required double[][] TrainAcc { get; init; }
    public required double[][] ValidLoss { get; init; }
    public required double[][] ValidAcc { get; init; }
    /// <summary><c>TestAcc[u]</c>: accuracy on task u after training task u, u+1, ... (one entry per test so far).</summary>
    public required double[][] TestAcc { get; init; }
    public required double[][] TestLoss { get; init; }

    public static RunLogs From(RunRecord record)
    {
        var tasks = record.TaskNames.Length;
        double[][] PerTask(Func<Training.EpochRecord, double> value) =>
            Enumerable.Range(0, tasks).Select(t => record.History.Where(e => e.Task == t).Select(value).ToArray()).ToArray();
        double[][] Tested(double[][] matrix) =>
            Enumerable.Range(0, tasks).Select(u => Enumerable.Range(u, Math.Max(0, record.TasksCompleted - u)).Select(t => matrix[t][u]).ToArray()).ToArray();
        return new RunLogs
        {
            TaskName = record.TaskNames, LearningRate = PerTask(e => e.LearningRate),
            TrainLoss = PerTask(e => e.TrainLoss), TrainAcc = PerTask(e => e.TrainAccuracy),
            ValidLoss = PerTask(e => e.ValidLoss), ValidAcc = PerTask(e => e.ValidAccuracy),
            TestAcc = Tested(record.Accuracy), TestLoss = Tested(record.Loss),
        };
    }
}

/// <summary>
/// With <c>--log-path</c>: rewrites the run's logs after every task (the trained model is kept by <c>--save-model</c>,
/// <see cref="KeptModel"/>).
/// </summary>
public sealed class RunLogsSink(string folder, string runName) : IRunSink
{
    public static string PathFor(string logPath, string runName) => Path.Combine(logPath, runName + "_logs.json");

    public void TaskTested(int task, IReadOnlyList<Training.EvalResult> row, RunRecord record) =>
        ResultFiles.WriteRecord(PathFor(folder, runName), RunLogs.From(record));
}
