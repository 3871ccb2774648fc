using Retain.Data;
using static TorchSharp.torch;

namespace Retain.Training;

/// <summary>
/// A replay memory of fixed total size, filled by reservoir sampling (Vitter 1985, Algorithm R; the buffer of
/// Chaudhry et al. 2019 and Buzzega et al. 2020): the first <see cref="Capacity"/> samples offered are kept, and the
/// n-th one after them (counting from 0) replaces the sample in slot j for j drawn uniformly from 0..n when j falls
/// inside the buffer. Every sample offered so far is then held with the same probability, capacity / offered,
/// whatever its task, and the memory never grows.
/// <para>
/// Each slot holds an input, its label, its task and, for DER, the logits the network gave it when it was stored (and
/// how many of them are the sample's outputs). The buffer and its own random generator (which decides slots and draws
/// replayed samples) are part of the approach's state, so a resumed run replays exactly the same samples.
/// </para>
/// </summary>
public sealed class ReservoirBuffer : IDisposable
{
    private readonly NumpyRandomState _random;
    private readonly Device _device;
    private Tensor? _inputs, _labels, _tasks, _logits, _outputs;

    /// <param name="capacity">samples held at most.</param>
    /// <param name="logitWidth">outputs stored per sample (the widest any sample can have), or 0 to store no logits.</param>
    /// <param name="seed">seeds the buffer's generator (the run's seed).</param>
    public ReservoirBuffer(int capacity, int logitWidth, Device device, int seed)
    {
        if (capacity < 1) throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "a buffer holds at least one sample");
        (Capacity, LogitWidth, _device) = (capacity, logitWidth, device);
        _random = new NumpyRandomState((uint)seed);
    }

    public int Capacity { get; }
    public int LogitWidth { get; }

    /// <summary>Samples held (at most <see cref="Capacity"/>).</summary>
    public int Count { get; private set; }

    /// <summary>Samples offered so far.</summary>
    public long Offered { get; private set; }

    /// <summary>
    /// The reservoir rule: where the sample offered after <paramref name="offered"/> others goes, or -1 (not kept).
    /// <paramref name="uniform"/>(n) draws an integer uniformly from 0..n.
    /// </summary>
    public static int Slot(long offered, int capacity, Func<long, long> uniform)
    {
        if (offered < capacity) return (int)offered;
        var j = uniform(offered);
        return j < capacity ? (int)j : -1;
    }

    /// <summary>
    /// Offers a batch, in order: inputs, labels, tasks (one per row) and, when the buffer stores logits, the logits
    /// each row got (B x outputs, the row's first <paramref name="outputs"/> of them its own).
    /// </summary>
    public void Add(Tensor inputs, Tensor labels, Tensor tasks, Tensor? logits = null, int outputs = 0)
    {
        if ((logits is null) != (LogitWidth == 0)) throw new ArgumentException("logits are stored exactly when the buffer has a logit width", nameof(logits));
        var rows = (int)inputs.shape[0];
        // Row r goes to slots[r]; of two rows that land in one slot the later one stays, as offered one by one.
        var slotOf = new Dictionary<int, int>();
        for (var r = 0; r < rows; r++)
        {
            var slot = Slot(Offered++, Capacity, n => _random.Interval((uint)n));
            if (slot >= 0) slotOf[slot] = r;
        }
        if (slotOf.Count == 0) return;
        using var scope = NewDisposeScope();
        Allocate(inputs);
        using var slots = tensor(slotOf.Keys.Select(k => (long)k).ToArray(), device: _device);
        using var chosen = tensor(slotOf.Values.Select(r => (long)r).ToArray(), device: inputs.device);
        using var _ = no_grad();
        _inputs!.index_copy_(0, slots, inputs.index_select(0, chosen).to(_device));
        _labels!.index_copy_(0, slots, labels.index_select(0, chosen).to(_device));
        _tasks!.index_copy_(0, slots, tasks.index_select(0, chosen).to(_device));
        if (logits is not null)
        {
            using var padded = nn.functional.pad(logits.detach(), [0, LogitWidth - logits.shape[1]]);
            _logits!.index_copy_(0, slots, padded.index_select(0, chosen).to(_device));
            _outputs!.index_fill_(0, slots, outputs);
        }
        Count = (int)Math.Min(Capacity, Offered);
    }

    /// <summary>
    /// <paramref name="count"/> held samples (all of them when fewer are held), drawn without replacement, in the
    /// caller's dispose scope; null while the buffer is empty.
    /// </summary>
    public Replayed? Draw(int count)
    {
        if (Count == 0) return null;
        var rows = _random.Permutation(Count).Take(Math.Min(count, Count)).Select(i => (long)i).ToArray();
        using var index = tensor(rows, device: _device);
        return new Replayed(_inputs!.index_select(0, index), _labels!.index_select(0, index), _tasks!.index_select(0, index),
            _logits?.index_select(0, index), _outputs?.index_select(0, index));
    }

    /// <summary>How many held samples come from each of the tasks 0..<paramref name="taskCount"/>-1.</summary>
    public long[] SamplesPerTask(int taskCount)
    {
        if (Count == 0) return new long[taskCount];
        using var held = _tasks!.narrow(0, 0, Count).cpu();
        using var counts = held.bincount(null, taskCount);
        return counts.data<long>().ToArray();
    }

    /// <summary>The memory the buffer takes: every stored tensor's bytes (allocated for the whole capacity once the first sample arrives).</summary>
    public long Bytes => new[] { _inputs, _labels, _tasks, _logits, _outputs }.Sum(t => t is null ? 0 : t.NumberOfElements * t.ElementSize);

    /// <summary>The tensors for the whole capacity, shaped after the first inputs offered.</summary>
    private void Allocate(Tensor inputs)
    {
        if (_inputs is not null) return;
        long[] shape = [Capacity, .. inputs.shape.Skip(1)];
        _inputs = zeros(shape, inputs.dtype, _device).DetachFromDisposeScope();
        _labels = zeros(Capacity, ScalarType.Int64, _device).DetachFromDisposeScope();
        _tasks = zeros(Capacity, ScalarType.Int64, _device).DetachFromDisposeScope();
        if (LogitWidth == 0) return;
        _logits = zeros([Capacity, LogitWidth], ScalarType.Float32, _device).DetachFromDisposeScope();
        _outputs = zeros(Capacity, ScalarType.Int64, _device).DetachFromDisposeScope();
    }

    public void Save(StateDict state)
    {
        var (mt, index) = _random.Snapshot();
        state.SetValue("offered", Offered).SetValue("random_state", mt).SetValue("random_index", index).SetValue("allocated", _inputs is not null);
        if (_inputs is null) return;
        state.Set("inputs", _inputs).Set("labels", _labels!).Set("tasks", _tasks!);
        if (_logits is not null) state.Set("logits", _logits).Set("outputs", _outputs!);
    }

    public void Load(StateDict state)
    {
        Release();
        Offered = state.Value<long>("offered");
        Count = (int)Math.Min(Capacity, Offered);
        _random.Restore((state.Value<uint[]>("random_state"), state.Value<int>("random_index")));
        if (!state.Value<bool>("allocated")) return;
        _inputs = state.Tensor("inputs").to(_device, copy: true);
        _labels = state.Tensor("labels").to(_device, copy: true);
        _tasks = state.Tensor("tasks").to(_device, copy: true);
        if (LogitWidth == 0) return;
        _logits = state.Tensor("logits").to(_device, copy: true);
        _outputs = state.Tensor("outputs").to(_device, copy: true);
    }

    private void Release()
    {
        foreach (var t in new[] { _inputs, _labels, _tasks, _logits, _outputs }) t?.Dispose();
        (_inputs, _labels, _tasks, _logits, _outputs) = (null, null, null, null, null);
    }

    public void Dispose() => Release();
}

/// <summary>
/// Samples drawn from a <see cref="ReservoirBuffer"/>: inputs, labels, tasks, and where the buffer stores them the
/// logits they got when stored and how many of those are each sample's outputs.
/// </summary>
public sealed record Replayed(Tensor X, Tensor Y, Tensor Tasks, Tensor? Logits, Tensor? Outputs);

/// <summary>What a replay approach's memory holds at the end of a task: the run's record keeps it.</summary>
public sealed record ReplayMemory(int Capacity, int Samples, long Offered, long Bytes, long[] SamplesPerTask);
