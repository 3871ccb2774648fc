using TorchSharp;
using static TorchSharp.torch;

namespace Retain.Data;

/// <summary>
/// Inputs <c>X</c> (float32, N x C x H x W, normalised) and labels <c>Y</c> (int64, 0..classes-1), on the CPU; for a
/// set that mixes tasks (joint training, task-agnostic evaluation), also each sample's task (<c>TaskIds</c>, int64).
/// </summary>
public sealed class Split(Tensor x, Tensor y, Tensor? taskIds = null) : IDisposable
{
    public Tensor X { get; } = x;
    public Tensor Y { get; } = y;
    /// <summary>Each sample's task, or null when every sample belongs to the task the split is used for.</summary>
    public Tensor? TaskIds { get; } = taskIds;
    public int Count => (int)X.shape[0];

    /// <summary>
    /// The split's first <paramref name="limit"/> samples (all by default) in consecutive batches of at most
    /// <paramref name="size"/>, in stored order, moved to <paramref name="device"/>. Each batch's tensors belong to a
    /// dispose scope that closes when the loop moves on to the next batch (or leaves), so a loop over the batches holds
    /// one scope per batch; a result that must outlive its batch is moved out with <c>MoveToOuterDisposeScope</c>.
    /// </summary>
    public IEnumerable<SplitBatch> Batches(int size, Device device, int limit = int.MaxValue)
    {
        var end = Math.Min(limit, Count);
        for (var start = 0; start < end; start += size)
        {
            using var scope = NewDisposeScope();
            var count = Math.Min(size, end - start);
            yield return new SplitBatch(start, X.narrow(0, start, count).to(device), Y.narrow(0, start, count).to(device),
                TaskIds?.narrow(0, start, count).to(device));
        }
    }

    /// <summary>The samples at <paramref name="rows"/> (in that order) on <paramref name="device"/>, in the caller's dispose scope.</summary>
    public SplitBatch Rows(long[] rows, Device device)
    {
        using var index = tensor(rows);
        return new SplitBatch(-1, X.index_select(0, index).to(device), Y.index_select(0, index).to(device),
            TaskIds?.index_select(0, index).to(device));
    }

    /// <summary>The samples of several tasks in one set, each with its task (the sets' order: task k is <paramref name="splits"/>[k]).</summary>
    public static Split Union(IReadOnlyList<Split> splits) => new(
        cat(splits.Select(s => s.X).ToArray()), cat(splits.Select(s => s.Y).ToArray()),
        cat(splits.Select((s, k) => full(s.Count, k, ScalarType.Int64)).ToArray()));

    /// <summary>
    /// At most <paramref name="count"/> samples, evenly spaced over the split (all of them if there are fewer), so a
    /// split stored class by class keeps every class.
    /// </summary>
    public Split Take(int count)
    {
        var kept = Math.Min(count, Count);
        return Select(Enumerable.Range(0, kept).Select(i => (long)i * Count / kept).ToArray());
    }

    public Split Select(long[] indices)
    {
        using var index = tensor(indices, ScalarType.Int64);
        return new Split(X.index_select(0, index), Y.index_select(0, index), TaskIds?.index_select(0, index));
    }

    /// <summary>The same images with their pixels reordered: output pixel k = input pixel <c>permutation[k]</c> (flattened CHW).</summary>
    public Split PermutePixels(long[] permutation)
    {
        using var index = tensor(permutation);
        using var flat = X.flatten(1);
        return new Split(flat.index_select(1, index).reshape(X.shape), Y.clone(), TaskIds?.clone());
    }

    public void Dispose() { X.Dispose(); Y.Dispose(); TaskIds?.Dispose(); }
}

/// <summary>A batch of a split: where it starts in the split (-1 for an arbitrary selection), inputs, labels, task ids.</summary>
public sealed record SplitBatch(int Start, Tensor X, Tensor Y, Tensor? TaskIds);

/// <summary>One task of a benchmark: its own classes with train, validation and test splits.</summary>
public sealed record TaskData(string Name, int ClassCount, Split Train, Split Valid, Split Test) : IDisposable
{
    /// <summary>A copy with at most <paramref name="count"/> samples in each split (evenly spaced).</summary>
    public TaskData Take(int count) => this with { Train = Train.Take(count), Valid = Valid.Take(count), Test = Test.Take(count) };

    public void Dispose() { Train.Dispose(); Valid.Dispose(); Test.Dispose(); }
}

/// <summary>A sequence of tasks, the input size <c>[C, H, W]</c> they share, and where the data came from.</summary>
public sealed record Benchmark(string Name, IReadOnlyList<TaskData> Tasks, int[] InputSize, string Source) : IDisposable
{
    public IReadOnlyList<int> ClassCounts => Tasks.Select(t => t.ClassCount).ToArray();
    /// <summary>The backbone the seed uses for this benchmark: the MLP for the MNIST experiments, AlexNet otherwise.</summary>
    public Networks.BackboneKind Backbone { get; init; } = DefaultBackbone(Name);

    public static Networks.BackboneKind DefaultBackbone(string experiment) =>
        experiment is "mnist2" or "pmnist" ? Networks.BackboneKind.Mlp : Networks.BackboneKind.AlexNet;
    /// <summary>A copy whose tasks keep at most <paramref name="count"/> samples per split (quick trial runs).</summary>
    public Benchmark Take(int count) => this with { Tasks = Tasks.Select(t => t.Take(count)).ToArray() };

    public void Dispose() { foreach (var t in Tasks) t.Dispose(); }
}
