using Retain.Training;
using static TorchSharp.torch;

namespace Retain.Approaches;

/// <summary>The options every replay approach has: its memory's size and how many stored samples a step replays.</summary>
public record ReplayOptions : IValidatedOptions
{
    [Option("buffer", "Samples the replay memory holds in total, over every task (reservoir sampling keeps each sample seen with equal probability).")]
    public int BufferSize { get; init; } = 500;

    [Option("replay-batch", "Stored samples replayed per training step (none: as many as the training batch, --sbatch).")]
    public int? ReplayBatch { get; init; }

    public virtual void Validate()
    {
        OptionValues.RequireAtLeast("--buffer", BufferSize, 1);
        if (ReplayBatch is { } replayed) OptionValues.RequireAtLeast("--replay-batch", replayed, 1);
    }
}

/// <summary>An approach that keeps a replay memory: the run's record shows what the memory holds after each task.</summary>
public interface IReplayMemory
{
    ReplayMemory Memory(int taskCount);
}

/// <summary>
/// What the replay approaches (er, agem, der, der++) share: a memory of fixed total size filled by reservoir sampling
/// (<see cref="ReservoirBuffer"/>), saved with the approach's state, and the mixed-task batches they replay. A replayed
/// sample goes through its own task's head in task-IL, and through the current task's outputs (every class so far in
/// class-IL, the shared head in domain-IL) otherwise (<see cref="Networks.MultiHeadNetwork.Forward(Tensor, Tensor?, int)"/>).
/// </summary>
public abstract class ReplayApproach : Approach, IReplayMemory
{
    /// <param name="storesLogits">the memory also keeps the logits each sample got when stored (DER).</param>
    protected ReplayApproach(ApproachContext context, ReplayOptions options, bool storesLogits) : base(context)
    {
        Buffer = new ReservoirBuffer(options.BufferSize, storesLogits ? Model.Heads.HeadSizes.Max() : 0, Device, context.Seed);
        ReplayBatch = options.ReplayBatch ?? Options.BatchSize;
    }

    protected ReservoirBuffer Buffer { get; }

    /// <summary>Stored samples replayed per step.</summary>
    protected int ReplayBatch { get; }

    /// <summary>Each sample's task: the batch's own ids when it mixes tasks, else its task for every row.</summary>
    protected Tensor TaskIdsOf(Batch batch) => batch.TaskIds ?? full(batch.X.shape[0], batch.Task, ScalarType.Int64, device: Device);

    /// <summary>
    /// Offers a training batch to the memory after its step. Every step offers its batch, in every epoch, as the
    /// reference implementation (Buzzega et al.'s) does over several epochs: the reservoir then samples the whole
    /// training trajectory, and a sample may be held twice (DER: with the logits of two epochs).
    /// </summary>
    protected void Offer(Batch batch, Tensor? logits = null) =>
        Buffer.Add(batch.X, batch.Y, TaskIdsOf(batch), logits, logits is null ? 0 : (int)logits.shape[1]);

    /// <summary>The cross-entropy of replayed samples on the outputs of the task in training.</summary>
    protected Tensor ReplayLoss(Replayed replayed, int task) =>
        nn.functional.cross_entropy(Model.Forward(replayed.X, replayed.Tasks, task), replayed.Y);

    public ReplayMemory Memory(int taskCount) =>
        new(Buffer.Capacity, Buffer.Count, Buffer.Offered, Buffer.Bytes, Buffer.SamplesPerTask(taskCount));

    protected override void SaveState(StateDict state) => Buffer.Save(state.Scope("buffer"));

    protected override void LoadState(StateDict state) => Buffer.Load(state.Scope("buffer"));

    public override void Dispose()
    {
        Buffer.Dispose();
        base.Dispose();
    }
}
