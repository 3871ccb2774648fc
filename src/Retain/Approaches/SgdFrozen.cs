using Retain.Data;
using Retain.Networks;
using Retain.Training;

namespace Retain.Approaches;

/// <summary>
/// Feature extraction: the whole network is trained on the first task, after which everything but the heads is
/// frozen, so later tasks only train their own head on the first task's features.
/// </summary>
public sealed class SgdFrozen(ApproachContext context) : Approach(context)
{
    protected override void FinishTask(int task, TaskData data)
    {
        foreach (var (name, p) in Model.named_parameters())
            if (!name.StartsWith(MultiHeadNetwork.HeadPrefix, StringComparison.Ordinal)) p.requires_grad = false;
    }

    // Which parameters are frozen is saved with the model by the base class.
    protected override void SaveState(StateDict state) { }
    protected override void LoadState(StateDict state) { }
}

/// <summary>sgd-frozen: any backbone, the base loop's defaults.</summary>
public sealed class SgdFrozenSpec : PlainApproachSpec<NoOptions>
{
    /// <summary>Later tasks train only their own head: without the task id, the task predicted chooses it.</summary>
    public override bool NeedsTaskId => true;

    public override Approach Create(ApproachContext context, NoOptions options) => new SgdFrozen(context);
}
