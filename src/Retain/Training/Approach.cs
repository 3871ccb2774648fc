using System.Diagnostics;
using System.Runtime.CompilerServices;
using Retain.Curriculum;
using Retain.Data;
using Retain.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace Retain.Training;

/// <summary>
/// Everything an approach needs besides its own options: the network, the device, and the run's batch-order
/// generator (numpy's global generator in the seed: seeded once per run, consumed by every epoch of every task).
/// </summary>
public sealed record ApproachContext(MultiHeadNetwork Network, TrainingOptions Options, Device Device, NumpyRandomState BatchOrder)
{
    /// <summary>
    /// Builds another network of the run's architecture on the run's device, for approaches that keep a frozen copy
    /// of the model (lwf, lfl). Null where the caller provides none.
    /// </summary>
    public Func<MultiHeadNetwork>? CreateNetwork { get; init; }
}

/// <summary>
/// A batch on the device: inputs, labels, and each sample's curriculum complexity in [0,1] (all ones without a
/// curriculum). DWA weights its triplet loss by <c>1 - complexity</c>.
/// </summary>
public sealed record Batch(int Task, Tensor X, Tensor Y, Tensor Complexity);

/// <summary>
/// The per-task protocol of the seed's base approach. <see cref="Train"/> runs
/// PrepareTask -> epochs { PrepareEpoch; batches { TrainStep }; evaluate train and valid; lr schedule } ->
/// restore the best model by validation loss -> FinishTask. An approach overrides only the hooks it needs.
/// </summary>
public abstract class Approach : IDisposable
{
    protected Approach(ApproachContext context)
    {
        Context = context;
        Model = context.Network;
        Options = context.Options;
        Optimizer = optim.SGD(Model.parameters(), Options.LearningRate);
    }

    protected ApproachContext Context { get; }
    public MultiHeadNetwork Model { get; protected set; }
    public TrainingOptions Options { get; }
    protected Device Device => Context.Device;
    /// <summary>Plain SGD (no momentum, no weight decay), created once and kept across tasks; only its rate changes.</summary>
    protected optim.Optimizer Optimizer { get; set; }

    /// <summary>The most epochs <see cref="Train"/> runs for one task (what a progress bar counts towards).</summary>
    public virtual int MaxEpochsPerTask => Options.Epochs;

    /// <summary>Trains task <paramref name="task"/> and returns the per-epoch history.</summary>
    public virtual IReadOnlyList<EpochRecord> Train(int task, TaskData data, IRunObserver observer)
    {
        PrepareTask(task, data);
        var trainComplexity = ComplexityOf(data.Train);
        var threshold = Options.Curriculum?.Threshold(0) ?? 1;
        var history = RunEpochs(task, new LearningRateSchedule(Options), observer, epoch =>
        {
            PrepareEpoch(task, epoch, data, trainComplexity);
            TrainEpoch(task, data.Train, trainComplexity, threshold);
            if (threshold < 1) threshold = Options.Curriculum!.Threshold(epoch + 1);
            return (Evaluate(task, data.Train), Evaluate(task, data.Valid), threshold);
        });
        FinishTask(task, data);
        return history;
    }

    /// <summary>
    /// The epoch loop shared by every approach: run <paramref name="epoch"/> (train one epoch, then evaluate on the
    /// training and validation sets), keep the parameters of the best validation loss, follow the learning-rate
    /// schedule until it stops or the epochs run out, and restore the best parameters.
    /// </summary>
    protected IReadOnlyList<EpochRecord> RunEpochs(int task, LearningRateSchedule schedule, IRunObserver observer,
        Func<int, (EvalResult Train, EvalResult Valid, double Threshold)> epoch)
    {
        SetLearningRate(schedule.LearningRate);
        var best = Model.CopyParameters();
        var history = new List<EpochRecord>();
        try
        {
            for (var e = 0; e < Options.Epochs; e++)
            {
                var clock = Stopwatch.StartNew();
                var lr = schedule.LearningRate;
                var (train, valid, threshold) = epoch(e);
                var (improved, stop) = schedule.EndOfEpoch(e, valid.Loss, threshold);
                if (improved)
                {
                    ParameterSet.DisposeAll(best);
                    best = Model.CopyParameters();
                }
                SetLearningRate(schedule.LearningRate);
                var record = new EpochRecord(task, e, train.Loss, train.Accuracy, valid.Loss, valid.Accuracy, lr, improved, clock.Elapsed.TotalSeconds);
                history.Add(record);
                observer.EpochFinished(record);
                if (stop) break;
            }
            Model.LoadParameters(best);
        }
        finally
        {
            ParameterSet.DisposeAll(best);
        }
        return history;
    }

    /// <summary>
    /// One pass, in a fresh random order and in batches of <c>BatchSize</c>, over the training samples whose
    /// complexity is at most <paramref name="threshold"/> (all of them without a curriculum).
    /// </summary>
    protected virtual void TrainEpoch(int task, Split train, float[] complexity, double threshold)
    {
        var selected = threshold >= 1 ? Enumerable.Range(0, train.Count).ToArray()
            : Enumerable.Range(0, train.Count).Where(i => complexity[i] <= (float)threshold).ToArray();
        var order = Context.BatchOrder.Permutation(selected.Length);
        Model.train();
        for (var start = 0; start < order.Length; start += Options.BatchSize)
        {
            using var scope = NewDisposeScope();
            var rows = order[start..Math.Min(start + Options.BatchSize, order.Length)].Select(k => selected[k]).ToArray();
            var index = tensor(rows.Select(i => (long)i).ToArray());
            TrainStep(new Batch(task, train.X.index_select(0, index).to(Device), train.Y.index_select(0, index).to(Device),
                tensor(rows.Select(i => complexity[i]).ToArray(), device: Device)));
        }
    }

    /// <summary>Forward, loss, backward, gradient surgery, clipping, SGD step.</summary>
    protected virtual void TrainStep(Batch batch)
    {
        var (loss, _) = Compute(batch);
        Optimizer.zero_grad();
        loss.backward();
        AdjustGradients(batch.Task);
        nn.utils.clip_grad_norm_(Model.parameters(), Options.ClipGradient);
        Optimizer.step();
        AfterStep(batch.Task);
    }

    /// <summary>
    /// The training objective on a batch and the task head's logits. Evaluation reports the same objective (the
    /// seed's validation loss includes every regulariser); <c>Model.training</c> tells the two apart.
    /// </summary>
    protected virtual (Tensor Loss, Tensor Logits) Compute(Batch batch)
    {
        var logits = Model.Forward(batch.X, batch.Task);
        return (nn.functional.cross_entropy(logits, batch.Y) + Penalty(batch.Task), logits);
    }

    /// <summary>A regulariser added to the cross-entropy (EWC's quadratic penalty, for example). Zero by default.</summary>
    protected virtual Tensor Penalty(int task) => zeros(1, device: Device).squeeze();

    protected virtual void PrepareTask(int task, TaskData data) { }
    /// <summary>Runs before each epoch with the whole (unfiltered) training set and its complexities (DWA's anchor search).</summary>
    protected virtual void PrepareEpoch(int task, int epoch, TaskData data, float[] trainComplexity) { }
    /// <summary>Runs after backward and before clipping (where HAT masks gradients).</summary>
    protected virtual void AdjustGradients(int task) { }
    protected virtual void AfterStep(int task) { }
    /// <summary>Runs after the best model has been restored (where EWC computes its Fisher diagonal).</summary>
    protected virtual void FinishTask(int task, TaskData data) { }

    private readonly ConditionalWeakTable<Split, float[]> _complexities = new();

    /// <summary>
    /// Each sample's curriculum complexity in [0,1] (normalised over the split), or all ones without a curriculum.
    /// Computed once per split: the seed recomputed it at every evaluation, with the same result.
    /// </summary>
    protected float[] ComplexityOf(Split split) => Options.Curriculum is null
        ? Enumerable.Repeat(1f, split.Count).ToArray()
        : _complexities.GetValue(split, s => EntropyComplexity.Compute(s.X));

    /// <summary>Mean loss (the training objective) and accuracy of head <paramref name="task"/> on a split, in order, in batches.</summary>
    public virtual EvalResult Evaluate(int task, Split split)
    {
        var complexity = ComplexityOf(split);
        Model.eval();
        double lossSum = 0;
        long correct = 0;
        using var noGrad = no_grad();
        for (var start = 0; start < split.Count; start += Options.BatchSize)
        {
            using var scope = NewDisposeScope();
            var end = Math.Min(start + Options.BatchSize, split.Count);
            var x = split.X.narrow(0, start, end - start).to(Device);
            var y = split.Y.narrow(0, start, end - start).to(Device);
            var (loss, logits) = Compute(new Batch(task, x, y, tensor(complexity[start..end], device: Device)));
            lossSum += loss.item<float>() * (end - start);
            correct += logits.argmax(1).eq(y).sum().item<long>();
        }
        return new EvalResult(lossSum / split.Count, (double)correct / split.Count);
    }

    protected void SetLearningRate(double lr)
    {
        foreach (var group in Optimizer.ParamGroups) group.LearningRate = lr;
    }

    public virtual void Dispose()
    {
        Optimizer.Dispose();
        GC.SuppressFinalize(this);
    }
}
