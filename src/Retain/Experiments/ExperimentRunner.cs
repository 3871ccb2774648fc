using System.Diagnostics;
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
/// A run in progress: its record so far, which task comes next, the run's generators and the approach. Everything in
/// it goes into a checkpoint (<see cref="Save"/>), so a run continues bit for bit from where it stopped.
/// </summary>
public sealed class ExperimentRun(RunPlan plan, RunRecord record, Approach approach, NumpyRandomState batchOrder) : IStateful
{
    public const string IdentityKey = "run/identity";

    public RunRecord Record { get; private set; } = record;
    /// <summary>The next task to train (the tasks before it are trained and tested).</summary>
    public int NextTask { get; set; }
    /// <summary>Task <see cref="NextTask"/> has begun: its accuracy before training is measured.</summary>
    public bool TaskStarted { get; set; }

    public CheckpointPosition Position => approach.Current is { } training
        ? new CheckpointPosition(NextTask, training.Task, training.Epoch, training.Order is null ? null : training.NextBatch)
        : new CheckpointPosition(NextTask, null, null, null);

    public void Save(StateDict state)
    {
        state.SetValue(IdentityKey, plan.Identity.ToDictionary(kv => kv.Key, kv => kv.Value))
            .SetValue("run/position", Position)
            .SetValue("run/record", Record).SetValue("run/next_task", NextTask).SetValue("run/task_started", TaskStarted);
        var (mt, index) = batchOrder.Snapshot();
        state.SetValue("rng/numpy_state", mt).SetValue("rng/numpy_index", index).Set("rng/torch", torch.random.get_rng_state());
        approach.Save(state.Scope("approach"));
    }

    public void Load(StateDict state)
    {
        Record = state.Value<RunRecord>("run/record");
        NextTask = state.Value<int>("run/next_task");
        TaskStarted = state.Value<bool>("run/task_started");
        batchOrder.Restore((state.Value<uint[]>("rng/numpy_state"), state.Value<int>("rng/numpy_index")));
        torch.random.set_rng_state(state.Tensor("rng/torch"));
        approach.Load(state.Scope("approach"));
    }
}

/// <summary>
/// The seed's experiment protocol: seed the generators, load the experiment, build the network and the approach,
/// then for each task train it and test on every task so far. Every step is published to the run's sinks (result
/// files, logs, checkpoints, TensorBoard, and whatever the caller adds, such as the console).
/// </summary>
public static class ExperimentRunner
{
    /// <summary>Resolves <paramref name="config"/> and runs it (tests and library users; the CLI resolves first to print the plan).</summary>
    public static RunRecord Run(RunConfig config, params IRunSink[] sinks) => Run(RunPlan.Resolve(config), sinks);

    public static RunRecord Run(RunPlan plan, IReadOnlyList<IRunSink> sinks, Interruption? interruption = null)
    {
        if (plan.Start == RunStart.AlreadyComplete) return ResultFiles.ReadRecord<RunRecord>(plan.Paths.Json);
        var config = plan.Config;
        var info = plan.Approach;
        var device = ParseDevice(config.Device);
        var clock = Stopwatch.StartNew();

        torch.manual_seed(config.Seed);
        using var benchmark = Benchmark.Limited(ExperimentCatalog.Load(config.Experiment, config.DataDir, config.Seed, config.Datasets), config.Limit);
        var taskCount = benchmark.Tasks.Count;
        if (config.TestMode is { } n && n > taskCount)
            throw new RetainException($"--test-mode must be between 1 and {taskCount} for {config.Experiment} (got {n})");
        var tasksToRun = config.TestMode ?? taskCount;

        var request = new Approaches.NetworkRequest(plan.Backbone, benchmark.InputSize, benchmark.ClassCounts, plan.Options);
        var network = info.CreateNetwork(request);
        config.WeightInit?.Apply(network);
        network.to(device);
        // Frozen copies (lwf, lfl) take the model's parameters at once, so they need no weight initialisation.
        MultiHeadNetwork CreateNetwork() => info.CreateNetwork(request).to(device);
        var batchOrder = new NumpyRandomState((uint)config.Seed);
        using var approach = info.Create(new ApproachContext(network, plan.Training, device, batchOrder)
        {
            CreateNetwork = CreateNetwork, Tasks = benchmark.Tasks,
        }, plan.Options);

        var run = new ExperimentRun(plan, new RunRecord
        {
            Experiment = config.Experiment, Approach = config.Approach, Seed = config.Seed, Device = config.Device,
            DataSource = benchmark.Source, TaskNames = benchmark.Tasks.Select(t => t.Name).ToArray(),
            ClassCounts = benchmark.ClassCounts.ToArray(), InputSize = benchmark.InputSize, Training = plan.Training, Network = plan.Backbone.Name,
            WeightInit = config.WeightInit?.ToString(), Limit = config.Limit, TestMode = config.TestMode,
            Parameters = plan.OptionValues.ToDictionary(o => o.Name, o => o.Value), ParameterCount = network.ParameterCount,
            Accuracy = Square(taskCount), Loss = Square(taskCount), ValidAccuracy = Square(taskCount), AccuracyBeforeTraining = new double[taskCount], History = [],
            Agnostic = config.Evaluation == EvaluationSetting.Both ? [] : null,
            AgnosticPredictor = config.Evaluation == EvaluationSetting.Both ? approach.DefaultTaskPredictor : null,
        }, approach, batchOrder);

        CheckpointPosition? resumedFrom = null;
        if (plan.Start == RunStart.Resume)
        {
            using var state = CheckpointFile.Read(plan.Paths.Checkpoint);
            run.Load(state);
            if (run.Record.DataSource != benchmark.Source)
                throw new RetainException($"--resume: the data now comes from {benchmark.Source}, the checkpoint's run read {run.Record.DataSource}");
            resumedFrom = state.Value<CheckpointPosition>("run/position");
        }

        var standard = new List<IRunSink> { new CheckpointSink(plan.Paths.Checkpoint, run, config.CheckpointEvery), new ResultFilesSink(plan) };
        standard.Add(new KeptModelSink(KeptModel.PathFor(plan.Paths.Output), approach, config.SaveModel));
        if (plan.Paths.LogPath is { } logPath) standard.Add(new RunLogsSink(logPath, plan.Paths.Name, approach.Model));
        if (plan.Paths.TensorBoard is { } board) standard.Add(new TensorBoardSink(board));
        var events = new RunEvents([.. standard, .. sinks], interruption ?? new Interruption(), plan.Paths.Checkpoint);
        events.RunPlanned(plan);
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
        if (approach is IRunArtifacts artifacts)
        {
            var folder = plan.Paths.LogPath ?? Path.GetDirectoryName(Path.GetFullPath(plan.Paths.Output))!;
            foreach (var line in artifacts.WriteArtifacts(benchmark, run.Record.TasksCompleted, folder, plan.Paths.Name))
                events.Note(line);
        }
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

    public static torch.Device ParseDevice(string name)
    {
        if (name != "cpu" && !name.StartsWith("cuda", StringComparison.Ordinal))
            throw new RetainException($"--device: expected cpu or cuda[:N] (got '{name}')");
        if (name.StartsWith("cuda", StringComparison.Ordinal) && !torch.cuda.is_available())
            throw new RetainException($"--device {name}: CUDA is not available (this build uses TorchSharp-cpu; reference TorchSharp-cuda-linux for a GPU)");
        return torch.device(name);
    }

    private static double[][] Square(int n) => Enumerable.Range(0, n).Select(_ => new double[n]).ToArray();
}
