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
    /// Builds a split inside a dispose scope of its own and moves only the split's tensors out of it. Why: a temporary
    /// that nothing references (<c>a.index_select(...).reshape(...)</c>) may otherwise be freed by its finalizer, after a
    /// collection on another thread, while the next call still reads it (a fault in torch's view code, seen in CI).
    /// </summary>
    internal static Split Built(Func<Split> build)
    {
        using var scope = NewDisposeScope();
        var split = build();
        scope.MoveToOuter(split.X, split.Y);
        if (split.TaskIds is not null) scope.MoveToOuter(split.TaskIds);
        return split;
    }

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
    public static Split Union(IReadOnlyList<Split> splits) => Built(() => new(
        cat(splits.Select(s => s.X).ToArray()), cat(splits.Select(s => s.Y).ToArray()),
        cat(splits.Select((s, k) => full(s.Count, k, ScalarType.Int64)).ToArray())));

    /// <summary>
    /// At most <paramref name="count"/> samples (all of them if there are fewer), chosen deterministically so that every
    /// class keeps at least one: each class present gets one sample, the other count − k (k classes) are shared in
    /// proportion to the classes' sizes beyond that first sample, whole shares first and the rest to the largest
    /// remainders (ties to the lower label). Within a class the kept samples are evenly spaced over its samples in split
    /// order, and the result keeps split order. (Evenly spaced samples of the whole split could miss classes: a shuffled
    /// training split alternating 0, 1, 0, 1 loses class 1 to every second sample.)
    /// </summary>
    public Split Take(int count)
    {
        if (count >= Count) return Select([.. Enumerable.Range(0, Count).Select(i => (long)i)]);
        var classes = IndicesByClass();
        if (count < classes.Count)
            throw new ArgumentOutOfRangeException(nameof(count), count, $"fewer than the {classes.Count} classes of the split");
        long extra = count - classes.Count, spare = Count - classes.Count;
        var shares = classes.Select(c => (Indices: c.Value, Whole: extra * (c.Value.Count - 1) / spare, Remainder: extra * (c.Value.Count - 1) % spare)).ToArray();
        var bonus = (int)(extra - shares.Sum(s => s.Whole));
        var roundedUp = shares.Select((s, k) => (s.Remainder, k)).OrderByDescending(r => r.Remainder).ThenBy(r => r.k).Take(bonus).Select(r => r.k).ToHashSet();
        var kept = shares.SelectMany((s, k) =>
        {
            var quota = 1 + (int)s.Whole + (roundedUp.Contains(k) ? 1 : 0);
            return Enumerable.Range(0, quota).Select(i => (long)s.Indices[(int)((long)i * s.Indices.Count / quota)]);
        });
        return Select([.. kept.Order()]);
    }

    /// <summary>How many classes have at least one sample in the split.</summary>
    public int ClassesPresent => IndicesByClass().Count;

    /// <summary>The positions of each label's samples, in split order, by label.</summary>
    private SortedDictionary<long, List<int>> IndicesByClass()
    {
        var byClass = new SortedDictionary<long, List<int>>();
        var labels = Y.data<long>().ToArray();
        for (var i = 0; i < labels.Length; i++)
        {
            if (!byClass.TryGetValue(labels[i], out var list)) byClass[labels[i]] = list = [];
            list.Add(i);
        }
        return byClass;
    }

    /// <summary>How many samples of each class 0..<paramref name="classCount"/>-1 the split holds.</summary>
    public long[] SamplesPerClass(int classCount)
    {
        using var counts = Y.bincount(null, classCount);
        return counts.data<long>().ToArray();
    }

    public Split Select(long[] indices)
    {
        using var index = tensor(indices, ScalarType.Int64);
        return new Split(X.index_select(0, index), Y.index_select(0, index), TaskIds?.index_select(0, index));
    }

    /// <summary>The same images with their pixels reordered: output pixel k = input pixel <c>permutation[k]</c> (flattened CHW).</summary>
    public Split PermutePixels(long[] permutation) =>
        Built(() => new Split(X.flatten(1).index_select(1, tensor(permutation)).reshape(X.shape), Y.clone(), TaskIds?.clone()));

    public void Dispose() { X.Dispose(); Y.Dispose(); TaskIds?.Dispose(); }
}

/// <summary>A batch of a split: where it starts in the split (-1 for an arbitrary selection), inputs, labels, task ids.</summary>
public sealed record SplitBatch(int Start, Tensor X, Tensor Y, Tensor? TaskIds);

/// <summary>One task of a benchmark: its own classes with train, validation and test splits.</summary>
public sealed record TaskData(string Name, int ClassCount, Split Train, Split Valid, Split Test) : IDisposable
{
    /// <summary>A copy with at most <paramref name="count"/> samples in each split, every class kept (<see cref="Split.Take"/>).</summary>
    public TaskData Take(int count)
    {
        RequireLimitKeepsEveryClass(count);
        return this with { Train = Train.Take(count), Valid = Valid.Take(count), Test = Test.Take(count) };
    }

    /// <summary>--limit (<see cref="Take"/>) must leave room for one sample of each class in every split.</summary>
    public void RequireLimitKeepsEveryClass(int count)
    {
        if (new[] { Train, Valid, Test }.Any(split => count < split.ClassesPresent))
            throw new RetainException($"--limit {count} is below the {ClassCount} classes of task {Name}: every split keeps at least one sample of each class");
    }

    public void Dispose() { Train.Dispose(); Valid.Dispose(); Test.Dispose(); }
}

/// <summary>
/// A sequence of tasks, each sample's shape (<c>[C, H, W]</c> for images) they share, and where the data came from:
/// a built-in experiment (<see cref="Load"/>), or your own data (<see cref="FromTensors"/>, <see cref="FromIdx"/>,
/// <see cref="FromImageFolders"/>).
/// </summary>
public sealed partial record Benchmark(string Name, IReadOnlyList<TaskData> Tasks, int[] InputSize, string Source) : IDisposable
{
    public IReadOnlyList<int> ClassCounts => Tasks.Select(t => t.ClassCount).ToArray();
    /// <summary>The backbone this benchmark uses unless told otherwise (<see cref="Networks.BackboneRegistry.DefaultFor"/>).</summary>
    public Networks.BackboneArchitecture Backbone { get; init; } = Networks.BackboneRegistry.DefaultFor(Name);
    /// <summary>The most samples each split keeps (<see cref="Take"/>), null for the full data.</summary>
    public int? Limit { get; init; }

    /// <summary>A copy whose tasks keep at most <paramref name="count"/> samples per split, every class kept (quick trial runs).</summary>
    public Benchmark Take(int count)
    {
        foreach (var task in Tasks) task.RequireLimitKeepsEveryClass(count); // before any copy is made
        return this with { Tasks = Tasks.Select(t => t.Take(count)).ToArray(), Limit = Math.Min(count, Limit ?? count) };
    }

    /// <summary><paramref name="benchmark"/> cut to <c>--limit</c> (the full one disposed), or as it is without a limit.</summary>
    public static Benchmark Limited(Benchmark benchmark, int? limit)
    {
        if (limit is not { } n) return benchmark;
        using (benchmark) return benchmark.Take(n);
    }

    public void Dispose() { foreach (var t in Tasks) t.Dispose(); }
}
