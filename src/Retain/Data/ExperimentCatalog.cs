using Retain.Networks;

namespace Retain.Data;

/// <summary>The experiments of the seed system, built from the files in a data folder.</summary>
public static class ExperimentCatalog
{
    public static readonly IReadOnlyList<string> Names = ["mnist2"];

    private static readonly float[] MnistMean = [0.1307f], MnistStd = [0.3081f];

    /// <summary>Share of each task's training set held out for validation (model selection, lr schedule).</summary>
    public const double MnistValidFraction = 0.10;

    /// <summary>The seed's network choice: the MLP for the MNIST experiments, AlexNet for the others.</summary>
    public static BackboneKind DefaultBackbone(string experiment) =>
        experiment is "mnist2" or "pmnist" ? BackboneKind.Mlp : BackboneKind.AlexNet;

    public static Benchmark Load(string name, string dataDir, int seed) => name switch
    {
        "mnist2" => Mnist2(dataDir, seed),
        _ => throw new RetainException($"--experiment: unknown experiment '{name}' (known: {string.Join(", ", Names)})"),
    };

    /// <summary>
    /// mnist2: digits 0-4, then digits 5-9 relabelled 0-4; normalised with MNIST's mean and std.
    /// The seed validates on a copy of the training set (a quirk: model selection on training data); here the
    /// validation set is held out from the training set as in the seed's other experiments.
    /// </summary>
    public static Benchmark Mnist2(string dataDir, int seed)
    {
        var (train, test, source) = Mnist.Load(dataDir);
        var tasks = new List<TaskData>();
        foreach (var (name, low) in new[] { ("mnist-0-4", 0), ("mnist-5-9", 5) })
        {
            bool InTask(byte label) => label >= low && label < low + 5;
            byte Relabel(byte label) => (byte)(label - low);
            using var full = train.Where(InTask, Relabel).ToNormalisedSplit(MnistMean, MnistStd);
            var (tr, va) = ValidationSplit(full, MnistValidFraction, seed);
            tasks.Add(new TaskData(name, 5, tr, va, test.Where(InTask, Relabel).ToNormalisedSplit(MnistMean, MnistStd)));
        }
        return new Benchmark("mnist2", tasks, [1, 28, 28], source);
    }

    /// <summary>
    /// The seed's split: <c>perm = shuffle(arange(N), seed)</c>, the first <c>floor(fraction N)</c> of the permutation
    /// are validation, the rest training (which is thereby reordered).
    /// </summary>
    public static (Split Train, Split Valid) ValidationSplit(Split full, double fraction, int seed)
    {
        var perm = new NumpyRandomState((uint)seed).Permutation(full.Count);
        var nValid = (int)Math.Floor(fraction * full.Count);
        return (full.Select(perm[nValid..].Select(i => (long)i).ToArray()),
                full.Select(perm[..nValid].Select(i => (long)i).ToArray()));
    }
}
