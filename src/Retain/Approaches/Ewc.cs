using Retain.Data;
using Retain.Interop;
using Retain.Networks;
using Retain.Training;
using static TorchSharp.torch;

namespace Retain.Approaches;

public sealed record EwcOptions : IValidatedOptions
{
    [Option("lamb", "Importance of old tasks: the penalty is lamb/2 * sum_w F_w (theta_old,w - theta_w)^2 (Kirkpatrick et al. 2017, eq. 3).")]
    public double Lambda { get; init; } = 5000;

    [Option("fisher-merge", "How the Fisher diagonals of the tasks combine: mean (the seed's running mean (F_new + t F_old)/(t+1)) or sum (standard EWC).")]
    public FisherMerge Merge { get; init; } = FisherMerge.Mean;

    public void Validate() => OptionValues.RequireNotNegative("--lamb", Lambda);
}

public enum FisherMerge { Mean, Sum }

/// <summary>The state EWC carries from task to task: the previous solution and the merged Fisher diagonal.</summary>
public sealed class EwcState
{
    public Dictionary<string, Tensor>? OldParameters { get; set; }
    public Dictionary<string, Tensor>? Fisher { get; set; }
}

/// <summary>
/// Elastic Weight Consolidation (Kirkpatrick et al., PNAS 2017). After each task the diagonal of the empirical Fisher
/// information estimates how much each weight mattered; later tasks are trained with
/// <c>CE + lamb/2 * sum_w F_w (theta_old,w - theta_w)^2</c>, heads included, which anchors important weights.
/// </summary>
public sealed class Ewc(ApproachContext context, EwcOptions options) : Approach(context), IPortableState
{
    public EwcOptions Settings { get; } = options;
    public EwcState State { get; } = new();

    /// <summary>The seed's defaults: the base loop's, with gradients clipped at 100.</summary>
    public static TrainingOptions Defaults => new() { ClipGradient = 100 };

    protected override Tensor Penalty(int task)
    {
        if (task == 0 || State.Fisher is null || State.OldParameters is null) return base.Penalty(task);
        var sum = zeros(1, device: Device).squeeze();
        foreach (var (name, p) in Model.named_parameters())
            sum = sum + (State.Fisher[name] * (State.OldParameters[name] - p).square()).sum();
        return sum * (Settings.Lambda / 2);
    }

    /// <summary>
    /// After the best model is restored: remember it, and merge this task's Fisher diagonal (computed with the
    /// same objective, whose penalty has zero gradient at the anchor) into the running one.
    /// </summary>
    protected override void FinishTask(int task, TaskData data)
    {
        ParameterSet.DisposeAll(State.OldParameters);
        State.OldParameters = Model.CopyParameters();
        var fresh = FisherDiagonal.Compute(Model, data.Train, Device, (x, y) => Compute(new Batch(task, x, y, ones(x.shape[0], device: Device))).Loss);
        State.Fisher = Settings.Merge == FisherMerge.Mean
            ? FisherDiagonal.MergeMean(State.Fisher, fresh, task)
            : FisherDiagonal.MergeSum(State.Fisher, fresh);
    }

    /// <summary>The penalty at the end of each epoch, as a scalar of the epoch.</summary>
    protected override void FinishEpoch(int task, int epoch, TaskData data) => ReportPenalty("ewc/penalty", task);

    protected override void SaveState(StateDict state) =>
        state.Set("old_parameters", State.OldParameters).Set("fisher", State.Fisher);

    protected override void LoadState(StateDict state)
    {
        State.OldParameters = state.Tensors("old_parameters", Device);
        State.Fisher = state.Tensors("fisher", Device);
    }

    /// <summary>EWC's state for use outside Retain: the merged Fisher diagonal (<c>fisher</c>) and the anchor (<c>old_parameters</c>), by parameter; both empty before the first task ends.</summary>
    public ApproachState ExportState(int tasksTrained)
    {
        var state = new ApproachState();
        state.Groups["fisher"] = Copy(State.Fisher) ?? [];
        state.Groups["old_parameters"] = Copy(State.OldParameters) ?? [];
        return state;
    }

    public void ImportState(ApproachState state)
    {
        ParameterSet.DisposeAll(State.OldParameters);
        ParameterSet.DisposeAll(State.Fisher);
        State.Fisher = Copy(state.Groups.GetValueOrDefault("fisher") is { Count: > 0 } fisher ? fisher : null, Device);
        State.OldParameters = Copy(state.Groups.GetValueOrDefault("old_parameters") is { Count: > 0 } old ? old : null, Device);
    }

    private static Dictionary<string, Tensor>? Copy(Dictionary<string, Tensor>? tensors, Device? device = null) =>
        tensors?.ToDictionary(kv => kv.Key, kv => kv.Value.detach().to(device ?? kv.Value.device, copy: true));

    public override void Dispose()
    {
        ParameterSet.DisposeAll(State.OldParameters);
        ParameterSet.DisposeAll(State.Fisher);
        base.Dispose();
    }
}

/// <summary>ewc: any backbone, gradients clipped at 100 (<see cref="Ewc.Defaults"/>).</summary>
public sealed class EwcSpec : PlainApproachSpec<EwcOptions>
{
    public override TrainingOptions TrainingDefaults(BackboneArchitecture backbone, EwcOptions options) => Ewc.Defaults;

    public override Approach Create(ApproachContext context, EwcOptions options) => new Ewc(context, options);
}
