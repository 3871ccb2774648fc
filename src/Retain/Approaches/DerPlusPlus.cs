using Retain.Training;
using static TorchSharp.torch;

namespace Retain.Approaches;

public sealed record DerPlusPlusOptions : DerOptions
{
    [Option("beta", "Weight β of the cross-entropy of a second batch of replayed samples with their stored labels (Buzzega et al. 2020, eq. 6).")]
    public double Beta { get; init; } = 0.5;

    public override void Validate()
    {
        base.Validate();
        OptionValues.RequireNotNegative("--beta", Beta);
    }
}

/// <summary>
/// DER++ (Buzzega et al. 2020, eq. 6): Dark Experience Replay (<see cref="Der"/>) plus the labels. A second batch
/// (x'', y'') drawn independently from the memory is also trained on its stored labels, which corrects logits stored
/// while the network was still wrong about them:
/// <code>
/// L = CE(f(x), y) + α · mean ‖f(x') − z'‖² + β · CE(f(x''), y'')
/// </code>
/// </summary>
public sealed class DerPlusPlus(ApproachContext context, DerPlusPlusOptions options) : Der(context, options)
{
    private protected override Tensor Objective(Batch batch, Tensor logits, DarkReplay? dark)
    {
        // The labelled batch is scored on the task's outputs (every class so far in class-IL), as the current batch is.
        var labelled = dark is not null && Buffer.Draw(ReplayBatch) is { } replayed
            ? (Model.Forward(replayed.X, replayed.Tasks, batch.Task), replayed.Y)
            : ((Tensor, Tensor)?)null;
        return Objective(logits, batch.Y, dark, labelled, options.Alpha, options.Beta);
    }

    /// <summary>DER++'s objective (eq. 6): DER's, plus β times the cross-entropy of the second replayed batch's logits with its stored labels.</summary>
    internal static Tensor Objective(Tensor logits, Tensor labels, DarkReplay? dark, (Tensor Logits, Tensor Labels)? labelled, double alpha, double beta)
    {
        var loss = Objective(logits, labels, dark, alpha);
        return labelled is { } l ? loss + beta * nn.functional.cross_entropy(l.Logits, l.Labels) : loss;
    }
}

/// <summary>der++: any backbone, the base loop's defaults.</summary>
public sealed class DerPlusPlusSpec : PlainApproachSpec<DerPlusPlusOptions>
{
    public override Approach Create(ApproachContext context, DerPlusPlusOptions options) => new DerPlusPlus(context, options);
}
