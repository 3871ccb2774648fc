using Retain.Data;
using Retain.Training;
using static TorchSharp.torch;

namespace Retain.Approaches;

public sealed record ImmMeanOptions : IValidatedOptions
{
    [Option("regularizer", "Weight of the L2 pull towards the previous merged model while a task trains (weight transfer; the seed's grid: 0.01 to 1e-6).")]
    public double Regularizer { get; init; } = 1e-4;

    public void Validate() => OptionValues.RequireNotNegative("--regularizer", Regularizer);
}

/// <summary>
/// Mean Incremental Moment Matching (Lee et al., 2017). Each task is trained starting from, and held near, the model
/// merged so far; afterwards the merged model becomes the equal-weight mean of all task solutions:
/// <code>
/// L = CE + reg · ½ Σ (θ_old − θ)²                      (t &gt; 0; L2 transfer)
/// after task t &gt; 0:  θ ← (θ + t · θ_old) / (t + 1)     (θ_old holds the mean of tasks 0..t-1)
/// θ_old ← θ
/// </code>
/// The next task starts from the merged model. The seed also accepted an <c>alpha</c> (0.7) that it never used; it is
/// not an option here.
/// </summary>
public sealed class ImmMean : Approach
{
    private readonly ImmMeanOptions _options;
    /// <summary>θ_old: the merged model after the previous task, by parameter name (null while task 0 trains).</summary>
    private Dictionary<string, Tensor>? _old;

    public ImmMean(ApproachContext context, ImmMeanOptions options) : base(context) => _options = options;

    protected override Tensor Penalty(int task)
    {
        if (_old is null) return base.Penalty(task);
        return _options.Regularizer * ParameterSet.HalfSquaredDistance(Model, _old);
    }

    protected override void FinishTask(int task, TaskData data)
    {
        if (_old is not null && task > 0)
        {
            using var _ = no_grad();
            foreach (var (name, p) in Model.named_parameters())
                p.add_(_old[name], alpha: task).div_(task + 1);
        }
        ParameterSet.DisposeAll(_old);
        _old = Model.CopyParameters();
    }

    protected override void SaveState(StateDict state) => state.Set("old", _old);

    protected override void LoadState(StateDict state)
    {
        _old = state.Tensors("old", Device);
    }

    public override void Dispose()
    {
        ParameterSet.DisposeAll(_old);
        base.Dispose();
    }
}

/// <summary>imm-mean: any backbone, the base loop's defaults.</summary>
public sealed class ImmMeanSpec : PlainApproachSpec<ImmMeanOptions>
{
    public override Approach Create(ApproachContext context, ImmMeanOptions options) => new ImmMean(context, options);
}
