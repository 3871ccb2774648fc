using Retain.Data;
using Retain.Networks;
using Retain.Training;
using static TorchSharp.torch;

namespace Retain.Approaches;

public sealed record ImmModeOptions : IValidatedOptions
{
    [Option("lamb", "Weight λ of the L2 pull towards the previous merged model while a task trains (the seed's grid: 10 to 1e-5).")]
    public double Lamb { get; init; } = 0.01;

    public void Validate() => OptionValues.RequireNotNegative("--lamb", Lamb);
}

/// <summary>
/// Mode Incremental Moment Matching (Lee et al., 2017). Like mean-IMM each task trains near the model merged so far,
/// but the merge weighs every parameter by how much each side's data constrain it (the Fisher diagonal), so the
/// merged model sits near the mode of the product of the tasks' Gaussian posteriors:
/// <code>
/// L = CE + λ · ½ Σ (θ − θ_old)²                                    (t &gt; 0)
/// after task t:  F_new = Fisher diagonal of L on the task's training set
///   t = 0:  F = F_new
///   t &gt; 0:  θ ← (F_new ⊙ θ + F ⊙ θ_old) / (F + F_new),   F ← F + F_new
/// θ_old ← θ
/// </code>
/// Corrections of the seed: the merge is applied (the seed only rebound a local name, so it behaved as SGD with an L2
/// pull), and where F + F_new is 0 neither side says anything about the weight and θ keeps its value (the seed's
/// denominator 1 there would set it to 0, e.g. the untouched heads of later tasks).
/// </summary>
public sealed class ImmMode : Approach
{
    private readonly ImmModeOptions _options;
    /// <summary>θ_old: the merged model after the previous task, by parameter name (null while task 0 trains).</summary>
    private Dictionary<string, Tensor>? _old;
    /// <summary>F: the Fisher diagonals of all tasks so far, summed, by parameter name.</summary>
    private Dictionary<string, Tensor>? _fisher;

    public ImmMode(ApproachContext context, ImmModeOptions options) : base(context) => _options = options;

    protected override Tensor Penalty(int task)
    {
        if (_old is null) return base.Penalty(task);
        return _options.Lamb * ParameterSet.HalfSquaredDistance(Model, _old);
    }

    protected override void FinishTask(int task, TaskData data)
    {
        var fresh = FisherDiagonal.Compute(Model, data.Train, Device,
            (x, y) => Compute(new Batch(task, x, y, ones(x.shape[0], device: Device))).Loss);
        if (_fisher is null || _old is null)
        {
            ParameterSet.DisposeAll(_fisher);
            _fisher = fresh;
        }
        else
        {
            using (no_grad())
            {
                foreach (var (name, p) in Model.named_parameters())
                {
                    using var merged = Merge(p, _old[name], _fisher[name], fresh[name]);
                    p.copy_(merged);
                    _fisher[name].add_(fresh[name]);
                }
            }
            ParameterSet.DisposeAll(fresh);
        }
        ParameterSet.DisposeAll(_old);
        _old = Model.CopyParameters();
    }

    /// <summary>
    /// The Fisher-weighted mean of the newly trained <paramref name="current"/> (weight <paramref name="freshFisher"/>)
    /// and the previous merged <paramref name="old"/> (weight <paramref name="fisher"/>); <paramref name="current"/>
    /// where both weights are 0.
    /// </summary>
    public static Tensor Merge(Tensor current, Tensor old, Tensor fisher, Tensor freshFisher)
    {
        using var scope = NewDisposeScope();
        var total = fisher + freshFisher;
        var informed = total > 0;
        var mean = (freshFisher * current + fisher * old) / where(informed, total, ones_like(total));
        return where(informed, mean, current).MoveToOuterDisposeScope();
    }

    protected override void SaveState(StateDict state) => state.Set("old", _old).Set("fisher", _fisher);

    protected override void LoadState(StateDict state)
    {
        _old = state.Tensors("old", Device);
        _fisher = state.Tensors("fisher", Device);
    }

    public override void Dispose()
    {
        ParameterSet.DisposeAll(_old);
        ParameterSet.DisposeAll(_fisher);
        base.Dispose();
    }
}

/// <summary>imm-mode: any backbone, gradients clipped at 1000.</summary>
public sealed class ImmModeSpec : PlainApproachSpec<ImmModeOptions>
{
    public override TrainingOptions TrainingDefaults(BackboneArchitecture backbone, ImmModeOptions options) => new() { ClipGradient = 1000 };

    public override Approach Create(ApproachContext context, ImmModeOptions options) => new ImmMode(context, options);
}
