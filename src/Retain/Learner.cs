using System.Diagnostics;
using Retain.Approaches;
using Retain.Data;
using Retain.Evaluation;
using Retain.Experiments;
using Retain.Interop;
using Retain.Networks;
using Retain.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Retain;

/// <summary>
/// An approach learning a benchmark's tasks one call at a time, in their order: Avalanche's
/// <c>strategy.train(experience)</c> and <c>strategy.eval(stream)</c>. <see cref="Train"/> learns the next task,
/// <see cref="Evaluate"/> tests on any tasks and fills the accuracy matrix, <see cref="State"/> and
/// <see cref="Restore"/> save and continue it bit for bit, <see cref="Export"/> writes the model for PyTorch. Every
/// event goes to the sinks it was created with. <c>retain run</c> is this loop (<see cref="ExperimentRunner"/>).
/// <code>
/// using var learner = Learner.Create(new EwcSpec().With(new EwcOptions { Lambda = 5000 }), backbone, benchmark, t =&gt; t with { Epochs = 5 });
/// foreach (var task in benchmark.Tasks) { learner.Train(task); Console.WriteLine(learner.Evaluate(benchmark.Tasks).Matrix); }
/// </code>
/// </summary>
public sealed class Learner : IDisposable
{
    private readonly NumpyRandomState _batchOrder;
    private readonly RunEvents _events;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private double _secondsBefore;
    private bool _started;
    /// <summary>Rows of the accuracy matrix whose completion the sinks were told of (<see cref="IRunSink.TaskTested"/>).</summary>
    private int _rowsPublished;
    private CheckpointPosition? _resumedFrom;
    /// <summary>The tasks and heads of the set-up's scenario, and how it tests.</summary>
    private readonly ScenarioRun _scenario;
    /// <summary>Each task predictor's results are recorded (<see cref="ScenarioRun.RecordsPredictors"/>).</summary>
    private readonly bool _predictors;

    private Learner(RunSetup setup, Benchmark benchmark, RunNames names, IReadOnlyList<IRunSink> sinks, Interruption interruption)
    {
        (Setup, Benchmark, Sinks) = (setup, benchmark, sinks);
        _events = new RunEvents(sinks, interruption);
        _events.RunPlanned(setup);
        torch.manual_seed(setup.Seed);

        _scenario = new ScenarioRun(setup.Scenario, setup.Approach.Spec, benchmark);
        var shape = new NetworkShape(benchmark.InputSize, benchmark.ClassCounts) { Heads = _scenario.Heads };
        // A module of the user's own is built as the user wrote it (counting it on the meta device could run code that needs real tensors).
        if (setup.Backbone.DeclaresLayers) NetworkBudget.Require(setup.Approach, setup.Backbone, shape, names.Approach);
        var prepared = setup.Approach.Prepare(setup.Backbone, shape);
        var network = prepared.Network;
        try
        {
            setup.WeightInit?.Apply(network);
            network.to(setup.Device);
            // Frozen copies (lwf, lfl) take the model's parameters at once, so they need no weight initialisation.
            MultiHeadNetwork CreateNetwork() => setup.Approach.CreateNetwork(setup.Backbone, shape).to(setup.Device);
            _batchOrder = new NumpyRandomState((uint)setup.Seed);
            Approach = prepared.Create(new ApproachContext(network, setup.Training, setup.Device, _batchOrder)
            {
                CreateNetwork = CreateNetwork, Tasks = _scenario.Tasks, Seed = setup.Seed,
            });
        }
        catch
        {
            network.Dispose();
            _scenario.Dispose();
            throw;
        }

        var taskCount = benchmark.Tasks.Count;
        _predictors = _scenario.RecordsPredictors(setup.Evaluation);
        Record = new RunRecord
        {
            Experiment = names.Experiment, Approach = names.Approach, Seed = setup.Seed, Device = setup.Device.ToString(),
            DataSource = benchmark.Source, TaskNames = benchmark.Tasks.Select(t => t.Name).ToArray(),
            ClassCounts = benchmark.ClassCounts.ToArray(), InputSize = benchmark.InputSize, Training = setup.Training, Network = setup.Backbone.Name,
            WeightInit = setup.WeightInit?.ToString(), Limit = benchmark.Limit, TestMode = setup.TestMode, Scenario = setup.Scenario,
            Parameters = setup.Approach.OptionValues.ToDictionary(o => o.Name, o => o.Value), ParameterCount = network.ParameterCount,
            Accuracy = Square(taskCount), Loss = Square(taskCount), ValidAccuracy = Square(taskCount), AccuracyBeforeTraining = new double[taskCount], History = [],
            Agnostic = _predictors ? [] : null,
            AgnosticPredictor = _predictors ? Approach.DefaultTaskPredictor : null,
        };
    }

    /// <summary>
    /// A learner of <paramref name="approach"/> (a spec with its options: <c>new EwcSpec().With(new EwcOptions { ... })</c>)
    /// on <paramref name="backbone"/> (a built-in one, a <see cref="LayeredBackbone"/> or a <see cref="ModuleBackbone"/>
    /// of your own) for <paramref name="benchmark"/>'s tasks. <paramref name="training"/> changes the approach's
    /// base-loop defaults on the backbone (<c>t =&gt; t with { Epochs = 5 }</c>); <paramref name="seed"/> seeds every random
    /// choice. Tests are task-aware (<see cref="EvaluationSetting.Aware"/>); for more, resolve a <see cref="RunSetup"/>.
    /// A setting out of range is a <see cref="SettingException"/> naming it, before any network is built.
    /// </summary>
    public static Learner Create(ApproachSetup approach, BackboneArchitecture backbone, Benchmark benchmark,
        Func<TrainingOptions, TrainingOptions>? training = null, int seed = 0, string device = "cpu", params IEnumerable<IRunSink> sinks) =>
        Create(RunSetup.Resolve(approach, backbone, training, seed, device, evaluation: EvaluationSetting.Aware), benchmark, sinks);

    /// <summary>A learner of <paramref name="approach"/> with its default options on <paramref name="backbone"/> (see the other overload).</summary>
    public static Learner Create(ApproachSpec approach, BackboneArchitecture backbone, Benchmark benchmark,
        Func<TrainingOptions, TrainingOptions>? training = null, int seed = 0, string device = "cpu", params IEnumerable<IRunSink> sinks) =>
        Create(approach.WithDefaults(backbone), backbone, benchmark, training, seed, device, sinks);

    /// <summary>A learner of a resolved set-up for <paramref name="benchmark"/>'s tasks, publishing to <paramref name="sinks"/>.</summary>
    public static Learner Create(RunSetup setup, Benchmark benchmark, params IEnumerable<IRunSink> sinks) =>
        Create(setup, benchmark, DefaultNames(setup, benchmark), [.. sinks], new Interruption());

    /// <summary>A learner whose record carries <paramref name="names"/> and that stops, checkpointed, when <paramref name="interruption"/> is requested.</summary>
    public static Learner Create(RunSetup setup, Benchmark benchmark, RunNames names, IReadOnlyList<IRunSink> sinks, Interruption interruption) =>
        new(setup, benchmark, names, sinks, interruption);

    /// <summary>The benchmark's name, and the approach's registered name (its spec's type name when it is not registered).</summary>
    private static RunNames DefaultNames(RunSetup setup, Benchmark benchmark)
    {
        var spec = setup.Approach.Spec.GetType();
        return new RunNames(benchmark.Name, ApproachRegistry.All.FirstOrDefault(e => e.Spec.GetType() == spec)?.Name ?? spec.Name);
    }

    public RunSetup Setup { get; }
    public Benchmark Benchmark { get; }
    /// <summary>The sinks every event goes to, in order.</summary>
    public IReadOnlyList<IRunSink> Sinks { get; }
    public Approach Approach { get; }
    /// <summary>The network the approach trains (its backbone and one head per task).</summary>
    public MultiHeadNetwork Network => Approach.Model;
    /// <summary>Everything learned and measured so far: what a run's JSON record holds.</summary>
    public RunRecord Record { get; private set; }
    /// <summary>The tasks trained: the first ones of the benchmark. The next call of <see cref="Train"/> takes task <c>TasksTrained</c>.</summary>
    public int TasksTrained { get; private set; }
    /// <summary>Task <see cref="TasksTrained"/> has begun (its accuracy before training is measured).</summary>
    private bool TaskStarted { get; set; }

    /// <summary>Where the learner stands: between tasks, or inside a task at an epoch and batch.</summary>
    public CheckpointPosition Position => Approach.Current is { } training
        ? new CheckpointPosition(TasksTrained, training.Task, training.Epoch, training.Order is null ? null : training.NextBatch)
        : new CheckpointPosition(TasksTrained, null, null, null);

    /// <summary>The accuracy matrix so far: row t was filled by <see cref="Evaluate"/> after training task t (null before any task is trained).</summary>
    public AccuracyMatrix? Matrix => TasksTrained == 0 ? null : new AccuracyMatrix(Record.Accuracy, Benchmark.Name, TasksTrained);

    /// <summary>
    /// Learns <paramref name="task"/>, the benchmark's next task (tasks are learned in their order), or continues
    /// learning it after <see cref="Restore"/> of a state taken while it trained; returns its history, an epoch a record.
    /// The task's test accuracy just before training it is recorded first (forward transfer needs it).
    /// </summary>
    public IReadOnlyList<EpochRecord> Train(TaskData task) => HeldTemporaries.Run(() => TrainHeld(task));

    private IReadOnlyList<EpochRecord> TrainHeld(TaskData task)
    {
        var t = IndexOf(task);
        if (t != TasksTrained)
            throw new ArgumentException(TasksTrained < Benchmark.Tasks.Count
                ? $"tasks are learned in their order: the next is task {TasksTrained} ({Benchmark.Tasks[TasksTrained].Name}), not task {t} ({task.Name})"
                : $"every task is learned already (task {t} is {task.Name})", nameof(task));
        Start();
        _events.TaskStarted(t, task.Name, Approach.MaxEpochsPerTask);
        if (!TaskStarted)
        {
            Record.AccuracyBeforeTraining[t] = _scenario.BeforeTraining(Approach, t);
            TaskStarted = true;
        }
        var history = Approach.Train(t, _scenario.Tasks[t], new HistoryRecorder(Record, _events));
        if (Approach is IReplayMemory replay) Record.Memory = replay.Memory(Benchmark.Tasks.Count);
        (TasksTrained, TaskStarted) = (t + 1, false);
        Record.TasksCompleted = t + 1;
        return history;
    }

    /// <summary>
    /// Tests on <paramref name="tasks"/> (the benchmark's, any of them) as the set-up's scenario tests: in task-IL each
    /// task's test split through its own head. Given every task trained so far, this is row <c>TasksTrained − 1</c> of
    /// the accuracy and loss matrices, with the validation accuracy beside it (and each task predictor's matrices where
    /// recorded), and the sinks are told (<see cref="IRunSink.TaskTested"/>: result files, a checkpoint).
    /// </summary>
    public EvaluationReport Evaluate(IEnumerable<TaskData> tasks) => HeldTemporaries.Run(() => EvaluateHeld(tasks));

    private EvaluationReport EvaluateHeld(IEnumerable<TaskData> tasks)
    {
        Start();
        var indices = tasks.Select(IndexOf).Distinct().Order().ToArray();
        var t = TasksTrained - 1;
        var results = new Dictionary<int, EvalResult>();
        if (t >= 0 && Enumerable.Range(0, t + 1).All(u => indices.Contains(u)))
        {
            var row = _scenario.Test(Approach, t, _predictors);
            for (var u = 0; u <= t; u++)
            {
                results[u] = row.Test[u];
                (Record.Accuracy[t][u], Record.Loss[t][u]) = (row.Test[u].Accuracy, row.Test[u].Loss);
                Record.ValidAccuracy![t][u] = row.Valid[u];
            }
            if (Record.Agnostic is { } agnostic)
                for (var u = 0; u <= t; u++)
                    foreach (var (predictor, result) in row.Predictors![u])
                    {
                        if (!agnostic.TryGetValue(predictor, out var matrices))
                        {
                            // A predictor the earlier rows lack (resumed from a version without it) is left out, not
                            // recorded with zeros for the tasks it never saw.
                            if (t > 0 && agnostic.Count > 0) continue;
                            matrices = agnostic[predictor] = new AgnosticMatrices(Square(Benchmark.Tasks.Count), Square(Benchmark.Tasks.Count));
                        }
                        (matrices.Accuracy[t][u], matrices.TaskAccuracy[t][u]) = (result.Accuracy, result.TaskAccuracy);
                    }
            if (t >= _rowsPublished)
            {
                Record.Seconds = Seconds;
                _rowsPublished = t + 1;
                _events.TaskTested(t, row.Test, Record);
            }
        }
        foreach (var u in indices.Where(u => !results.ContainsKey(u))) results[u] = _scenario.TestOne(Approach, u, t);
        return new EvaluationReport(indices.Select(u => new TaskEvaluation(u, Benchmark.Tasks[u].Name, results[u].Accuracy, results[u].Loss)).ToArray(), Matrix);
    }

    /// <summary>
    /// Task <paramref name="task"/>'s logits for inputs <paramref name="x"/> (on the learner's device), as evaluation computes
    /// them: in evaluation mode, without gradients (HAT with its gates at their evaluation sharpness).
    /// </summary>
    public Tensor Logits(Tensor x, int task)
    {
        if (task < 0 || task >= Benchmark.Tasks.Count) throw new ArgumentOutOfRangeException(nameof(task), task, $"the benchmark has tasks 0..{Benchmark.Tasks.Count - 1}");
        return Approach.EvaluationOutput(x, task);
    }

    /// <summary>
    /// Writes the trained network as a PyTorch file (<c>torch.load</c>: the state dict under the seed's parameter names,
    /// and the approach's state that matters, such as HAT's masks and EWC's Fisher diagonal; see docs/pytorch.md).
    /// </summary>
    public void Export(string path)
    {
        var description = ModelDescription.From(Record);
        using var state = (Approach as IPortableState)?.ExportState(TasksTrained);
        PyTorchFile.Save(path, Network, description, state);
    }

    /// <summary>
    /// The run is over: its record (with its time) goes to the sinks (result files are written a last time, a kept model
    /// saved, a checkpoint removed). Returns the record.
    /// </summary>
    public RunRecord Finish()
    {
        Start();
        Record.Seconds = Seconds;
        _events.RunFinished(Record);
        return Record;
    }

    // ---- State ---------------------------------------------------------------------------------------------------

    /// <summary>
    /// Everything the learner needs to continue bit for bit: its record, where it stands (between tasks or inside
    /// one, to the batch), both random generators (torch's and the batch order's) and the approach's state (model,
    /// optimiser, Fisher diagonals, masks, buffers). The tensors are the learner's own, as PyTorch's <c>state_dict()</c>'s
    /// are: write the state (<see cref="CheckpointFile.Write"/>, as checkpoints do) or copy it before training on.
    /// </summary>
    public StateDict State()
    {
        var state = new StateDict();
        state.SetValue("run/position", Position)
            .SetValue("run/record", Record).SetValue("run/next_task", TasksTrained).SetValue("run/task_started", TaskStarted);
        var (mt, index) = _batchOrder.Snapshot();
        state.SetValue("rng/numpy_state", mt).SetValue("rng/numpy_index", index).Set("rng/torch", TorchRandom.GetState());
        Approach.Save(state.Scope("approach"));
        return state;
    }

    /// <summary>
    /// Continues from <paramref name="state"/> (<see cref="State"/> of a learner of the same set-up and data, or a
    /// checkpoint of <c>retain run</c>): the next call of <see cref="Train"/> resumes where that learner stood.
    /// </summary>
    public void Restore(StateDict state)
    {
        var record = state.Value<RunRecord>("run/record");
        RunRecordFile.Check(record, "the state's run/record");
        if (!DataSourceIdentity.Same(record.DataSource, Benchmark.Source))
            throw new RetainException($"the state was saved by a learner of data from {record.DataSource}, this one's comes from {Benchmark.Source}");
        Record = record;
        TasksTrained = state.Value<int>("run/next_task");
        TaskStarted = state.Value<bool>("run/task_started");
        _batchOrder.Restore((state.Value<uint[]>("rng/numpy_state"), state.Value<int>("rng/numpy_index")));
        TorchRandom.SetState(state.Tensor("rng/torch"));
        Approach.Load(state.Scope("approach"));
        (_resumedFrom, _rowsPublished, _secondsBefore) = (state.Value<CheckpointPosition>("run/position"), TasksTrained, Record.Seconds);
    }

    /// <summary>A line for the sinks (what an approach wrote, a summary it computed).</summary>
    internal void Note(string line) => _events.Note(line);

    private double Seconds => _secondsBefore + _clock.Elapsed.TotalSeconds;

    /// <summary>The first training or test starts the run: sinks that need the learner get it, then every sink hears of the start.</summary>
    private void Start()
    {
        if (_started) return;
        _started = true;
        foreach (var sink in Sinks.OfType<IRunAttachedSink>()) sink.Attach(this);
        _events.RunStarted(Record, Network, _resumedFrom);
    }

    private int IndexOf(TaskData task)
    {
        for (var u = 0; u < Benchmark.Tasks.Count; u++)
            if (ReferenceEquals(Benchmark.Tasks[u], task)) return u;
        throw new ArgumentException($"task {task.Name} is not one of the benchmark's tasks ({string.Join(", ", Benchmark.Tasks.Select(t => t.Name))})", nameof(task));
    }

    private static double[][] Square(int n) => Enumerable.Range(0, n).Select(_ => new double[n]).ToArray();

    /// <summary>The approach and its network (the benchmark is the caller's).</summary>
    public void Dispose()
    {
        Approach.Dispose();
        Network.Dispose();
        _scenario.Dispose();
    }

    /// <summary>Adds each finished epoch to the record before the sinks see it (so a checkpoint holds it).</summary>
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
}

/// <summary>What <see cref="Learner.Evaluate"/> measured on each task, and the accuracy matrix so far with its metrics.</summary>
public sealed record EvaluationReport(IReadOnlyList<TaskEvaluation> Tasks, AccuracyMatrix? Matrix)
{
    /// <summary>ACC: the mean accuracy over the tasks trained, after the last one (NaN before any).</summary>
    public double AverageAccuracy => Matrix is null ? double.NaN : Metrics.AverageAccuracy(Matrix);

    /// <summary>BWT: how much training later tasks changed the accuracy on earlier ones, negative for forgetting (NaN before two tasks).</summary>
    public double BackwardTransfer => Matrix is null ? double.NaN : Metrics.BackwardTransfer(Matrix);
}

/// <summary>One task's test accuracy and mean loss.</summary>
public sealed record TaskEvaluation(int Task, string Name, double Accuracy, double Loss);
