using Retain.Approaches;
using Retain.Data;
using Retain.Networks;
using Retain.Training;

namespace Retain.Experiments;

/// <summary>
/// A benchmark's tasks as one approach trains and tests them in one scenario (<see cref="Retain.Scenario"/>):
/// <list type="bullet">
/// <item>task-IL: one head per task, every test with the task id (the seed's protocol, unchanged);</item>
/// <item>domain-IL and class-IL, for an approach that does not need the task id: the scenario's own heads
/// (<see cref="HeadLayout"/>), labels made global in class-IL, and every test set scored on the outputs of every task
/// learnt so far;</item>
/// <item>domain-IL and class-IL, for an approach that needs the task id (<see cref="ApproachSpec.NeedsTaskId"/>):
/// one head per task as in task-IL, and every test sample's task predicted by the approach's own task predictor
/// (<see cref="Approach.EvaluateWithoutTask"/>, the task-agnostic evaluation); its class is right in class-IL when
/// task and class are, in domain-IL when the class is, whichever task's head named it.</item>
/// </list>
/// </summary>
internal sealed class ScenarioRun : IDisposable
{
    private readonly List<TaskData> _relabelled = [];

    /// <summary>
    /// The run of <paramref name="spec"/>'s approach on <paramref name="benchmark"/> in <paramref name="scenario"/>;
    /// a benchmark that cannot be run so (domain-IL over tasks of different class counts) is an error saying why.
    /// </summary>
    public ScenarioRun(Scenario scenario, ApproachSpec spec, Benchmark benchmark)
    {
        HeadLayout.RequireSupports(scenario, benchmark.ClassCounts);
        Scenario = scenario;
        PredictsTask = scenario != Scenario.Task && spec.NeedsTaskId;
        Heads = spec.HeadsIn(scenario, benchmark.ClassCounts);
        if (Heads.Scenario != Scenario.Class)
        {
            Tasks = benchmark.Tasks;
            return;
        }
        // Views of the same images with global labels; disposing them leaves the benchmark's own tensors alone.
        for (var t = 0; t < benchmark.Tasks.Count; t++)
        {
            var task = benchmark.Tasks[t];
            var offset = Heads.LabelOffset(t);
            _relabelled.Add(task with { Train = Relabel(task.Train, offset), Valid = Relabel(task.Valid, offset), Test = Relabel(task.Test, offset) });
        }
        Tasks = _relabelled;
    }

    public Scenario Scenario { get; }

    /// <summary>The approach needs the task id and the scenario does not give it: each test sample's task is predicted.</summary>
    public bool PredictsTask { get; }

    /// <summary>The heads the approach's network trains.</summary>
    public HeadLayout Heads { get; }

    /// <summary>The tasks as the approach trains on them (with global labels in class-IL, where the approach does not predict the task).</summary>
    public IReadOnlyList<TaskData> Tasks { get; }

    /// <summary>
    /// Whether the run records each task predictor's results: in task-IL when asked (<c>--eval both</c>); outside it
    /// for an approach that predicts the task, always (they are its results).
    /// </summary>
    public bool RecordsPredictors(EvaluationSetting evaluation) => Scenario == Scenario.Task ? evaluation == EvaluationSetting.Both : PredictsTask;

    /// <summary>
    /// Test accuracy on task <paramref name="task"/> just before it trains (forward transfer): as tested after it in
    /// task-IL and for an approach on the scenario's heads (whose outputs for the task's classes are untrained); for an
    /// approach that predicts the task, with the tasks learnt so far (no sample can be given to its own untrained task).
    /// </summary>
    public double BeforeTraining(Approach approach, int task)
    {
        var test = Tasks[task].Test;
        if (!PredictsTask || task == 0) return approach.Evaluate(task, test).Accuracy;
        return approach.EvaluateWithoutTask(task, test, task)[approach.DefaultTaskPredictor].In(Scenario);
    }

    /// <summary>
    /// Row <paramref name="learnt"/> of the test and validation matrices, after training tasks 0..<paramref name="learnt"/>:
    /// each task's test loss and accuracy, its validation accuracy, and (where <paramref name="predictors"/>) each
    /// task predictor's results. A test's loss is the training objective on the task's test set; an approach that
    /// predicts the task reports it with the task given (there is no single output to compute it on).
    /// </summary>
    public TestedRow Test(Approach approach, int learnt, bool predictors)
    {
        var tasks = Enumerable.Range(0, learnt + 1).ToArray();
        if (Scenario == Scenario.Task)
        {
            // The seed's order of evaluations (the random reference draws its guesses in it).
            var test = tasks.Select(u => approach.Evaluate(u, Tasks[u].Test)).ToArray();
            var valid = tasks.Select(u => approach.Evaluate(u, Tasks[u].Valid).Accuracy).ToArray();
            return new TestedRow(test, valid, predictors ? tasks.Select(u => approach.EvaluateWithoutTask(u, Tasks[u].Test, learnt + 1)).ToArray() : null);
        }
        if (!PredictsTask)
            return new TestedRow(tasks.Select(u => approach.Evaluate(learnt, Tasks[u].Test)).ToArray(),
                tasks.Select(u => approach.Evaluate(learnt, Tasks[u].Valid).Accuracy).ToArray(), null);
        var byPredictor = tasks.Select(u => InScenario(approach.EvaluateWithoutTask(u, Tasks[u].Test, learnt + 1))).ToArray();
        var own = approach.DefaultTaskPredictor;
        return new TestedRow(
            tasks.Select(u => new EvalResult(approach.Evaluate(u, Tasks[u].Test).Loss, byPredictor[u][own].Accuracy)).ToArray(),
            tasks.Select(u => approach.EvaluateWithoutTask(u, Tasks[u].Valid, learnt + 1)[own].In(Scenario)).ToArray(),
            byPredictor);
    }

    /// <summary>
    /// Task <paramref name="task"/>'s test result alone after tasks 0..<paramref name="learnt"/> (−1: none) trained, as
    /// <see cref="Test"/> scores it; a task not trained yet is scored as <see cref="BeforeTraining"/> scores it.
    /// </summary>
    public EvalResult TestOne(Approach approach, int task, int learnt)
    {
        var test = Tasks[task].Test;
        if (Scenario == Scenario.Task) return approach.Evaluate(task, test);
        if (!PredictsTask) return approach.Evaluate(Math.Max(learnt, task), test);
        var loss = approach.Evaluate(task, test).Loss;
        return new EvalResult(loss, task > learnt
            ? BeforeTraining(approach, task)
            : approach.EvaluateWithoutTask(task, test, learnt + 1)[approach.DefaultTaskPredictor].In(Scenario));
    }

    /// <summary>Each predictor's results with its accuracy as this scenario counts it.</summary>
    private IReadOnlyDictionary<string, AgnosticResult> InScenario(IReadOnlyDictionary<string, AgnosticResult> results) =>
        results.ToDictionary(kv => kv.Key, kv => kv.Value with { Accuracy = kv.Value.In(Scenario) });

    private static Split Relabel(Split split, int offset) => new(split.X.alias(), split.Y + offset, split.TaskIds?.alias());

    public void Dispose()
    {
        foreach (var task in _relabelled) task.Dispose();
    }
}

/// <summary>
/// One row of a run's test matrices: per task so far, its test result, its validation accuracy and, where recorded,
/// each task predictor's results.
/// </summary>
internal sealed record TestedRow(IReadOnlyList<EvalResult> Test, IReadOnlyList<double> Valid, IReadOnlyList<IReadOnlyDictionary<string, AgnosticResult>>? Predictors);
