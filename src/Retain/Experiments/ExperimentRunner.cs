using System.Diagnostics;
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
    /// <summary>The approach's own options (all of them, defaults included), as text.</summary>
    public required Dictionary<string, string> Parameters { get; init; }
    public required long ParameterCount { get; init; }
    /// <summary><c>Accuracy[t][u]</c>: test accuracy on task u after training task t (0 for u &gt; t).</summary>
    public required double[][] Accuracy { get; init; }
    public required double[][] Loss { get; init; }
    /// <summary>
    /// <c>ValidAccuracy[t][u]</c>: validation accuracy on task u after training task t, the matrix that model selection
    /// (a study's choice of grid point) reads instead of the test one.
    /// </summary>
    public double[][]? ValidAccuracy { get; init; }
    /// <summary>
    /// Task-agnostic evaluation (null with <c>--eval aware</c>): per task predictor, the accuracy matrix when each test
    /// sample's task is predicted and that task's head gives the class, and the matrix of how often the task was right.
    /// </summary>
    public Dictionary<string, AgnosticMatrices>? Agnostic { get; init; }
    /// <summary>The predictor whose agnostic matrix is the approach's result (DWA: its anchors; others: the most confident head).</summary>
    public string? AgnosticPredictor { get; init; }
    /// <summary>Test accuracy on task u just before training it (forward transfer needs it).</summary>
    public required double[] AccuracyBeforeTraining { get; init; }
    public required List<EpochRecord> History { get; init; }
    public int TasksCompleted { get; set; }
    public double Seconds { get; set; }

    /// <summary>Every task the run was asked to train is trained and tested.</summary>
    public bool Complete => TasksCompleted >= (TestMode ?? TaskNames.Length);
}

/// <summary>Task-agnostic results of one predictor: <c>Accuracy[t][u]</c> and <c>TaskAccuracy[t][u]</c> as the test matrix.</summary>
public sealed record AgnosticMatrices(double[][] Accuracy, double[][] TaskAccuracy);

/// <summary>
/// A run in progress: its record so far, which task comes next, the run's generators, the approach and the tasks.
/// Everything in it goes into a checkpoint (<see cref="Save"/>), so a run continues bit for bit from where it stopped.
/// </summary>
public sealed class ExperimentRun(RunRecord record, Approach approach, NumpyRandomState batchOrder, Benchmark benchmark, RunEvents events) : IStateful
{
    public RunRecord Record { get; private set; } = record;
    public Approach Approach => approach;
    public Benchmark Benchmark => benchmark;
    /// <summary>The run's event bus (a sink that computes something at the end publishes its notes here).</summary>
    public RunEvents Events => events;
    /// <summary>The next task to train (the tasks before it are trained and tested).</summary>
    public int NextTask { get; set; }
    /// <summary>Task <see cref="NextTask"/> has begun: its accuracy before training is measured.</summary>
    public bool TaskStarted { get; set; }

    public CheckpointPosition Position => approach.Current is { } training
        ? new CheckpointPosition(NextTask, training.Task, training.Epoch, training.Order is null ? null : training.NextBatch)
        : new CheckpointPosition(NextTask, null, null, null);

    public void Save(StateDict state)
    {
        state.SetValue("run/position", Position)
            .SetValue("run/record", Record).SetValue("run/next_task", NextTask).SetValue("run/task_started", TaskStarted);
        var (mt, index) = batchOrder.Snapshot();
        state.SetValue("rng/numpy_state", mt).SetValue("rng/numpy_index", index).Set("rng/torch", TorchRandom.GetState());
        approach.Save(state.Scope("approach"));
    }

    public void Load(StateDict state)
    {
        Record = state.Value<RunRecord>("run/record");
        RunRecordFile.Check(Record, "the checkpoint's run/record");
        NextTask = state.Value<int>("run/next_task");
        TaskStarted = state.Value<bool>("run/task_started");
        batchOrder.Restore((state.Value<uint[]>("rng/numpy_state"), state.Value<int>("rng/numpy_index")));
        TorchRandom.SetState(state.Tensor("rng/torch"));
        approach.Load(state.Scope("approach"));
    }
}

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
        using var benchmark = plan.Data.Load(plan.Setup.Seed);
        using var checkpoint = plan.Checkpoint is { } values ? CheckpointFile.ReadTensors(plan.Paths.Checkpoint, values) : null;
        return Run(benchmark, plan.Setup, plan.Names, sinks, checkpoint, interruption);
    }

    /// <summary>
    /// Runs <paramref name="setup"/> on <paramref name="benchmark"/>'s tasks, publishing every event to
    /// <paramref name="sinks"/>; <paramref name="resume"/> is a checkpoint of the same run to continue from.
    /// </summary>
    public static RunRecord Run(Benchmark benchmark, RunSetup setup, RunNames names, IReadOnlyList<IRunSink> sinks,
        StateDict? resume = null, Interruption? interruption = null)
    {
        var clock = Stopwatch.StartNew();
        var events = new RunEvents(sinks, interruption ?? new Interruption());
        events.RunPlanned(setup);
        torch.manual_seed(setup.Seed);
        var taskCount = benchmark.Tasks.Count;
        var tasksToRun = setup.TasksToRun(taskCount);

        var shape = new NetworkShape(benchmark.InputSize, benchmark.ClassCounts);
        NetworkBudget.Require(setup.Approach, setup.Backbone, shape, names.Approach);
        var prepared = setup.Approach.Prepare(setup.Backbone, shape);
        var network = prepared.Network;
        setup.WeightInit?.Apply(network);
        network.to(setup.Device);
        // Frozen copies (lwf, lfl) take the model's parameters at once, so they need no weight initialisation.
        MultiHeadNetwork CreateNetwork() => setup.Approach.CreateNetwork(setup.Backbone, shape).to(setup.Device);
        var batchOrder = new NumpyRandomState((uint)setup.Seed);
        using var approach = prepared.Create(new ApproachContext(network, setup.Training, setup.Device, batchOrder)
        {
            CreateNetwork = CreateNetwork, Tasks = benchmark.Tasks,
        });

        var run = new ExperimentRun(new RunRecord
        {
            Experiment = names.Experiment, Approach = names.Approach, Seed = setup.Seed, Device = setup.Device.ToString(),
            DataSource = benchmark.Source, TaskNames = benchmark.Tasks.Select(t => t.Name).ToArray(),
            ClassCounts = benchmark.ClassCounts.ToArray(), InputSize = benchmark.InputSize, Training = setup.Training, Network = setup.Backbone.Name,
            WeightInit = setup.WeightInit?.ToString(), Limit = benchmark.Limit, TestMode = setup.TestMode,
            Parameters = setup.Approach.OptionValues.ToDictionary(o => o.Name, o => o.Value), ParameterCount = network.ParameterCount,
            Accuracy = Square(taskCount), Loss = Square(taskCount), ValidAccuracy = Square(taskCount), AccuracyBeforeTraining = new double[taskCount], History = [],
            Agnostic = setup.Evaluation == EvaluationSetting.Both ? [] : null,
            AgnosticPredictor = setup.Evaluation == EvaluationSetting.Both ? approach.DefaultTaskPredictor : null,
        }, approach, batchOrder, benchmark, events);

        CheckpointPosition? resumedFrom = null;
        if (resume is not null)
        {
            run.Load(resume);
            if (run.Record.DataSource != benchmark.Source)
                throw new RetainException($"--resume: the data now comes from {benchmark.Source}, the checkpoint's run read {run.Record.DataSource}");
            resumedFrom = resume.Value<CheckpointPosition>("run/position");
        }

        foreach (var sink in sinks.OfType<IRunAttachedSink>()) sink.Attach(run);
        events.RunStarted(run.Record, network, resumedFrom);

        var secondsBefore = run.Record.Seconds;
        for (var t = run.NextTask; t < tasksToRun; t++)
        {
            var task = benchmark.Tasks[t];
            events.TaskStarted(t, task.Name, approach.MaxEpochsPerTask);
            if (!run.TaskStarted)
            {
                run.Record.AccuracyBeforeTraining[t] = approach.Evaluate(t, task.Test).Accuracy;
                run.TaskStarted = true;
            }
            approach.Train(t, task, new HistoryRecorder(run.Record, events));
            var row = new List<EvalResult>();
            for (var u = 0; u <= t; u++)
            {
                var test = approach.Evaluate(u, benchmark.Tasks[u].Test);
                run.Record.Accuracy[t][u] = test.Accuracy;
                run.Record.Loss[t][u] = test.Loss;
                row.Add(test);
            }
            for (var u = 0; u <= t; u++) run.Record.ValidAccuracy![t][u] = approach.Evaluate(u, benchmark.Tasks[u].Valid).Accuracy;
            if (run.Record.Agnostic is { } agnostic)
                for (var u = 0; u <= t; u++)
                    foreach (var (predictor, result) in approach.EvaluateWithoutTask(u, benchmark.Tasks[u].Test, t + 1))
                    {
                        var matrices = agnostic.TryGetValue(predictor, out var m) ? m : agnostic[predictor] = new AgnosticMatrices(Square(taskCount), Square(taskCount));
                        (matrices.Accuracy[t][u], matrices.TaskAccuracy[t][u]) = (result.Accuracy, result.TaskAccuracy);
                    }
            (run.NextTask, run.TaskStarted) = (t + 1, false);
            run.Record.TasksCompleted = t + 1;
            run.Record.Seconds = secondsBefore + clock.Elapsed.TotalSeconds;
            events.TaskTested(t, row, run.Record);
        }
        run.Record.Seconds = secondsBefore + clock.Elapsed.TotalSeconds;
        events.RunFinished(run.Record);
        return run.Record;
    }

    /// <summary>Adds each finished epoch to the run's record before the sinks see it (so a checkpoint holds it).</summary>
    private sealed class HistoryRecorder(RunRecord record, RunEvents events) : ITrainingEvents
    {
        public void EpochFinished(EpochRecord epoch)
        {
            record.History.Add(epoch);
            events.EpochFinished(epoch);
        }

        public void StepFinished() => events.StepFinished();
        public void Note(string line) => events.Note(line);
    }

    private static double[][] Square(int n) => Enumerable.Range(0, n).Select(_ => new double[n]).ToArray();
}
