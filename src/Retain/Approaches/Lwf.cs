using Retain.Networks;
using Retain.Training;
using static TorchSharp.torch;

namespace Retain.Approaches;

public sealed record LwfOptions : IValidatedOptions
{
    [Option("lamb", "Weight λ of the distillation term that keeps earlier tasks' heads answering as before (the seed's grid: 0.1 to 10).")]
    public double Lamb { get; init; } = 2;

    [Option("temperature", "Distillation temperature T (the seed's T): old and new answers are compared as softmax(logits / T) (the seed's grid: 0.5 to 4).")]
    public double Temperature { get; init; } = 1;

    public void Validate()
    {
        OptionValues.RequireNotNegative("--lamb", Lamb);
        OptionValues.RequirePositive("--temperature", Temperature);
    }
}

/// <summary>
/// Learning without Forgetting (Li and Hoiem, 2016). No data of earlier tasks is kept; instead, while task t trains,
/// the heads of the earlier tasks are asked to keep giving, on task t's own inputs, the answers the model gave before
/// task t started:
/// <code>
/// L = CE(head_t(x; θ), y) + λ Σ_{k&lt;t} KD(head_k(x; θ), head_k(x; θ_old))
/// KD(o, q) = mean_b Σ_c −p_c log r_c,   p = softmax(q / T),   r = renorm(softmax(o / T) + ε / K)
/// </code>
/// with ε = 1e-5 and K the head's classes (the seed raises softmax outputs to 1/T and renormalises, which is the same
/// thing). θ_old is a frozen copy of the model taken after each task; it answers in eval mode, the model trains in
/// train mode. As in the seed, the new head gets no warm-up.
/// </summary>
public sealed class Lwf : Approach
{
    private const double Epsilon = 1e-5;
    private readonly LwfOptions _options;
    /// <summary>θ_old: the model as it was after the previous task (null while task 0 trains).</summary>
    private MultiHeadNetwork? _old;

    public Lwf(ApproachContext context, LwfOptions options) : base(context) => _options = options;

    protected override (Tensor Loss, Tensor Logits) Compute(Batch batch)
    {
        var features = Model.Features(batch.X, new ForwardContext(batch.Task));
        var logits = Model.Head(batch.Task, features);
        var earlierHeads = new List<(Tensor Current, Tensor Old)>();
        if (_old is not null)
        {
            Tensor oldFeatures;
            using (no_grad()) oldFeatures = _old.Features(batch.X, new ForwardContext(batch.Task));
            foreach (var k in Model.Heads.EarlierOutputs(batch.Task))
                earlierHeads.Add((Model.Head(k, features), _old.Head(k, oldFeatures)));
        }
        return (Objective(TaskLoss(logits, batch.Y), earlierHeads, _options.Lamb, _options.Temperature), logits);
    }

    /// <summary>The task's loss (CE by default) plus λ times the distillation of every earlier head towards θ_old's answers.</summary>
    public static Tensor Objective(Tensor taskLoss, IEnumerable<(Tensor Current, Tensor Old)> earlierHeads, double lamb, double temperature)
    {
        var loss = taskLoss;
        foreach (var (current, old) in earlierHeads)
            loss = loss + lamb * Distillation(current, old, temperature);
        return loss;
    }

    /// <summary>KD(o, q): the cross-entropy of softened current answers against softened old answers, batch mean.</summary>
    public static Tensor Distillation(Tensor logits, Tensor oldLogits, double temperature)
    {
        var target = nn.functional.softmax(oldLogits / temperature, 1);
        // The ε / K floor keeps the logarithm finite where the current model is certain.
        var output = nn.functional.softmax(logits / temperature, 1) + Epsilon / logits.shape[1];
        output = output / output.sum(1, keepdim: true);
        return -(target * output.log()).sum(1).mean();
    }

    protected override void FinishTask(int task, Data.TaskData data) => _old = FrozenCopy.Refresh(_old, Model, Context);

    protected override void SaveState(StateDict state) => state.Set("old_model", FrozenCopy.Parameters(_old));

    protected override void LoadState(StateDict state) => _old = FrozenCopy.Restore(state, "old_model", Context);

    public override void Dispose()
    {
        _old?.Dispose();
        base.Dispose();
    }
}

/// <summary>lwf: any backbone, gradients clipped at 100.</summary>
public sealed class LwfSpec : PlainApproachSpec<LwfOptions>
{
    public override TrainingOptions TrainingDefaults(BackboneArchitecture backbone, LwfOptions options) => new() { ClipGradient = 100 };

    public override Approach Create(ApproachContext context, LwfOptions options) => new Lwf(context, options);
}
