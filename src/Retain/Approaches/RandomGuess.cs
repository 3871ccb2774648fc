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
        var guesses = new List<long>(split.Count + labels.Length);
        while (guesses.Count < split.Count)
        {
            var copy = (long[])labels.Clone();
            Context.BatchOrder.Shuffle(copy);
            guesses.AddRange(copy);
        }
        var predictions = guesses.Take(split.Count).ToArray();
        Context.BatchOrder.Shuffle(predictions);
        var truth = split.Y.data<long>().ToArray();
        return new EvalResult(0, (double)predictions.Where((p, i) => p == truth[i]).Count() / split.Count);
    }

    protected override void SaveState(StateDict state) => state.SetValue("training_labels", _trainingLabels);

    protected override void LoadState(StateDict state)
    {
        _trainingLabels.Clear();
        foreach (var (task, labels) in state.Value<Dictionary<int, long[]>>("training_labels")) _trainingLabels[task] = labels;
    }
}
