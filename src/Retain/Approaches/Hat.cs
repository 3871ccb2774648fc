using Retain.Data;
using Retain.Interop;
using Retain.Networks;
using Retain.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Retain.Approaches;

/// <summary>HAT's own options (docs/hat.md; the HAT paper searched lamb in 0.1..4 and smax in 25..800).</summary>
public sealed record HatOptions : IValidatedOptions
{
    [Option("lamb", "Weight c of the attention regulariser: how strongly a task is pushed to use few units not used by earlier tasks.")]
    public double Lamb { get; init; } = 0.75;

    [Option("smax", "Largest gate sharpness s: gates are sigmoid(s e), annealed from 1/smax to smax within each epoch; tested at smax.")]
    public double Smax { get; init; } = 400;

    [Option("thres-cosh", "Clamp of s e inside the cosh of the embedding-gradient compensation (keeps it finite).")]
    public double ThresCosh { get; init; } = 50;

    [Option("thres-emb", "Task embeddings are clamped to [-thres-emb, thres-emb] after every step.")]
    public double ThresEmb { get; init; } = 6;

    public void Validate()
    {
        OptionValues.RequireNotNegative("--lamb", Lamb);
        OptionValues.RequireAtLeast("--smax", Smax, 1);
        OptionValues.RequirePositive("--thres-cosh", ThresCosh);
        OptionValues.RequirePositive("--thres-emb", ThresEmb);
    }
}

/// <summary>
/// What HAT remembers between tasks, by name: the seed's <c>mask_pre</c> (<see cref="CumulativeMasks"/>, per gated
/// layer: the element-wise maximum over finished tasks of their unit gates at s = smax) and <c>mask_back</c>
/// (<see cref="GradientMasks"/>, per backbone parameter with a weight-mask view: 1 − view(mask_pre), the share of its
/// gradient a new task may still apply).
/// </summary>
public sealed class HatState : IDisposable
{
    public Dictionary<string, Tensor> CumulativeMasks { get; } = [];
    public Dictionary<string, Tensor> GradientMasks { get; } = [];

    public void Dispose()
    {
        ParameterSet.DisposeAll(CumulativeMasks);
        ParameterSet.DisposeAll(GradientMasks);
        CumulativeMasks.Clear();
        GradientMasks.Clear();
    }
}

/// <summary>
/// Hard Attention to the Task (Serrà et al., ICML 2018). Each task t learns, together with the weights, an embedding
/// per layer whose sigmoid gates the layer's units: <c>g_l = sigmoid(s e_l[t])</c> (<see cref="HatUnitGates"/>).
/// <list type="number">
/// <item>Within each epoch the gate sharpness s is annealed from 1/smax towards smax, so gates start soft and end
/// nearly binary; evaluation uses s = smax.</item>
/// <item>The loss adds <c>lamb · reg</c>, the mean gate over units that earlier tasks have not taken: a task is
/// pushed to claim few new units.</item>
/// <item>After backward, the gradient of every weight is multiplied by 1 − (how much earlier tasks use it), so what
/// earlier tasks rely on does not change.</item>
/// <item>The embeddings' gradients are rescaled to undo the annealing's effect on their size, and the embeddings
/// are clamped after each step.</item>
/// <item>After a task (best model restored), its gates at s = smax join the cumulative masks.</item>
/// </list>
/// </summary>
public class Hat : Approach, IPortableState
{
    public Hat(ApproachContext context, HatOptions options, HatUnitGates unitGates) : base(context)
    {
        Settings = options;
        UnitGates = unitGates;
    }

    public HatOptions Settings { get; }
    public HatUnitGates UnitGates { get; }
    public HatState State { get; } = new();

    /// <summary>The gate sharpness s of the training batch being processed.</summary>
    public double Scale { get; private set; } = 1;

    /// <summary>The gate sharpness of evaluation: smax.</summary>
    protected virtual double EvaluationScale => Settings.Smax;

    /// <summary>
    /// The seed's annealing, per batch starting at sample <paramref name="offset"/> of an epoch of
    /// <paramref name="epochSize"/> samples: <c>s = (smax − 1/smax) · i / N + 1/smax</c>. The first batch gets 1/smax;
    /// because i is the batch's first sample, the last batch stays just below smax.
    /// </summary>
    public static double AnnealedScale(double smax, int offset, int epochSize) =>
        (smax - 1 / smax) * offset / epochSize + 1 / smax;

    /// <summary>
    /// <c>reg = Σ_l Σ g_l (1 − mp_l) / Σ_l Σ (1 − mp_l)</c> over the cumulative masks mp of earlier tasks, or the plain
    /// mean gate <c>Σ_l Σ g_l / Σ_l numel(g_l)</c> before any task has finished. Units earlier tasks use are free.
    /// </summary>
    public static Tensor Regulariser(IReadOnlyDictionary<string, Tensor> gates, IReadOnlyDictionary<string, Tensor> cumulativeMasks)
    {
        Tensor sum = zeros(1, dtype: ScalarType.Float32, device: gates.Values.First().device).squeeze(), count = zeros_like(sum);
        foreach (var (layer, gate) in gates)
        {
            var free = cumulativeMasks.Count == 0 ? ones_like(gate) : 1 - cumulativeMasks[layer];
            sum += (gate * free).sum();
            count += free.sum();
        }
        // Only when earlier tasks took every unit: nothing is left to regularise (the seed divides 0 by 0).
        return sum / count.clamp_min(1e-12);
    }

    /// <summary>
    /// The factor applied to an embedding's gradient at sharpness s:
    /// <c>(smax / s) · (cosh(clamp(s e, ±thres_cosh)) + 1) / (cosh(e) + 1)</c>. It makes the gradient of e under the
    /// annealed gate about that of a gate at s = 1, scaled by smax, so embeddings learn at a usable rate at every s.
    /// </summary>
    public static Tensor EmbeddingGradientFactor(Tensor embedding, double scale, double smax, double thresCosh) =>
        smax / scale * (cosh(clamp(scale * embedding, -thresCosh, thresCosh)) + 1) / (cosh(embedding) + 1);

    /// <summary>s follows from the batch's offset in the epoch (its index in the loop's batch order).</summary>
    protected override void TrainStep(Batch batch)
    {
        Scale = AnnealedScale(Settings.Smax, Current!.NextBatch * Options.BatchSize, Current.Order!.Length);
        base.TrainStep(batch);
    }

    /// <summary>Cross-entropy plus <c>lamb · reg</c>, with gates at the batch's s (training) or the evaluation s.</summary>
    protected override (Tensor Loss, Tensor Logits) Compute(Batch batch)
    {
        var hat = new HatForwardState { Scale = Model.training ? Scale : EvaluationScale };
        var logits = Model.Forward(batch.X, new ForwardContext(batch.Task).With(hat));
        var loss = TaskLoss(logits, batch.Y) + Settings.Lamb * Regulariser(hat.Gates, State.CumulativeMasks);
        return (loss, logits);
    }

    protected override Tensor EvaluationLogits(Tensor x, int task) => Model.Forward(x, new ForwardContext(task).With(new HatForwardState { Scale = EvaluationScale }));

    protected override void AdjustGradients(int task)
    {
        using var _ = no_grad();
        // What earlier tasks use must not move (the masks are empty until the first task has finished).
        foreach (var (name, parameter) in Model.Backbone.named_parameters())
            if (State.GradientMasks.TryGetValue(name, out var mask) && parameter.grad is { } grad)
                grad.mul_(mask);
        foreach (var embedding in UnitGates.Embeddings)
            embedding.grad?.mul_(EmbeddingGradientFactor(embedding, Scale, Settings.Smax, Settings.ThresCosh));
    }

    protected override void AfterStep(int task)
    {
        using var _ = no_grad();
        foreach (var embedding in UnitGates.Embeddings) embedding.clamp_(-Settings.ThresEmb, Settings.ThresEmb);
    }

    /// <summary>The share of the gated weights the task uses at the end of each epoch (gates at s = smax), as a scalar of the epoch.</summary>
    protected override void FinishEpoch(int task, int epoch, TaskData data) =>
        ReportScalar("hat/capacity_in_use", HatUnitGates.UsedWeightShare(UnitGates.UsedCapacity(task, Settings.Smax)));

    /// <summary>The finished task's gates at s = smax join the cumulative masks; the gradient masks follow from them.</summary>
    protected override void FinishTask(int task, TaskData data)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        foreach (var (layer, gate) in UnitGates.Gates(task, Settings.Smax))
        {
            var cumulative = State.CumulativeMasks.TryGetValue(layer, out var previous) ? maximum(previous, gate) : gate.clone();
            previous?.Dispose();
            State.CumulativeMasks[layer] = cumulative.DetachFromDisposeScope();
        }
        UpdateGradientMasks();
    }

    /// <summary>The gradient masks that follow from the cumulative masks: 1 − view(mask_pre) per masked parameter.</summary>
    private void UpdateGradientMasks()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        ParameterSet.DisposeAll(State.GradientMasks);
        State.GradientMasks.Clear();
        if (State.CumulativeMasks.Count == 0) return;
        foreach (var name in UnitGates.MaskedParameterNames)
            State.GradientMasks[name] = (1 - UnitGates.WeightMaskView(name, State.CumulativeMasks)!).DetachFromDisposeScope();
    }

    /// <summary>
    /// HAT's state for use outside Retain: per gated layer, <c>masks</c> (tasks trained × units) holds each task's unit
    /// gates as evaluation applies them (sigmoid(s · e) at s = <c>mask_scale</c>, smax for hat); <c>mask_pre</c> holds the
    /// cumulative masks (the seed's name), from which the gradient masks follow. The embeddings themselves are
    /// parameters of the network (<c>efc1.weight</c>, ...).
    /// </summary>
    public ApproachState ExportState(int tasksTrained)
    {
        var state = new ApproachState();
        using (var scope = NewDisposeScope())
        using (no_grad())
        {
            state.Groups["masks"] = tasksTrained == 0 ? [] : UnitGates.Layers.Select((spec, l) => (spec.Name, Gates: stack(
                    Enumerable.Range(0, tasksTrained).Select(t => UnitGates.Gate(l, t, EvaluationScale)).ToArray()).DetachFromDisposeScope()))
                .ToDictionary(p => p.Name, p => p.Gates);
            state.Groups["mask_pre"] = State.CumulativeMasks.ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone().DetachFromDisposeScope());
        }
        state.Scalars["mask_scale"] = EvaluationScale;
        return state;
    }

    /// <summary>Continues from exported cumulative masks (<c>mask_pre</c>); the gradient masks are recomputed from them.</summary>
    public void ImportState(ApproachState state)
    {
        var cumulative = state.Groups.GetValueOrDefault("mask_pre") ?? [];
        foreach (var spec in UnitGates.Layers)
            if (cumulative.Count > 0 && (!cumulative.TryGetValue(spec.Name, out var mask) || mask.numel() != spec.Outputs))
                throw new ArgumentException($"mask_pre needs a mask of {spec.Outputs} units for layer {spec.Name}", nameof(state));
        State.Dispose();
        foreach (var (layer, mask) in cumulative) State.CumulativeMasks[layer] = mask.to(Device, copy: true).view(-1);
        UpdateGradientMasks();
    }

    protected override void SaveState(StateDict state) =>
        state.Set("cumulative_masks", State.CumulativeMasks).Set("gradient_masks", State.GradientMasks);

    protected override void LoadState(StateDict state)
    {
        State.Dispose();
        foreach (var (name, mask) in state.Tensors("cumulative_masks", Device)!) State.CumulativeMasks[name] = mask;
        foreach (var (name, mask) in state.Tensors("gradient_masks", Device)!) State.GradientMasks[name] = mask;
    }

    public override void Dispose()
    {
        State.Dispose();
        base.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>hat: HAT's unit gates on every block of a backbone of layers (<see cref="HatUnitGates.CreateNetwork"/>).</summary>
public sealed class HatSpec : GatedApproachSpec<HatOptions, HatUnitGates>
{
    public override GatedNetwork<HatUnitGates> CreateNetwork(BackboneArchitecture backbone, NetworkShape shape, HatOptions options) =>
        HatUnitGates.CreateNetwork(backbone, shape.InputSize, shape.ClassCounts);

    public override Approach Create(ApproachContext context, HatOptions options, HatUnitGates gating) => new Hat(context, options, gating);
}
