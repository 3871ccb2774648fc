using Retain.Data;
using Retain.Training;

namespace Retain.Approaches;

/// <summary>
/// The lower reference <c>A_R</c> of the forgetting ratio: a random classifier stratified by the training labels.
/// Nothing is trained; to test task t it predicts labels drawn from task t's training labels: shuffled copies of them
/// concatenated until there are enough, truncated, shuffled once more (numpy's global generator, as the seed).
/// </summary>
public sealed class RandomGuess(ApproachContext context) : Approach(context)
{
    private readonly Dictionary<int, long[]> _trainingLabels = [];

    public override IReadOnlyList<EpochRecord> Train(int task, TaskData data, ITrainingEvents events)
    {
        _trainingLabels[task] = data.Train.Y.data<long>().ToArray();
        return [];
    }

    public override EvalResult Evaluate(int task, Split split)
    {
        // Before it has seen a task's labels, the expected accuracy of a uniform guess among the head's classes.
        if (!_trainingLabels.TryGetValue(task, out var labels)) return new EvalResult(0, 1.0 / Model.ClassCount(task));
        var predictions = Guesses(labels, split.Count);
        var truth = split.Y.data<long>().ToArray();
        return new EvalResult(0, (double)predictions.Where((p, i) => p == truth[i]).Count() / split.Count);
    }

    /// <summary><paramref name="count"/> labels drawn stratified from <paramref name="labels"/>, as the seed draws them.</summary>
    private long[] Guesses(long[] labels, int count)
    {
        var guesses = new List<long>(count + labels.Length);
        while (guesses.Count < count)
        {
            var copy = (long[])labels.Clone();
            Context.BatchOrder.Shuffle(copy);
            guesses.AddRange(copy);
        }
        var predictions = guesses.Take(count).ToArray();
        Context.BatchOrder.Shuffle(predictions);
        return predictions;
    }

    public const string RandomPredictor = "random";

    public override string DefaultTaskPredictor => RandomPredictor;

    /// <summary>Without the task: a task drawn uniformly among the learned ones, then a label stratified by that task's training labels.</summary>
    public override IReadOnlyDictionary<string, AgnosticResult> EvaluateWithoutTask(int task, Split split, int learnedTasks)
    {
        var tasks = Enumerable.Range(0, split.Count).Select(_ => (int)Context.BatchOrder.Interval((uint)learnedTasks - 1)).ToArray();
        var labels = Enumerable.Range(0, learnedTasks).ToDictionary(k => k, k => Guesses(_trainingLabels[k], split.Count));
        var truth = split.Y.data<long>().ToArray();
        var taskRight = tasks.Count(k => k == task);
        var classRight = tasks.Where((k, i) => labels[k][i] == truth[i]).Count();
        var correct = tasks.Where((k, i) => k == task && labels[k][i] == truth[i]).Count();
        return new Dictionary<string, AgnosticResult>
        {
            [RandomPredictor] = new((double)correct / split.Count, (double)taskRight / split.Count, (double)classRight / split.Count),
        };
    }

    protected override void SaveState(StateDict state) => state.SetValue("training_labels", _trainingLabels);

    protected override void LoadState(StateDict state)
    {
        _trainingLabels.Clear();
        foreach (var (task, labels) in state.Value<Dictionary<int, long[]>>("training_labels")) _trainingLabels[task] = labels;
    }
}

/// <summary>random: any backbone; it learns nothing, by design.</summary>
public sealed class RandomGuessSpec : PlainApproachSpec<NoOptions>
{
    public override bool LearnsTasks => false;

    /// <summary>It guesses a task's labels: without the task id, a task drawn at random (its predictor) chooses them.</summary>
    public override bool NeedsTaskId => true;
    public override Approach Create(ApproachContext context, NoOptions options) => new RandomGuess(context);
}
