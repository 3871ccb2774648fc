using Retain.Approaches;
using Retain.Data;
using Retain.Evaluation;
using Retain.Networks;
using Retain.Training;
using TorchSharp;

namespace Retain.Experiments;

/// <summary>Everything a run produced; also the content of its JSON result file.</summary>
public sealed record RunRecord
{
    public required string Experiment { get; init; }
    public required string Approach { get; init; }
    public required int Seed { get; init; }
    public required string Device { get; init; }
    public required string DataSource { get; init; }
    public required string[] TaskNames { get; init; }
    public required int[] ClassCounts { get; init; }
    /// <summary>The inputs' <c>[C, H, W]</c>.</summary>
    public required int[] InputSize { get; init; }
    public required TrainingOptions Training { get; init; }
    public required string Network { get; init; }
    public string? WeightInit { get; init; }
    /// <summary>The --limit of a trial run (samples kept per split), null for a run on the full data.</summary>
    public int? Limit { get; init; }
    /// <summary>The --test-mode of a run that trains only the first tasks, null for all of them.</summary>
    public int? TestMode { get; init; }
    /// <summary>
    /// What the network was told at test time and what it answered (task-, domain- or class-incremental); the
    /// matrices are its results there. Records written before scenarios existed are task-IL.
    /// </summary>
    public Scenario Scenario { get; init; } = Scenario.Task;
    /// <summary>The approach's own options (all of them, defaults included), as text.</summary>
    public required Dictionary<string, string> Parameters { get; init; }
    public required long ParameterCount { get; init; }
    /// <summary><c>Accuracy[t][u]</c>: test accuracy on task u after training task t (0 for u &gt; t).</summary>
    public required double[][] Accuracy { get; init; }
    /// <summary>
    /// <c>Loss[t][u]</c>: the training objective on task u's test set after training task t (an approach that predicts
    /// the task in the domain and class scenarios reports it with the task given).
    /// </summary>
    public required double[][] Loss { get; init; }
    /// <summary>
    /// <c>ValidAccuracy[t][u]</c>: validation accuracy on task u after training task t, the matrix that model selection
    /// (a study's choice of grid point) reads instead of the test one.
    /// </summary>
    public double[][]? ValidAccuracy { get; init; }
    /// <summary>
    /// Task-agnostic evaluation (null with <c>--eval aware</c>, and outside the task scenario for an approach on the
    /// scenario's shared head, which has no task to predict): per task predictor, the accuracy matrix when each test
    /// sample's task is predicted and that task's head gives the class (counted as the scenario counts it), and the
    /// matrix of how often the task was right.
    /// </summary>
    public Dictionary<string, AgnosticMatrices>? Agnostic { get; init; }
    /// <summary>The predictor whose agnostic matrix is the approach's result (DWA: its anchors; others: the most confident head).</summary>
    public string? AgnosticPredictor { get; init; }
    /// <summary>Test accuracy on task u just before training it (forward transfer needs it).</summary>
    public required double[] AccuracyBeforeTraining { get; init; }
    public required List<EpochRecord> History { get; init; }
    /// <summary>A replay approach's memory after the last completed task (capacity, samples held, bytes, samples per task); null for the others.</summary>
    public ReplayMemory? Memory { get; set; }
    public int TasksCompleted { get; set; }
    public double Seconds { get; set; }
    /// <summary>
    /// The <c>retain run</c> options the results depend on (<see cref="RunPlan.Identity"/>), written by the run's result
    /// files so that a later <c>--resume</c> with other options is refused rather than taken as complete; null for a
    /// run not planned by <see cref="RunPlan"/>.
    /// </summary>
    public IReadOnlyDictionary<string, string>? Identity { get; init; }

    /// <summary>Every task the run was asked to train is trained and tested.</summary>
    public bool Complete => TasksCompleted >= (TestMode ?? TaskNames.Length);
}

/// <summary>Task-agnostic results of one predictor: <c>Accuracy[t][u]</c> and <c>TaskAccuracy[t][u]</c> as the test matrix.</summary>
public sealed record AgnosticMatrices(double[][] Accuracy, double[][] TaskAccuracy);

/// <summary>
/// The seed's experiment protocol: seed the generators, build the network and the approach, then for each task train
/// it and test on every task so far. Every step is published to the sinks the caller passes (result files,
/// checkpoints, logs, TensorBoard, the console: the command line passes them all, see <see cref="RunPlan.FileSinks"/>);
/// the runner itself writes nothing.
/// </summary>
public static class ExperimentRunner
{
    /// <summary>
    /// A run as <c>retain run</c> does it (tests and scripts): resolves <paramref name="config"/> and runs it with its
    /// result files, checkpoints, logs and TensorBoard (<see cref="RunPlan.FileSinks"/>) and <paramref name="sinks"/>.
    /// </summary>
    public static RunRecord Run(RunConfig config, params IRunSink[] sinks)
    {
        var plan = RunPlan.Resolve(config);
        return Run(plan, [.. plan.FileSinks(), .. sinks]);
    }

    /// <summary>
    /// Runs a planned run with exactly <paramref name="sinks"/>: loads its tasks, continues from its checkpoint when
    /// it resumes, or returns its record when it is already complete.
    /// </summary>
    public static RunRecord Run(RunPlan plan, IReadOnlyList<IRunSink> sinks, Interruption? interruption = null)
    {
        if (plan.Start == RunStart.AlreadyComplete) return RunOutputs.Complete(plan.Paths).Record;
        return HeldTemporaries.Run(() =>
        {
            using var benchmark = plan.Data.Load(plan.Setup.Seed);
            using var checkpoint = plan.Checkpoint is { } values ? CheckpointFile.ReadTensors(plan.Paths.Checkpoint, values) : null;
            return Run(benchmark, plan.Setup, plan.Names, sinks, checkpoint, interruption);
        });
    }

    /// <summary>
    /// Runs <paramref name="setup"/> on <paramref name="benchmark"/>'s tasks, publishing every event to
    /// <paramref name="sinks"/>; <paramref name="resume"/> is a checkpoint of the same run to continue from. The run is a
    /// <see cref="Learner"/> that learns each task in turn and tests every task so far after it.
    /// </summary>
    public static RunRecord Run(Benchmark benchmark, RunSetup setup, RunNames names, IReadOnlyList<IRunSink> sinks,
        StateDict? resume = null, Interruption? interruption = null)
    {
        var tasksToRun = setup.TasksToRun(benchmark.Tasks.Count);
        using var learner = Learner.Create(setup, benchmark, names, sinks, interruption ?? new Interruption());
        if (resume is not null) learner.Restore(resume);
        for (var t = learner.TasksTrained; t < tasksToRun; t++)
        {
            learner.Train(benchmark.Tasks[t]);
            learner.Evaluate(benchmark.Tasks.Take(t + 1));
        }
        return learner.Finish();
    }
}
