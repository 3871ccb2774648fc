using Retain.Data;
using Retain.Networks;
using Retain.Training;

namespace Retain.Approaches;

/// <summary>
/// Progressive Neural Networks (Rusu et al., 2016). Forgetting is ruled out by construction: every task gets its own
/// column of the network (<see cref="ProgressiveColumns"/>), and while task t trains only column t, its lateral
/// adapters and its head learn; the columns of earlier tasks are frozen and feed column t through the laterals, so
/// what they learnt can be reused but not overwritten. The loss is the plain cross-entropy of head t; task u is
/// evaluated through column u. The price is a network that grows with the number of tasks (here sized in advance).
/// </summary>
public sealed class Progressive : Approach
{
    private readonly ProgressiveColumns _columns;

    public Progressive(ApproachContext context, ProgressiveColumns columns) : base(context) => _columns = columns;

    /// <summary>Column t, its adapters and head t learn; everything else is frozen (its gradients are never computed).</summary>
    protected override void PrepareTask(int task, TaskData data)
    {
        foreach (var p in Model.parameters()) p.requires_grad = false;
        var head = Model.named_parameters().Where(p => p.name.StartsWith($"{MultiHeadNetwork.HeadPrefix}{task}.", StringComparison.Ordinal));
        foreach (var p in _columns.ColumnParameters(task).Concat(head.Select(p => p.parameter))) p.requires_grad = true;
    }

    // Which parameters are frozen is saved with the model by the base class; the columns are the model.
    protected override void SaveState(StateDict state) { }
    protected override void LoadState(StateDict state) { }
}

/// <summary>progressive: one column per task of a backbone of layers (<see cref="ProgressiveColumns.CreateNetwork"/>).</summary>
public sealed class ProgressiveSpec : GatedApproachSpec<NoOptions, ProgressiveColumns>
{
    public override GatedNetwork<ProgressiveColumns> CreateNetwork(BackboneArchitecture backbone, NetworkShape shape, NoOptions options) =>
        ProgressiveColumns.CreateNetwork(backbone, shape.InputSize, shape.ClassCounts);

    public override Approach Create(ApproachContext context, NoOptions options, ProgressiveColumns gating) => new Progressive(context, gating);
}
