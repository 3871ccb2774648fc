using System.Globalization;
using Retain.Cli;
using Retain.Evaluation;
using Retain.Experiments;
using Retain.Training;
using Spectre.Console;

namespace Retain.Tests;

/// <summary>Small result files written by hand for the report tests, and the report command run in-process.</summary>
public static class ReportFixtures
{
    // Three tasks, two sgd seeds, one ewc seed, and references for seeds 0 and 1. The random reference's diagonal is
    // 0.5 and the joint one is 1 everywhere, so ρ[t,u] = (A[t,u] − 0.5)/(1 − 0.5) − 1 = 2 A[t,u] − 2 and
    // ρ≤t = 2 mean_u A[t,u] − 2.
    public static readonly double[][] Sgd0 = [[0.90, 0, 0], [0.70, 0.80, 0], [0.60, 0.70, 0.90]];
    public static readonly double[][] Sgd1 = [[0.80, 0, 0], [0.60, 0.90, 0], [0.50, 0.80, 0.70]];
    public static readonly double[][] Ewc0 = [[0.90, 0, 0], [0.85, 0.80, 0], [0.80, 0.75, 0.90]];
    public static readonly double[][] RandomRun = [[0.50, 0, 0], [0.40, 0.50, 0], [0.45, 0.55, 0.50]];
    public static readonly double[][] JointRun = [[1, 0, 0], [1, 1, 0], [1, 1, 1]];

    /// <summary>
    /// The three-task results in <paramref name="folder"/>: sgd seeds 0 and 1, ewc seed 0, references of seeds 0 and 1.
    /// sgd seed 0 and ewc seed 0 have JSON records (ewc's history reports a scalar); sgd seed 1 has none.
    /// </summary>
    public static void WriteThreeTasks(string folder)
    {
        Matrix(folder, "exp3_sgd_0", Sgd0);
        Matrix(folder, "exp3_sgd_1", Sgd1);
        Matrix(folder, "exp3_ewc_0", Ewc0);
        foreach (var seed in new[] { 0, 1 })
        {
            Matrix(folder, $"exp3_random_{seed}", RandomRun);
            Matrix(folder, $"exp3_joint_{seed}", JointRun);
        }
        Record(folder, "exp3_sgd_0", Sgd0, beforeTraining: [0.1, 0.6, 0.45], valid: [[0.88, 0, 0], [0.7, 0.8, 0], [0.6, 0.7, 0.8]], History(scalar: null));
        Record(folder, "exp3_ewc_0", Ewc0, beforeTraining: [0.1, 0.5, 0.5], valid: Ewc0, History(scalar: "ewc/penalty"));
    }

    /// <summary>
    /// Two epochs per task; the kept model (last improved epoch) is epoch 2 of task 0, epoch 1 of task 1 and epoch 2
    /// of task 2: epochs 2, 3 and 6 counted over all tasks. Loss 2 − 0.1 i and learning rate 0.05 / (1 + i % 2) at
    /// epoch i (from 0); the scalar, when given, is 10 i.
    /// </summary>
    public static List<EpochRecord> History(string? scalar) => Enumerable.Range(0, 6).Select(i =>
        new EpochRecord(i / 2, i % 2, 2 - 0.1 * i, 0.5 + 0.05 * i, 2.1 - 0.1 * i, 0.45 + 0.05 * i, 0.05 / (1 + i % 2), Improved: i != 3, Seconds: 1)
        {
            Scalars = scalar is null ? new Dictionary<string, double>() : new Dictionary<string, double> { [scalar] = 10 * i },
        }).ToList();

    public static void Matrix(string folder, string name, double[][] matrix) =>
        ResultFiles.WriteAccuracyMatrix(Path.Combine(folder, name + ".txt"), matrix);

    /// <summary>The JSON record retain run writes, with what a report reads; name is experiment_approach_seed[_label].</summary>
    public static void Record(string folder, string name, double[][] accuracy, double[] beforeTraining, double[][] valid,
        List<EpochRecord> history, int? testMode = null, string[]? tasks = null, int? limit = null)
    {
        var parts = name.Split('_');
        var completed = Array.FindLastIndex(accuracy, row => row.Any(v => v != 0)) + 1;
        ResultFiles.WriteRecord(Path.Combine(folder, name + ".json"), new RunRecord
        {
            Experiment = parts[0], Approach = parts[1], Seed = int.Parse(parts[2], CultureInfo.InvariantCulture), Device = "cpu", DataSource = "dat/test",
            TaskNames = tasks ?? ["a", "b", "c"], ClassCounts = [.. (tasks ?? ["a", "b", "c"]).Select(_ => 2)], InputSize = [1, 2, 2], Training = new TrainingOptions(), Network = "mlp",
            Parameters = [], ParameterCount = 10, Accuracy = accuracy, Loss = accuracy, ValidAccuracy = valid, AccuracyBeforeTraining = beforeTraining,
            History = history, TasksCompleted = completed, TestMode = testMode, Limit = limit,
        });
    }

    /// <summary>Runs <c>retain</c> in-process as the executable does: exit code, and everything printed on both streams.</summary>
    public static (int ExitCode, string Printed) RetainCli(params string[] args)
    {
        var result = CliRunner.Run(args);
        return (result.Code, result.Printed);
    }
}
