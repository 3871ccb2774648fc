using System.Diagnostics;
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

    /// <summary>Trains task <paramref name="task"/> and returns the per-epoch history.</summary>
    public virtual IReadOnlyList<EpochRecord> Train(int task, TaskData data, IRunObserver observer)
    {
        PrepareTask(task, data);
        var schedule = new LearningRateSchedule(Options);
        SetLearningRate(schedule.LearningRate);
        var best = Model.CopyParameters();
        var history = new List<EpochRecord>();
        try
        {
            for (var epoch = 0; epoch < Options.Epochs; epoch++)
            {
                var clock = Stopwatch.StartNew();
                var lr = schedule.LearningRate;
                PrepareEpoch(task, epoch, data);
                TrainEpoch(task, data.Train);
                var train = Evaluate(task, data.Train);
                var valid = Evaluate(task, data.Valid);
                var (improved, stop) = schedule.EndOfEpoch(epoch, valid.Loss);
                if (improved)
                {
                    ParameterSet.DisposeAll(best);
                    best = Model.CopyParameters();
                }
                SetLearningRate(schedule.LearningRate);
                var record = new EpochRecord(task, epoch, train.Loss, train.Accuracy, valid.Loss, valid.Accuracy, lr, improved, clock.Elapsed.TotalSeconds);
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
        FinishTask(task, data);
        return history;
    }

    /// <summary>One pass over the training set in a fresh random order, in batches of <c>BatchSize</c>.</summary>
    protected virtual void TrainEpoch(int task, Split train)
    {
        var order = Context.BatchOrder.Permutation(train.Count);
        Model.train();
        for (var start = 0; start < order.Length; start += Options.BatchSize)
        {
            using var scope = NewDisposeScope();
            var end = Math.Min(start + Options.BatchSize, order.Length);
            var index = tensor(order[start..end].Select(i => (long)i).ToArray());
            TrainStep(new Batch(task, train.X.index_select(0, index).to(Device), train.Y.index_select(0, index).to(Device),
                ones(end - start, device: Device)));
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
    protected virtual void PrepareEpoch(int task, int epoch, TaskData data) { }
    /// <summary>Runs after backward and before clipping (where HAT masks gradients).</summary>
    protected virtual void AdjustGradients(int task) { }
    protected virtual void AfterStep(int task) { }
    /// <summary>Runs after the best model has been restored (where EWC computes its Fisher diagonal).</summary>
    protected virtual void FinishTask(int task, TaskData data) { }

    /// <summary>Mean loss (the training objective) and accuracy of head <paramref name="task"/> on a split, in order, in batches.</summary>
    public virtual EvalResult Evaluate(int task, Split split)
    {
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
            var (loss, logits) = Compute(new Batch(task, x, y, ones(end - start, device: Device)));
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
