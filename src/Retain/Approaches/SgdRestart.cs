using Retain.Data;
using Retain.Training;
using static TorchSharp.torch;

namespace Retain.Approaches;

/// <summary>
/// Training from scratch for every task: before each task the network is reset to its initial (untrained) weights,
/// so nothing transfers and each task's head is evaluated on a backbone trained only for the latest task.
/// (In the seed the optimizer kept the old model's parameters, so the fresh copy was never trained; here the same
/// network object is reset, which the single optimizer keeps updating.)
/// </summary>
public sealed class SgdRestart : Approach
{
    private readonly Dictionary<string, Tensor> _initial;

    public SgdRestart(ApproachContext context) : base(context) => _initial = Model.CopyParameters();

    protected override void PrepareTask(int task, TaskData data) => Model.LoadParameters(_initial);

    protected override void SaveState(StateDict state) => state.Set("initial", _initial);

    protected override void LoadState(StateDict state) => ParameterSet.CopyInto(_initial, state, "initial");

    public override void Dispose()
    {
        ParameterSet.DisposeAll(_initial);
        base.Dispose();
    }
}

/// <summary>sgd-restart: any backbone, the base loop's defaults.</summary>
public sealed class SgdRestartSpec : PlainApproachSpec<NoOptions>
{
    public override Approach Create(ApproachContext context, NoOptions options) => new SgdRestart(context);
}
