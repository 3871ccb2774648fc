using Retain.Training;
using static TorchSharp.torch;

namespace Retain.Approaches;

public record DerOptions : ReplayOptions
{
    [Option("alpha", "Weight α of the squared distance between the logits of replayed samples and the logits stored with them (Buzzega et al. 2020, eq. 4).")]
    public double Alpha { get; init; } = 0.5;

    public override void Validate()
    {
        base.Validate();
        OptionValues.RequireNotNegative("--alpha", Alpha);
    }
}

/// <summary>Replayed samples' current logits, and the logits stored with them (each row's first <see cref="Outputs"/> are its own).</summary>
internal sealed record DarkReplay(Tensor Logits, Tensor Stored, Tensor Outputs);

/// <summary>
/// Dark Experience Replay (Buzzega et al., "Dark Experience for General Continual Learning: a Strong, Simple
/// Baseline", NeurIPS 2020). The memory, filled by reservoir sampling, keeps with each sample the logits z the network
/// gave it when it was stored, sampled along the optimisation trajectory; replay matches the current logits to them
/// (the dark knowledge of the past network) instead of to the labels:
/// <code>
/// L = CE(f(x), y) on the current batch + α · mean over (x', z') in M of ‖f(x') − z'‖²     (eq. 4)
/// </code>
/// The logits stored are the network's whole output: its task's head in task-IL, and in domain- and class-IL every
/// output of the shared head, those of classes not seen yet included (the reference implementation's head covers
/// every class from the start). Matching them keeps a replayed sample's logits for later classes where they were, so
/// it does not drift towards the classes trained since. Every training step offers its batch to the memory, with the
/// logits of the step.
/// </summary>
public class Der(ApproachContext context, DerOptions options) : ReplayApproach(context, options, storesLogits: true)
{
    /// <summary>The whole output of the batch in training, stored with it after the step.</summary>
    private Tensor? _logits;

    protected override (Tensor Loss, Tensor Logits) Compute(Batch batch)
    {
        // Evaluation reports the task's own objective; only training replays.
        if (!Model.training) return base.Compute(batch);
        var whole = Model.Forward(batch.X, batch.TaskIds, WholeOutput(batch.Task));
        var logits = whole.shape[1] == Model.ClassCount(batch.Task) ? whole : whole.narrow(1, 0, Model.ClassCount(batch.Task));
        _logits = whole.detach();
        DarkReplay? dark = null;
        if (Buffer.Draw(ReplayBatch) is { } replayed)
        {
            dark = new DarkReplay(Model.Forward(replayed.X, replayed.Tasks, WholeOutput(batch.Task)), replayed.Logits!, replayed.Outputs!);
            using var _ = no_grad();
            AccumulateScalar("der/logit-distance", LogitDistance(dark.Logits, dark.Stored, dark.Outputs).item<float>(), replayed.X.shape[0]);
        }
        return (Objective(batch, logits, dark) + Penalty(batch.Task), logits);
    }

    /// <summary>The objective of a training step on <paramref name="batch"/> (its <paramref name="logits"/>) with <paramref name="dark"/> replayed.</summary>
    private protected virtual Tensor Objective(Batch batch, Tensor logits, DarkReplay? dark) => Objective(logits, batch.Y, dark, options.Alpha);

    /// <summary>DER's objective (eq. 4): the cross-entropy of the current batch plus α times the logit distance of the replayed one (none while the memory is empty).</summary>
    internal static Tensor Objective(Tensor logits, Tensor labels, DarkReplay? dark, double alpha)
    {
        var loss = nn.functional.cross_entropy(logits, labels);
        return dark is null ? loss : loss + alpha * LogitDistance(dark.Logits, dark.Stored, dark.Outputs);
    }

    /// <summary>The task whose outputs are the network's whole output: the last task's on a shared head (every class), else the task's own head.</summary>
    protected int WholeOutput(int task) => Model.Heads.Shared ? Model.TaskCount - 1 : task;

    protected override void TrainStep(Batch batch)
    {
        base.TrainStep(batch);
        Offer(batch, _logits);
    }

    /// <summary>
    /// DER's term: the squared distance between <paramref name="current"/> and <paramref name="stored"/> logits,
    /// averaged over every output a sample had when stored (row i's first <paramref name="outputs"/>[i]; the columns
    /// after them, a wider head's in a mixed-task batch, are not compared).
    /// </summary>
    public static Tensor LogitDistance(Tensor current, Tensor stored, Tensor outputs)
    {
        var width = current.shape[1];
        var compared = arange(width, device: current.device).unsqueeze(0).lt(outputs.unsqueeze(1));    // B x width
        var target = stored.narrow(1, 0, width);
        // The current logits of columns not compared may be -inf (a narrower head in a mixed-task batch): they are
        // replaced by the target before any arithmetic, so they add neither to the loss nor to its gradient.
        var difference = where(compared, current, target) - target;
        return difference.square().sum() / compared.sum();
    }
}

/// <summary>der: any backbone, the base loop's defaults.</summary>
public sealed class DerSpec : PlainApproachSpec<DerOptions>
{
    public override Approach Create(ApproachContext context, DerOptions options) => new Der(context, options);
}
