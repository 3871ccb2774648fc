using TorchSharp;
using static TorchSharp.torch;

namespace Retain.Data;

/// <summary>Inputs <c>X</c> (float32, N x C x H x W, normalised) and labels <c>Y</c> (int64, 0..classes-1), on the CPU.</summary>
public sealed class Split(Tensor x, Tensor y) : IDisposable
{
    public Tensor X { get; } = x;
    public Tensor Y { get; } = y;
    public int Count => (int)X.shape[0];

    /// <summary>
    /// At most <paramref name="count"/> samples, evenly spaced over the split (all of them if there are fewer), so a
    /// split stored class by class keeps every class.
    /// </summary>
    public Split Take(int count)
    {
        var kept = Math.Min(count, Count);
        return Select(Enumerable.Range(0, kept).Select(i => (long)i * Count / kept).ToArray());
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
        return new Split(X.index_select(0, index), Y.index_select(0, index));
    }

    /// <summary>The same images with their pixels reordered: output pixel k = input pixel <c>permutation[k]</c> (flattened CHW).</summary>
    public Split PermutePixels(long[] permutation)
    {
        using var index = tensor(permutation);
        using var flat = X.flatten(1);
        return new Split(flat.index_select(1, index).reshape(X.shape), Y.clone());
    }

    public void Dispose() { X.Dispose(); Y.Dispose(); }
}

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
    public Networks.BackboneKind Backbone { get; init; } =
        Name is "mnist2" or "pmnist" ? Networks.BackboneKind.Mlp : Networks.BackboneKind.AlexNet;
    /// <summary>A copy whose tasks keep at most <paramref name="count"/> samples per split (quick trial runs).</summary>
    public Benchmark Take(int count) => this with { Tasks = Tasks.Select(t => t.Take(count)).ToArray() };

    public void Dispose() { foreach (var t in Tasks) t.Dispose(); }
}
