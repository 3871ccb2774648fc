using Retain.Data;
using Retain.Training;
using static TorchSharp.torch;

namespace Retain.Approaches;

/// <summary>
/// Multitask training, the upper reference <c>A_J</c> of the forgetting ratio: at every task the network restarts
/// from its initial weights and is trained on the union of the training sets of all tasks so far, each sample
/// through its own task's head (mixed-task batches, loss = mean over the batch of each sample's cross-entropy), and
/// model selection uses the union of their validation sets. Otherwise it is the base loop, as FACIL's joint swaps in
/// the union and calls the base loop. Warm-up and curriculum do not apply (<see cref="JointSpec"/> leaves them out).
/// </summary>
public sealed class Joint : Approach
{
    private readonly Dictionary<string, Tensor> _initial;

    public Joint(ApproachContext context) : base(context) => _initial = Model.CopyParameters();

    /// <summary>How many training samples the last call of <see cref="Train"/> used (all tasks so far).</summary>
    public int TrainingSamples { get; private set; }

    public override IReadOnlyList<EpochRecord> Train(int task, TaskData data, ITrainingEvents events)
    {
        var seen = (Context.Tasks ?? throw new InvalidOperationException("joint trains on every task so far: its context needs the benchmark's tasks"))
            .Take(task + 1).ToArray();
        // The union's test split is the task's own (not used for training); only the unions are disposed here.
        var union = new TaskData($"tasks 0-{task}", data.ClassCount, Split.Union(seen.Select(d => d.Train).ToArray()),
            Split.Union(seen.Select(d => d.Valid).ToArray()), data.Test);
        TrainingSamples = union.Train.Count;
        try { return base.Train(task, union, events); }
        finally { union.Train.Dispose(); union.Valid.Dispose(); }
    }

    protected override void PrepareTask(int task, TaskData data) => Model.LoadParameters(_initial);

    protected override void SaveState(StateDict state) => state.Set("initial", _initial);

    protected override void LoadState(StateDict state) => ParameterSet.CopyInto(_initial, state, "initial");

    public override void Dispose()
    {
        ParameterSet.DisposeAll(_initial);
        base.Dispose();
    }
}

/// <summary>joint: any backbone; it trains on the union of the tasks so far from scratch, so without a warm-up or a curriculum.</summary>
public sealed class JointSpec : PlainApproachSpec<NoOptions>
{
    protected override TrainingOptions Adapt(TrainingOptions training, NoOptions options) => training with { Warmup = null, Curriculum = null };

    protected override string? TrainingRule(NoOptions options) => "trains without a warm-up or a curriculum (the seed's joint loop)";

    public override Approach Create(ApproachContext context, NoOptions options) => new Joint(context);
}
