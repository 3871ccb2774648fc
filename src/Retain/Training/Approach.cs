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

    /// <summary>
    /// The benchmark's tasks in training order. Only the reference approach joint reads the data of earlier tasks
    /// (it retrains on all of them); null where the caller provides none.
    /// </summary>
    public IReadOnlyList<TaskData>? Tasks { get; init; }

    /// <summary>The run's seed, for an approach that keeps a random generator of its own (a replay buffer's, saved in its state).</summary>
    public int Seed { get; init; }
}

/// <summary>
/// A batch on the device: inputs, labels, each sample's curriculum complexity in [0,1] (all ones without a
/// curriculum; DWA weights its triplet loss by <c>1 - complexity</c>), and each sample's task when the batch mixes
/// tasks (joint), else null: every sample belongs to <see cref="Task"/>.
/// </summary>
public sealed record Batch(int Task, Tensor X, Tensor Y, Tensor Complexity, Tensor? TaskIds = null);

/// <summary>
/// The per-task protocol of the seed's base approach. <see cref="Train"/> runs
/// PrepareTask -> epochs { PrepareEpoch; batches { TrainStep }; FinishEpoch; evaluate train and valid; lr schedule }
/// -> restore the best model by validation loss -> FinishTask. An approach overrides only the hooks it needs.
/// <para>
/// The loop keeps where it stands in <see cref="Current"/>, and an approach keeps what it carries from task to task in
/// its own state (<see cref="SaveState"/>/<see cref="LoadState"/>), so that a run interrupted between two steps
/// continues bit for bit from a checkpoint (<see cref="Save"/>, <see cref="Load"/>).
/// </para>
/// </summary>
public abstract class Approach : IDisposable, IStateful
{
    protected Approach(ApproachContext context)
    {
        Context = context;
        Model = context.Network;
        Options = context.Options;
        Optimizer = Options.Optimizer.Create(Model.parameters(), Options.LearningRate);
    }

    protected ApproachContext Context { get; }
    public MultiHeadNetwork Model { get; protected set; }
    public TrainingOptions Options { get; }
    protected Device Device => Context.Device;
    /// <summary>
    /// The optimiser of <see cref="TrainingOptions.Optimizer"/> (plain SGD, the seed's, by default), over the model's
    /// parameters; the loop sets its rate. One with state of its own (momentum, Adam's moments) starts afresh with each task.
    /// </summary>
    protected optim.Optimizer Optimizer { get; set; }

    /// <summary>Where the training of the current task stands; null between tasks.</summary>
    public TaskTraining? Current { get; private set; }

    /// <summary>The most epochs <see cref="Train"/> runs for one task (what a progress bar counts towards).</summary>
    public virtual int MaxEpochsPerTask => Options.Epochs;

    /// <summary>
    /// Trains task <paramref name="task"/> (or continues training it, after <see cref="Load"/> of a checkpoint taken
    /// while it trained) and returns the task's per-epoch history.
    /// </summary>
    public virtual IReadOnlyList<EpochRecord> Train(int task, TaskData data, ITrainingEvents events)
    {
        BeginTask(task, data);
        TrainEpochs(task, data, events, Options.Epochs);
        return EndTask(task, data);
    }

    /// <summary>
    /// The base loop's epochs of the current task, from where <see cref="Current"/> stands until epoch
    /// <paramref name="end"/> (exclusive) or until the learning-rate schedule stops the task.
    /// </summary>
    protected void TrainEpochs(int task, TaskData data, ITrainingEvents events, int end)
    {
        var run = Current!;
        var trainComplexity = ComplexityOf(data.Train);
        SetLearningRate(run.Schedule.LearningRate);
        while (!run.Stopped && run.Epoch < end)
        {
            var clock = Stopwatch.StartNew();
            if (run.Order is null) PrepareEpoch(task, run.Epoch, data, trainComplexity);
            TrainEpoch(task, data.Train, trainComplexity, run.Threshold, events);
            FinishEpoch(task, run.Epoch, data);
            if (run.Threshold < 1) run.Threshold = Options.Curriculum!.Threshold(run.Epoch + 1);
            var train = EvaluateTrainingSet(task, data.Train);
            var valid = Evaluate(task, data.Valid);
            var lr = run.Schedule.LearningRate;
            var (improved, stop) = run.Schedule.EndOfEpoch(run.Epoch, valid.Loss, run.Threshold);
            SetLearningRate(run.Schedule.LearningRate);
            EndEpoch(new EpochRecord(task, run.Epoch, train.Loss, train.Accuracy, valid.Loss, valid.Accuracy, lr, improved, clock.Elapsed.TotalSeconds),
                stop, events);
        }
    }

    /// <summary>
    /// Starts the rest of the current task as a new stage (PackNet's retraining after pruning): a fresh learning-rate
    /// schedule at <paramref name="learningRate"/>, the parameters as they are now as its best so far, every training
    /// sample. The epochs go on being numbered and recorded after the earlier stage's. The schedule is otherwise the
    /// run's, so a run resumed within the stage continues it bit for bit.
    /// </summary>
    protected void RestartSchedule(double learningRate)
    {
        var earlier = Current!;
        var restarted = new TaskTraining(earlier.Task, Options, Model.CopyParameters()) { Epoch = earlier.Epoch, Threshold = 1 };
        restarted.Schedule.Restart(learningRate);
        restarted.History.AddRange(earlier.History);
        earlier.Dispose();
        Current = restarted;
    }

    /// <summary>Starts task <paramref name="task"/>'s training (<see cref="PrepareTask"/>), unless a loaded checkpoint is continuing it.</summary>
    protected void BeginTask(int task, TaskData data)
    {
        if (data.Valid.Count == 0)
            throw new RetainException($"task {task} ({data.Name}) has no validation samples: model selection and the learning-rate schedule need them");
        if (Current is { } resumed)
        {
            if (resumed.Task != task) throw new InvalidOperationException($"the approach is in the middle of task {resumed.Task}, not {task}");
            return;
        }
        PrepareTask(task, data);
        if (Options.Optimizer.HasState) RenewOptimizer();
        Current = new TaskTraining(task, Options, Model.CopyParameters());
    }

    private void RenewOptimizer()
    {
        Optimizer.Dispose();
        Optimizer = Options.Optimizer.Create(Model.parameters(), Options.LearningRate);
    }

    /// <summary>
    /// Closes an epoch: keeps the parameters if it improved, records it with the approach's scalars, advances the
    /// cursor, and tells the run (which may write a checkpoint). A training loss that is not a number ends the run.
    /// </summary>
    protected void EndEpoch(EpochRecord record, bool stop, ITrainingEvents events)
    {
        var run = Current!;
        if (!double.IsFinite(record.TrainLoss))
            throw new NonFiniteLossException(record.Task, record.Epoch, record.TrainLoss, record.LearningRate);
        if (record.Improved) run.KeepBest(Model.CopyParameters());
        record = record with { Scalars = run.TakeScalars() };
        run.History.Add(record);
        run.Epoch++;
        run.Stopped = stop;
        events.EpochFinished(record);
    }

    /// <summary>Restores the best parameters, closes the task's training and runs <see cref="FinishTask"/>.</summary>
    protected IReadOnlyList<EpochRecord> EndTask(int task, TaskData data)
    {
        var run = Current!;
        Model.LoadParameters(run.Best);
        var history = run.History.ToArray();
        run.Dispose();
        Current = null;
        FinishTask(task, data);
        return history;
    }

    /// <summary>
    /// One pass, in a fresh random order and in batches of <c>BatchSize</c>, over the training samples whose
    /// complexity is at most <paramref name="threshold"/> (all of them without a curriculum). The order and the next
    /// batch are part of <see cref="Current"/>, so after a checkpoint taken between two steps the pass continues
    /// where it stopped.
    /// </summary>
    protected void TrainEpoch(int task, Split train, float[] complexity, double threshold, ITrainingEvents events)
    {
        var run = Current!;
        if (run.Order is null)
        {
            var selected = threshold >= 1 ? Enumerable.Range(0, train.Count).ToArray()
                : Enumerable.Range(0, train.Count).Where(i => complexity[i] <= (float)threshold).ToArray();
            run.Order = Context.BatchOrder.Permutation(selected.Length).Select(k => selected[k]).ToArray();
            run.NextBatch = 0;
        }
        Model.train();
        while (run.NextBatch * Options.BatchSize < run.Order.Length)
        {
            using (NewDisposeScope())
            {
                var start = run.NextBatch * Options.BatchSize;
                var rows = run.Order[start..Math.Min(start + Options.BatchSize, run.Order.Length)];
                var batch = train.Rows(rows.Select(i => (long)i).ToArray(), Device);
                TrainStep(new Batch(task, batch.X, batch.Y, tensor(rows.Select(i => complexity[i]).ToArray(), device: Device), batch.TaskIds));
            }
            run.NextBatch++;
            events.StepFinished();
        }
        run.Order = null;
    }

    /// <summary>Forward, loss, backward, gradient surgery, clipping, SGD step.</summary>
    protected virtual void TrainStep(Batch batch)
    {
        var (loss, _) = Compute(batch);
        var value = loss.item<float>();
        if (!float.IsFinite(value))
            throw new NonFiniteLossException(batch.Task, Current?.Epoch ?? 0, value, Optimizer.ParamGroups.First().LearningRate);
        // zero_grad, backward and clip_grad_norm_ as before, without the passes that leave the gradients as they are.
        Gradients.Backward(loss, Optimizer.parameters().ToArray());
        AdjustGradients(batch.Task);
        Gradients.ClipNorm(Model.parameters(), Options.ClipGradient);
        Optimizer.step();
        AfterStep(batch.Task);
    }

    /// <summary>
    /// The training objective on a batch and the logits. Evaluation reports the same objective (the seed's validation
    /// loss includes every regulariser); <c>Model.training</c> tells the two apart.
    /// </summary>
    protected virtual (Tensor Loss, Tensor Logits) Compute(Batch batch)
    {
        var logits = Model.Forward(batch.X, batch.TaskIds, batch.Task);
        return (TaskLoss(logits, batch.Y) + Penalty(batch.Task), logits);
    }

    /// <summary>The loss that fits the task's head, <see cref="TrainingOptions.Loss"/> (cross-entropy by default), batch mean.</summary>
    protected Tensor TaskLoss(Tensor logits, Tensor labels) => Options.Loss.Compute(logits, labels);

    /// <summary>A regulariser added to the task's loss (EWC's quadratic penalty, for example). Zero by default.</summary>
    protected virtual Tensor Penalty(int task) => zeros(1, device: Device).squeeze();

    protected virtual void PrepareTask(int task, TaskData data) { }
    /// <summary>Runs before each epoch with the whole (unfiltered) training set and its complexities (DWA's anchor search).</summary>
    protected virtual void PrepareEpoch(int task, int epoch, TaskData data, float[] trainComplexity) { }
    /// <summary>Runs after backward and before clipping (where HAT masks gradients).</summary>
    protected virtual void AdjustGradients(int task) { }
    protected virtual void AfterStep(int task) { }
    /// <summary>Runs after an epoch's training steps, before it is evaluated (where approaches report scalars of the epoch).</summary>
    protected virtual void FinishEpoch(int task, int epoch, TaskData data) { }
    /// <summary>Runs after the best model has been restored (where EWC computes its Fisher diagonal).</summary>
    protected virtual void FinishTask(int task, TaskData data) { }

    /// <summary>Reports a scalar of the running epoch (recorded with the epoch, shown in logs and TensorBoard).</summary>
    protected void ReportScalar(string name, double value) => AccumulateScalar(name, value, 1);

    /// <summary>
    /// Reports the regularisation penalty (<see cref="Penalty"/>) at the parameters as they are, as a scalar of the
    /// epoch. In a dispose scope: the penalty's sum over the parameters makes temporaries that nothing holds otherwise,
    /// which left about 50 tensors per epoch to the finalizer (<c>NativeLifetimeTests</c>).
    /// </summary>
    protected void ReportPenalty(string name, int task)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        ReportScalar(name, Penalty(task).item<float>());
    }

    /// <summary>
    /// Adds one batch's value of a scalar whose epoch value is the mean over samples (a loss term, for example).
    /// Outside a task's epochs (a Fisher pass after the task, say) there is no epoch to report to, and nothing happens.
    /// </summary>
    protected void AccumulateScalar(string name, double value, double samples)
    {
        if (Current is not { } run) return;
        var (sum, weight) = run.Scalars.GetValueOrDefault(name);
        run.Scalars[name] = (sum + value * samples, weight + samples);
    }

    /// <summary>The running epoch's value of a scalar so far (0 if it was not reported).</summary>
    protected double EpochScalar(string name) =>
        Current?.Scalars.TryGetValue(name, out var s) == true && s.Weight > 0 ? s.Sum / s.Weight : 0;

    private readonly ConditionalWeakTable<Split, float[]> _complexities = new();

    /// <summary>
    /// Each sample's curriculum complexity in [0,1] (normalised over the split), or all ones without a curriculum.
    /// Computed once per split: the seed recomputed it at every evaluation, with the same result.
    /// </summary>
    protected float[] ComplexityOf(Split split) => Options.Curriculum is null
        ? Enumerable.Repeat(1f, split.Count).ToArray()
        : _complexities.GetValue(split, s => EntropyComplexity.Compute(s.X));

    /// <summary>
    /// The training set's loss and accuracy for an epoch's record (the schedule reads only the validation set's): by
    /// default a pass over it after the epoch, as the seed did. DWA takes the epoch's training steps instead.
    /// </summary>
    protected virtual EvalResult EvaluateTrainingSet(int task, Split train) => Evaluate(task, train);

    /// <summary>Mean loss (the training objective) and accuracy of head <paramref name="task"/> on a split, in order, in batches.</summary>
    public virtual EvalResult Evaluate(int task, Split split)
    {
        var complexity = ComplexityOf(split);
        Model.eval();
        double lossSum = 0;
        long correct = 0;
        using var noGrad = no_grad();
        foreach (var b in split.Batches(Options.BatchSize, Device))
        {
            var count = (int)b.X.shape[0];
            var (loss, logits) = Compute(new Batch(task, b.X, b.Y, tensor(complexity[b.Start..(b.Start + count)], device: Device), b.TaskIds));
            lossSum += loss.item<float>() * count;
            correct += logits.argmax(1).eq(b.Y).sum().item<long>();
        }
        return new EvalResult(lossSum / split.Count, (double)correct / split.Count);
    }

    // ---- Task-agnostic evaluation -----------------------------------------------------------------------------

    /// <summary>Task <paramref name="task"/>'s logits as evaluation computes them (HAT evaluates with its gates at s = smax).</summary>
    protected virtual Tensor EvaluationLogits(Tensor x, int task) => Model.Forward(x, task);

    /// <summary>Task <paramref name="task"/>'s logits for <paramref name="x"/> as evaluation computes them: evaluation mode, no gradients.</summary>
    public Tensor EvaluationOutput(Tensor x, int task)
    {
        Model.eval();
        using var _ = no_grad();
        return EvaluationLogits(x, task);
    }

    /// <summary>
    /// Every learned task's evaluation logits for the same inputs. The backbone runs once when its features do not
    /// depend on the task (plain, DWA with its context processor), else once per task (HAT, PathNet, progressive).
    /// </summary>
    protected virtual IReadOnlyList<Tensor> EvaluationLogitsOfEveryTask(Tensor x, int tasks)
    {
        if (Model.Backbone.Gating.FeaturesDependOnTask)
            return Enumerable.Range(0, tasks).Select(k => EvaluationLogits(x, k)).ToArray();
        var features = Model.Features(x, new ForwardContext(0));
        return Enumerable.Range(0, tasks).Select(k => Model.Backbone.Gating.Logits(Model, features, new ForwardContext(k))).ToArray();
    }

    /// <summary>
    /// The task each sample most likely comes from, by every predictor the approach offers (name → one task id per
    /// sample), given every learned task's logits: by default the most confident head (<see cref="TaskPredictors"/>).
    /// </summary>
    protected virtual IReadOnlyDictionary<string, Tensor> PredictTasks(Tensor x, IReadOnlyList<Tensor> logits) =>
        TaskPredictors.Generic(logits);

    /// <summary>The predictor whose numbers are the approach's task-agnostic results (the others are recorded for comparison).</summary>
    public virtual string DefaultTaskPredictor => TaskPredictors.MaxProbability;

    /// <summary>
    /// Task-agnostic evaluation on a split of task <paramref name="task"/> after <paramref name="learnedTasks"/> tasks:
    /// per predictor, the accuracy when each sample's task is predicted and that task's head gives the class, and how
    /// often the task itself was right.
    /// </summary>
    public virtual IReadOnlyDictionary<string, AgnosticResult> EvaluateWithoutTask(int task, Split split, int learnedTasks)
    {
        Model.eval();
        using var noGrad = no_grad();
        var hits = new Dictionary<string, (long Correct, long TaskCorrect, long ClassCorrect)>();
        foreach (var b in split.Batches(Options.BatchSize, Device))
        {
            var logits = EvaluationLogitsOfEveryTask(b.X, learnedTasks);
            var classes = stack(logits.Select(l => l.argmax(1)).ToArray());     // tasks x B
            foreach (var (name, predicted) in PredictTasks(b.X, logits))
            {
                var taskRight = predicted.eq(task);
                var classRight = classes.gather(0, predicted.unsqueeze(0)).squeeze(0).eq(b.Y);
                var (correct, taskCorrect, classCorrect) = hits.GetValueOrDefault(name);
                hits[name] = (correct + taskRight.logical_and(classRight).sum().item<long>(), taskCorrect + taskRight.sum().item<long>(),
                    classCorrect + classRight.sum().item<long>());
            }
        }
        return hits.ToDictionary(kv => kv.Key, kv => new AgnosticResult((double)kv.Value.Correct / split.Count,
            (double)kv.Value.TaskCorrect / split.Count, (double)kv.Value.ClassCorrect / split.Count));
    }

    protected void SetLearningRate(double lr)
    {
        foreach (var group in Optimizer.ParamGroups) group.LearningRate = lr;
    }

    // ---- State ---------------------------------------------------------------------------------------------------

    /// <summary>
    /// Everything a run needs to continue this approach: the model's parameters and buffers, which parameters are
    /// frozen, the optimizer's rate (and its state, if it keeps any), where the current task's training stands, and the
    /// approach's own state.
    /// </summary>
    public void Save(StateDict state)
    {
        if (Options.Optimizer.HasState) state.Set("optimizer", OptimizerState());
        state.Set("model", Model.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter))
            .Set("buffers", Model.named_buffers().ToDictionary(b => b.name, b => b.buffer))
            .SetValue("frozen", Model.named_parameters().Where(p => !p.parameter.requires_grad).Select(p => p.name).ToArray())
            .SetValue("lr", Optimizer.ParamGroups.First().LearningRate)
            .SetValue("training_task", Current?.Task);
        Current?.Save(state.Scope("training"));
        SaveState(state.Scope("approach"));
    }

    public void Load(StateDict state)
    {
        using (no_grad())
        {
            foreach (var (name, p) in Model.named_parameters()) p.copy_(state.Tensor($"model/{name}"));
            foreach (var (name, b) in Model.named_buffers()) b.copy_(state.Tensor($"buffers/{name}"));
        }
        var frozen = state.Value<string[]>("frozen").ToHashSet();
        foreach (var (name, p) in Model.named_parameters()) p.requires_grad = !frozen.Contains(name);
        if (Options.Optimizer.HasState)
        {
            RenewOptimizer();
            using var bytes = state.Tensor("optimizer").cpu();
            using var reader = new BinaryReader(new MemoryStream(bytes.data<byte>().ToArray(), writable: false));
            ((TorchSharp.Modules.OptimizerHelper)Optimizer).load_state_dict(reader);
        }
        SetLearningRate(state.Value<double>("lr"));
        Current?.Dispose();
        Current = null;
        if (state.Value<int?>("training_task") is { } task)
        {
            Current = new TaskTraining(task, Options, Model.CopyParameters());
            Current.Load(state.Scope("training"));
        }
        LoadState(state.Scope("approach"));
    }

    /// <summary>The optimiser's state (momentum buffers, moment estimates) in TorchSharp's format, as bytes.</summary>
    private Tensor OptimizerState()
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
            ((TorchSharp.Modules.OptimizerHelper)Optimizer).save_state_dict(writer);
        return tensor(stream.ToArray(), ScalarType.Byte);
    }

    /// <summary>Writes what the approach carries between steps and tasks (Fisher diagonals, old models, masks, anchors).</summary>
    protected abstract void SaveState(StateDict state);
    /// <summary>Reads back what <see cref="SaveState"/> wrote, into a freshly built approach on the same model.</summary>
    protected abstract void LoadState(StateDict state);

    public virtual void Dispose()
    {
        Current?.Dispose();
        Optimizer.Dispose();
        GC.SuppressFinalize(this);
    }
}
