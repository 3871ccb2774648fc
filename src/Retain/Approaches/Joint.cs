using Retain.Data;
using Retain.Networks;
using Retain.Training;
using static TorchSharp.torch;

namespace Retain.Approaches;

/// <summary>
/// Multitask training, the upper reference <c>A_J</c> of the forgetting ratio: at every task the network restarts
/// from its initial weights and is trained on the union of the training sets of all tasks so far, each sample
/// through its own task's head (loss = mean over the batch of each sample's cross-entropy). Warm-up and curriculum
/// do not apply; the learning-rate schedule is the base loop's.
/// </summary>
public sealed class Joint : Approach
{
    private readonly Dictionary<string, Tensor> _initial;
    private readonly List<TaskData> _seen = [];

    public Joint(ApproachContext context) : base(context) => _initial = Model.CopyParameters();

    /// <summary>How many training samples the last call of <see cref="Train"/> used (all tasks so far).</summary>
    public int TrainingSamples { get; private set; }

    /// <summary>Samples of several tasks with the task each belongs to.</summary>
    private sealed record MixedSet(Tensor X, Tensor Y, Tensor TaskIds) : IDisposable
    {
        public int Count => (int)X.shape[0];
        public void Dispose() { X.Dispose(); Y.Dispose(); TaskIds.Dispose(); }

        public static MixedSet Union(IReadOnlyList<Split> splits) => new(
            cat(splits.Select(s => s.X).ToArray()), cat(splits.Select(s => s.Y).ToArray()),
            cat(splits.Select((s, k) => full(s.Count, k, ScalarType.Int64)).ToArray()));
    }

    public override IReadOnlyList<EpochRecord> Train(int task, TaskData data, IRunObserver observer)
    {
        _seen.Add(data);
        Model.LoadParameters(_initial);
        using var train = MixedSet.Union(_seen.Select(d => d.Train).ToArray());
        using var valid = MixedSet.Union(_seen.Select(d => d.Valid).ToArray());
        TrainingSamples = train.Count;
        return RunEpochs(task, new LearningRateSchedule(Options with { Warmup = null }), observer, _ =>
        {
            TrainEpoch(train);
            return (EvaluateMixed(train), EvaluateMixed(valid), 1);
        });
    }

    private void TrainEpoch(MixedSet train)
    {
        var order = Context.BatchOrder.Permutation(train.Count);
        Model.train();
        for (var start = 0; start < order.Length; start += Options.BatchSize)
        {
            using var scope = NewDisposeScope();
            var index = tensor(order[start..Math.Min(start + Options.BatchSize, order.Length)].Select(i => (long)i).ToArray());
            var (loss, _) = MixedLoss(train.X.index_select(0, index).to(Device), train.Y.index_select(0, index).to(Device), train.TaskIds.index_select(0, index));
            Optimizer.zero_grad();
            loss.backward();
            nn.utils.clip_grad_norm_(Model.parameters(), Options.ClipGradient);
            Optimizer.step();
        }
    }

    private EvalResult EvaluateMixed(MixedSet set)
    {
        Model.eval();
        using var noGrad = no_grad();
        double lossSum = 0;
        long correct = 0;
        for (var start = 0; start < set.Count; start += Options.BatchSize)
        {
            using var scope = NewDisposeScope();
            var n = Math.Min(Options.BatchSize, set.Count - start);
            var (loss, hits) = MixedLoss(set.X.narrow(0, start, n).to(Device), set.Y.narrow(0, start, n).to(Device), set.TaskIds.narrow(0, start, n));
            lossSum += loss.item<float>() * n;
            correct += hits;
        }
        return new EvalResult(lossSum / set.Count, (double)correct / set.Count);
    }

    /// <summary>Mean cross-entropy of each sample through its own task's head, and the number of correct predictions.</summary>
    private (Tensor Loss, long Correct) MixedLoss(Tensor x, Tensor y, Tensor taskIds)
    {
        var features = Model.Features(x, new ForwardContext(0));
        var loss = zeros(1, device: Device).squeeze();
        long correct = 0;
        foreach (var k in taskIds.unique().Item1.data<long>().ToArray())
        {
            var rows = taskIds.eq(k).nonzero().squeeze(1).to(Device);
            var logits = Model.Head((int)k, features.index_select(0, rows));
            var labels = y.index_select(0, rows);
            loss = loss + nn.functional.cross_entropy(logits, labels, reduction: nn.Reduction.Sum);
            correct += logits.argmax(1).eq(labels).sum().item<long>();
        }
        return (loss / x.shape[0], correct);
    }

    public override void Dispose()
    {
        ParameterSet.DisposeAll(_initial);
        base.Dispose();
    }
}
