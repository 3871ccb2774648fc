using Retain.Data;
using Retain.Networks;
using Retain.Training;
using static TorchSharp.torch;

namespace Retain.Approaches;

public sealed record PackNetOptions : IValidatedOptions
{
    [Option("prune", "Share of the weights a task trained that pruning releases, in every layer, those of smallest magnitude (Mallya and Lazebnik 2018 pruned 0.5 and 0.75). none: equal shares, task t of T releases (T−t−1)/(T−t), so every task keeps 1/T of each layer and the last releases none.")]
    public double? Prune { get; init; }

    [Option("retrain-epochs", "Epochs of retraining after pruning, of the weights the task kept (the authors: 10 after 20 of training). none: half of --nepochs, rounded up.")]
    public int? RetrainEpochs { get; init; }

    [Option("retrain-lr", "Starting learning rate of the retraining, with the base loop's schedule (the authors: a tenth of the training's). none: --lr / 10.")]
    public double? RetrainLearningRate { get; init; }

    public void Validate()
    {
        if (Prune is { } prune && (prune < 0 || prune >= 1))
            throw new RetainException($"--prune must be at least 0 and below 1 (got {ApproachOptions.Format(prune)}): a task keeps some of its weights");
        if (RetrainEpochs is { } epochs) OptionValues.RequireNotNegative("--retrain-epochs", epochs);
        if (RetrainLearningRate is { } rate) OptionValues.RequirePositive("--retrain-lr", rate);
    }
}

/// <summary>Where PackNet stands within the current task.</summary>
public sealed class PackNetState
{
    /// <summary>The epoch at which the current task's retraining ends, once the task is pruned; null while it trains.</summary>
    public int? RetrainUntil { get; set; }
}

/// <summary>
/// PackNet (Mallya and Lazebnik, CVPR 2018): tasks are packed into one network by iterative pruning and freezing, so
/// none forgets. Every weight of the backbone is owned by one task or free (<see cref="PackNetMasks"/>). For task t:
/// <list type="number">
/// <item>every free weight is given to task t, and the network trains with the base loop, changing only task t's
/// weights: the weights of earlier tasks are used but get no gradient;</item>
/// <item>the best parameters restored, the <c>--prune</c> share of task t's weights of smallest magnitude in each
/// layer is released (set to 0 and free for later tasks);</item>
/// <item>the weights task t kept are retrained (<c>--retrain-epochs</c>, from <c>--retrain-lr</c>, with the base loop's
/// schedule and choice of the best epoch), the released ones held at 0; then task t's weights are frozen for good.</item>
/// </list>
/// Task t is evaluated with the weights of tasks 0..t only. Biases are shared and train with the first task only, then
/// stay fixed (the authors' default; they are not pruned). Each task's head is its own and is never pruned.
/// PackNet needs the task id at test: it selects the task's weights (a gated spec, as hat's).
/// </summary>
public sealed class PackNet(ApproachContext context, PackNetOptions options, PackNetMasks masks) : Approach(context)
{
    public PackNetOptions Settings { get; } = options;
    public PackNetMasks Masks { get; } = masks;
    public PackNetState State { get; } = new();

    /// <summary>The retraining's epochs: <c>--retrain-epochs</c>, else half of the training's, rounded up.</summary>
    public int RetrainEpochs => Settings.RetrainEpochs ?? (Options.Epochs + 1) / 2;

    public override int MaxEpochsPerTask => Options.Epochs + RetrainEpochs;

    /// <summary>The share of its weights task <paramref name="task"/> releases: <c>--prune</c>, else equal shares over the tasks.</summary>
    public double PruneRatio(int task) => Settings.Prune ?? EqualShare(task, Masks.TaskCount);

    /// <summary>(T − t − 1) / (T − t): what task t of T must release for each task to keep 1/T of every layer.</summary>
    public static double EqualShare(int task, int tasks) => task >= tasks - 1 ? 0 : (tasks - task - 1) / (double)(tasks - task);

    /// <summary>Training (unless a resumed run is past it), pruning, retraining.</summary>
    public override IReadOnlyList<EpochRecord> Train(int task, TaskData data, ITrainingEvents events)
    {
        BeginTask(task, data);
        if (State.RetrainUntil is null)
        {
            TrainEpochs(task, data, events, Options.Epochs);
            var trained = Current!;
            Model.LoadParameters(trained.Best);
            var released = Masks.Prune(Model.Backbone, task, PruneRatio(task));
            // Nothing released (the last task of equal shares): the trained task is as it was chosen, nothing to retrain.
            State.RetrainUntil = released == 0 ? trained.Epoch : trained.Epoch + RetrainEpochs;
            if (released > 0) RestartSchedule(Settings.RetrainLearningRate ?? Options.LearningRate / 10);
        }
        TrainEpochs(task, data, events, State.RetrainUntil.Value);
        State.RetrainUntil = null;
        return EndTask(task, data);
    }

    /// <summary>The free weights go to the task.</summary>
    protected override void PrepareTask(int task, TaskData data) => Masks.Assign(task);

    /// <summary>Only the task's own weights learn (before clipping, so the frozen ones do not count towards the norm); biases only in the first task.</summary>
    protected override void AdjustGradients(int task)
    {
        using var _ = no_grad();
        for (var l = 0; l < Masks.LayerCount; l++)
        {
            var (weight, bias) = PackNetMasks.Parameters(Model.Backbone.Layer(l));
            if (weight.grad is { } grad)
            {
                using var trainable = Masks.Trainable(l, task);
                grad.mul_(trainable);
            }
            if (task > 0) bias.grad?.zero_();
        }
    }

    /// <summary>The share of the backbone's weights the task trains (after pruning: keeps), as a scalar of the epoch.</summary>
    protected override void FinishEpoch(int task, int epoch, TaskData data) => ReportScalar("packnet/task_weights", Masks.Share(task));

    protected override void SaveState(StateDict state) => state.SetValue("retrain_until", State.RetrainUntil);

    // Who owns which weight is a buffer of the network, saved with it by the base class.
    protected override void LoadState(StateDict state) => State.RetrainUntil = state.Value<int?>("retrain_until");
}

/// <summary>
/// packnet: the backbone's plain blocks with every weight owned by a task (<see cref="PackNetMasks"/>), one head per
/// task. A gated spec: PackNet needs the task id at test.
/// </summary>
public sealed class PackNetSpec : GatedApproachSpec<PackNetOptions, PackNetMasks>
{
    public override GatedNetwork<PackNetMasks> CreateNetwork(BackboneArchitecture backbone, NetworkShape shape, PackNetOptions options) =>
        PackNetMasks.CreateNetwork(backbone, shape.InputSize, shape.ClassCounts);

    public override Approach Create(ApproachContext context, PackNetOptions options, PackNetMasks gating) => new PackNet(context, options, gating);
}
