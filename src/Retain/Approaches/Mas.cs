using Retain.Data;
using Retain.Networks;
using Retain.Training;
using static TorchSharp.torch;

namespace Retain.Approaches;

public sealed record MasOptions : IValidatedOptions
{
    [Option("lamb", "Strength λ of the penalty λ Σ_ij Ω_ij (θ_ij − θ*_ij)² (Aljundi et al. 2018, eq. 3; the paper's λ = 1 was for its networks and data: see docs/defaults.md).")]
    public double Lambda { get; init; } = 1;

    [Option("importance-batch", "Samples per gradient of the importance pass: Ω = Σ_batches |∂ Σ_k∈batch ‖F(x_k)‖² / ∂θ| / N. 1 is the paper's per-sample Ω = 1/N Σ_k |∂‖F(x_k)‖²/∂θ| (eq. 4), one backward pass per training sample (minutes per mnist task); the default, the seed's training batch, is the authors' code: smaller where samples' gradients disagree in sign (docs/baselines.md).")]
    public int ImportanceBatch { get; init; } = 64;

    public void Validate()
    {
        OptionValues.RequireNotNegative("--lamb", Lambda);
        OptionValues.RequireAtLeast("--importance-batch", ImportanceBatch, 1);
    }
}

/// <summary>What MAS carries from task to task, by parameter name.</summary>
public sealed class MasState : IDisposable
{
    /// <summary>θ*: the parameters at the end of the previous task.</summary>
    public Dictionary<string, Tensor>? Anchor { get; set; }
    /// <summary>Ω: the importance accumulated over the finished tasks.</summary>
    public Dictionary<string, Tensor>? Importance { get; set; }

    public void Dispose()
    {
        ParameterSet.DisposeAll(Anchor);
        ParameterSet.DisposeAll(Importance);
        (Anchor, Importance) = (null, null);
    }
}

/// <summary>
/// Memory Aware Synapses (Aljundi, Babiloni, Elhoseiny, Rohrbach and Tuytelaars, ECCV 2018). A parameter matters as
/// much as the learned function F (the task's head output, the logits) is sensitive to it, measured without labels on
/// the task's data (eq. 2-4):
/// <code>
/// Ω_ij = 1/N Σ_k | ∂ ‖F(x_k; θ)‖₂² / ∂θ_ij |
/// </code>
/// computed after each task (best parameters restored, network in eval mode, on the task's training inputs) and added
/// to the importance of the earlier tasks. Later tasks train with <c>CE + λ Σ_ij Ω_ij (θ_ij − θ*_ij)²</c> (eq. 3), θ* the
/// parameters at the end of the previous task; heads included, as ewc.
/// </summary>
public sealed class Mas(ApproachContext context, MasOptions options) : Approach(context)
{
    public MasOptions Settings { get; } = options;
    public MasState State { get; } = new();

    /// <summary>The penalty <c>λ Σ Ω (θ − θ*)²</c> (zero until a task has finished).</summary>
    protected override Tensor Penalty(int task) =>
        State.Importance is null || State.Anchor is null
            ? base.Penalty(task)
            : ParameterSet.WeightedSquaredDistance(Model, State.Importance, State.Anchor) * Settings.Lambda;

    /// <summary>The penalty at the end of each epoch, as a scalar of the epoch.</summary>
    protected override void FinishEpoch(int task, int epoch, TaskData data) => ReportPenalty("mas/penalty", task);

    /// <summary>After the best model is restored: θ* is this task's solution, and the task's Ω joins the importance.</summary>
    protected override void FinishTask(int task, TaskData data)
    {
        var fresh = Importance(Model, task, data.Train, Device, Settings.ImportanceBatch);
        if (State.Importance is { } earlier)
        {
            foreach (var (name, omega) in fresh) omega.add_(earlier[name]);
            ParameterSet.DisposeAll(earlier);
        }
        State.Importance = fresh;
        ParameterSet.DisposeAll(State.Anchor);
        State.Anchor = Model.CopyParameters();
    }

    /// <summary>
    /// Eq. 4 on <paramref name="data"/> through task <paramref name="task"/>'s head: for each batch of
    /// <paramref name="batchSize"/> samples the gradient of <c>Σ_k ‖F(x_k)‖₂²</c>, its absolute value summed over the
    /// batches, over N samples. With batches of one, exactly <c>1/N Σ_k |∂‖F(x_k)‖²/∂θ|</c>.
    /// <para>
    /// The gradient buffers are zeroed in place between batches and their absolute value taken in place, so a batch
    /// allocates no parameter-sized tensor beyond backward's own: with a fresh gradient and a fresh |g| for every sample,
    /// glibc's heap fragmented until the process held gigabytes it no longer used, although no tensor was alive
    /// (measured in docs/baselines.md).
    /// </para>
    /// </summary>
    public static Dictionary<string, Tensor> Importance(MultiHeadNetwork model, int task, Split data, Device device, int batchSize)
    {
        var parameters = model.named_parameters().ToArray();
        var importance = parameters.ToDictionary(p => p.name, p => zeros(p.parameter.shape, p.parameter.dtype, p.parameter.device));
        var wasTraining = model.training;
        model.eval();
        model.zero_grad();
        foreach (var batch in data.Batches(batchSize, device))
        {
            using var scope = NewDisposeScope();
            using (no_grad())
                foreach (var (_, p) in parameters) p.grad?.zero_();
            model.Forward(batch.X, task).square().sum().backward();
            using var _ = no_grad();
            foreach (var (name, p) in parameters)
                if (p.grad is { } g) importance[name].add_(g.abs_());
        }
        model.zero_grad();
        model.train(wasTraining);
        foreach (var omega in importance.Values) omega.div_(data.Count);
        return importance;
    }

    protected override void SaveState(StateDict state) => state.Set("anchor", State.Anchor).Set("importance", State.Importance);

    protected override void LoadState(StateDict state)
    {
        State.Dispose();
        State.Anchor = state.Tensors("anchor", Device);
        State.Importance = state.Tensors("importance", Device);
    }

    public override void Dispose()
    {
        State.Dispose();
        base.Dispose();
    }
}

/// <summary>mas: any backbone; its λ calibrated per backbone on validation data (docs/defaults.md).</summary>
public sealed class MasSpec : PlainApproachSpec<MasOptions>
{
    public override Approach Create(ApproachContext context, MasOptions options) => new Mas(context, options);
}
