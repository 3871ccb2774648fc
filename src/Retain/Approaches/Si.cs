using Retain.Data;
using Retain.Networks;
using Retain.Training;
using static TorchSharp.torch;

namespace Retain.Approaches;

public sealed record SiOptions : IValidatedOptions
{
    [Option("lamb", "Strength c of the surrogate loss c Σ_k Ω_k (θ̃_k − θ_k)² (Zenke et al. 2017, eq. 4; the paper's c = 0.1 was for Adam, and it does not carry over to this loop's SGD: see docs/defaults.md).")]
    public double Lambda { get; init; } = 1;

    [Option("xi", "Damping ξ of Ω_k = Σ_μ ω_k^μ / ((Δ_k^μ)² + ξ) (eq. 5): bounds the importance of a parameter that barely moved over a task (the paper: 1e-3 on split MNIST, 0.1 on permuted MNIST).")]
    public double Xi { get; init; } = 0.1;

    public void Validate()
    {
        OptionValues.RequireNotNegative("--lamb", Lambda);
        OptionValues.RequirePositive("--xi", Xi);
    }
}

/// <summary>What SI carries from step to step and task to task, by parameter name.</summary>
public sealed class SiState : IDisposable
{
    /// <summary>θ̃: the parameters when the current task began (the end of the previous one): the anchor of the surrogate loss, and where Δ is measured from.</summary>
    public Dictionary<string, Tensor>? Start { get; set; }
    /// <summary>ω of the current task: the running path integral Σ_steps −g · δ.</summary>
    public Dictionary<string, Tensor>? PathIntegral { get; set; }
    /// <summary>Ω: the importance consolidated from every finished task.</summary>
    public Dictionary<string, Tensor>? Importance { get; set; }

    public void Dispose()
    {
        ParameterSet.DisposeAll(Start);
        ParameterSet.DisposeAll(PathIntegral);
        ParameterSet.DisposeAll(Importance);
        (Start, PathIntegral, Importance) = (null, null, null);
    }
}

/// <summary>
/// Synaptic Intelligence (Zenke, Poole and Ganguli, ICML 2017). While a task μ trains, every parameter k accumulates its
/// share of the drop in the task's loss along the path the parameters take (eq. 2-3):
/// <code>
/// ω_k^μ = Σ_steps −g_k(t) · δ_k(t)
/// </code>
/// with g the gradient of the task's own loss (the cross-entropy, without the surrogate term, as the authors' code) and
/// δ the step's actual change of the parameter (after clipping). When the task ends, ω is normalised by how far the
/// parameter travelled over the task, Δ_k^μ = θ_k(end of μ) − θ_k(start of μ), and added to the importance (eq. 5):
/// <code>
/// Ω_k ← max(0, Ω_k + ω_k^μ / ((Δ_k^μ)² + ξ))
/// </code>
/// (the authors' code clips at 0: a parameter whose moves raised the loss is not important). Later tasks train with
/// the surrogate loss (eq. 4) <c>CE + c Σ_k Ω_k (θ̃_k − θ_k)²</c>, θ̃ the parameters at the end of the previous task;
/// heads included, as ewc. ω sums every step of the task, also those after the epoch whose parameters the base loop
/// restores at its end (the path integral is not rewound), and Δ is measured to the restored parameters.
/// </summary>
public sealed class Si(ApproachContext context, SiOptions options) : Approach(context)
{
    public SiOptions Settings { get; } = options;
    public SiState State { get; } = new();

    /// <summary>Within one training step: each parameter's task-loss gradient and its value before the update.</summary>
    private readonly Dictionary<string, (Tensor Gradient, Tensor Before)> _step = [];

    /// <summary>The surrogate loss <c>c Σ_k Ω_k (θ̃_k − θ_k)²</c> (zero until a task has finished).</summary>
    protected override Tensor Penalty(int task) =>
        State.Importance is null || State.Start is null
            ? base.Penalty(task)
            : ParameterSet.WeightedSquaredDistance(Model, State.Importance, State.Start) * Settings.Lambda;

    /// <summary>θ̃ is where the task starts; its path integral starts at zero.</summary>
    protected override void PrepareTask(int task, TaskData data)
    {
        ParameterSet.DisposeAll(State.Start);
        ParameterSet.DisposeAll(State.PathIntegral);
        State.Start = Model.CopyParameters();
        State.PathIntegral = State.Start.ToDictionary(kv => kv.Key, kv => zeros_like(kv.Value));
    }

    /// <summary>
    /// After backward (before clipping): keeps g, the gradient of the cross-entropy alone (the surrogate term's gradient,
    /// <c>2 c Ω (θ − θ̃)</c>, taken out of the total), and each parameter's value before the step.
    /// </summary>
    protected override void AdjustGradients(int task)
    {
        using var _ = no_grad();
        foreach (var (name, p) in Model.named_parameters())
        {
            if (p.grad is not { } grad) continue;
            var before = p.detach().clone();
            var gradient = grad.clone();
            if (State.Importance is not null)
                gradient.addcmul_(State.Importance[name], before - State.Start![name], value: -2 * Settings.Lambda);
            _step[name] = (gradient, before);
        }
    }

    /// <summary>ω_k += −g_k · δ_k for the step just taken.</summary>
    protected override void AfterStep(int task)
    {
        using var _ = no_grad();
        foreach (var (name, p) in Model.named_parameters())
            if (_step.TryGetValue(name, out var step))
                State.PathIntegral![name].addcmul_(step.Gradient, step.Before.sub_(p), 1); // before − after = −δ
        // The step's tensors belong to the step's dispose scope.
        _step.Clear();
    }

    /// <summary>The surrogate loss at the end of each epoch, as a scalar of the epoch.</summary>
    protected override void FinishEpoch(int task, int epoch, TaskData data) => ReportPenalty("si/penalty", task);

    /// <summary>Ω ← max(0, Ω + ω / (Δ² + ξ)) with Δ from the task's start to the parameters it ends with.</summary>
    protected override void FinishTask(int task, TaskData data)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var importance = Model.named_parameters().ToDictionary(p => p.name, p =>
            Consolidate(State.Importance?[p.name], State.PathIntegral![p.name], p.parameter - State.Start![p.name], Settings.Xi).DetachFromDisposeScope());
        ParameterSet.DisposeAll(State.Importance);
        State.Importance = importance;
    }

    /// <summary>
    /// Eq. 5 with the authors' clipping: <c>max(0, Ω + ω / (Δ² + ξ))</c>, from the importance so far (null before the
    /// first task), a task's path integral ω and the parameter's change Δ over the task.
    /// </summary>
    public static Tensor Consolidate(Tensor? importance, Tensor pathIntegral, Tensor delta, double xi)
    {
        var fresh = pathIntegral / (delta.square() + xi);
        return (importance is null ? fresh : importance + fresh).clamp_min(0);
    }

    protected override void SaveState(StateDict state) =>
        state.Set("start", State.Start).Set("path_integral", State.PathIntegral).Set("importance", State.Importance);

    protected override void LoadState(StateDict state)
    {
        State.Dispose();
        State.Start = state.Tensors("start", Device);
        State.PathIntegral = state.Tensors("path_integral", Device);
        State.Importance = state.Tensors("importance", Device);
    }

    public override void Dispose()
    {
        State.Dispose();
        base.Dispose();
    }
}

/// <summary>si: any backbone; its c calibrated per backbone on validation data (docs/defaults.md).</summary>
public sealed class SiSpec : PlainApproachSpec<SiOptions>
{
    public override Approach Create(ApproachContext context, SiOptions options) => new Si(context, options);
}
