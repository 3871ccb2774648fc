namespace Retain.Data;

/// <summary>An experiment a research project adds (docs/extending.md): how to load it, and the backbone it runs on.</summary>
/// <param name="Load">builds the tasks from the data folder and the seed (which orders tasks and draws validation splits).</param>
public sealed record ExperimentEntry(string Name, Networks.BackboneArchitecture Backbone, Func<string, int, Benchmark> Load)
{
    /// <summary>The scenarios it can be run in (<c>--scenario</c>): task-IL only unless it says more.</summary>
    public IReadOnlyList<Scenario> Scenarios { get; init; } = [Scenario.Task];
}

/// <summary>
/// The scenarios an experiment can be run in, and why not the others (null when it supports all three). Known before
/// any data is loaded, so <c>retain run --scenario</c> refuses the others at once.
/// </summary>
internal sealed record ScenarioSupport(IReadOnlyList<Scenario> Scenarios, string? WhyNotOthers = null)
{
    public static ScenarioSupport All { get; } = new(Retain.Scenarios.All);

    /// <summary>Task and class: tasks of different class counts cannot share one head over a task's classes (domain-IL).</summary>
    public static ScenarioSupport DifferentClassCounts(IEnumerable<int> classCounts) =>
        new([Scenario.Task, Scenario.Class], $"its tasks have different numbers of classes ({string.Join(", ", classCounts)}), and domain-IL shares one head over a task's classes");

    /// <summary>One line saying that <paramref name="experiment"/> cannot be run in <paramref name="scenario"/>, unless it can.</summary>
    public void Require(string experiment, Scenario scenario)
    {
        if (Scenarios.Contains(scenario)) return;
        throw new RetainException($"--scenario {scenario.Name()}: {experiment} supports {Retain.Scenarios.Names(Scenarios)}" +
                                  (WhyNotOthers is null ? "" : $" ({WhyNotOthers})"));
    }
}

/// <summary>The experiments of the seed system, built from the files in a data folder, and those registered.</summary>
public static class ExperimentCatalog
{
    public static readonly IReadOnlyList<string> Names = ["mnist2", "pmnist", "split-fashion", "cifar", "mixture"];

    /// <summary>split-fashion's folder under the data directory (Fashion-MNIST's four IDX files).</summary>
    internal const string FashionMnistFolder = "fashion_mnist";

    /// <summary>Replaced, never changed, by <see cref="Register"/>.</summary>
    private static ExperimentEntry[] _registered = [];
    private static readonly Lock RegistrationLock = new();

    /// <summary>Adds an experiment that <c>retain run -e NAME</c>, studies and reports then know. Its name must be new.</summary>
    public static void Register(ExperimentEntry experiment)
    {
        lock (RegistrationLock)
        {
            if (Names.Contains(experiment.Name) || Registered(experiment.Name) is not null)
                throw new RetainException($"--experiment: an experiment named '{experiment.Name}' already exists");
            Volatile.Write(ref _registered, [.. _registered, experiment]);
        }
    }

    private static ExperimentEntry? Registered(string name) => Volatile.Read(ref _registered).FirstOrDefault(e => e.Name == name);

    private static string Known => string.Join(", ", Names.Concat(Volatile.Read(ref _registered).Select(e => e.Name)));

    private static readonly float[] MnistMean = [0.1307f], MnistStd = [0.3081f];

    /// <summary>
    /// Share of each task's training set held out for validation (model selection, lr schedule): the seed's cifar
    /// value, used for the experiments where the seed validated on the training set itself.
    /// </summary>
    public const double MnistValidFraction = 0.10;

    public const int PermutedTaskCount = 10;

    /// <summary>
    /// A built-in experiment's number of tasks, known without its data (so a run's --test-mode is checked before any
    /// data is loaded); null for a benchmark file or a registered experiment, whose count is known once loaded.
    /// </summary>
    internal static int? TaskCount(string name, IReadOnlyList<string>? datasets) => name switch
    {
        _ when CustomBenchmark.IsCustom(name) || Registered(name) is not null => null,
        "mnist2" => 2,
        "pmnist" => PermutedTaskCount,
        "split-fashion" => 5,
        "cifar" => 10,
        "mixture" => MixtureExperiments.ClassCounts(datasets).Count,
        _ => null,
    };

    /// <param name="datasets">mixture only: the data sets to use (default: the seed's eight).</param>
    public static Benchmark Load(string name, string dataDir, int seed, IReadOnlyList<string>? datasets = null) => name switch
    {
        _ when CustomBenchmark.IsCustom(name) => CustomBenchmark.Load(name, seed),
        _ when datasets is { Count: > 0 } && name != "mixture" => throw new RetainException($"--datasets only applies to the mixture experiment (not {name})"),
        _ when Registered(name) is { } registered => registered.Load(dataDir, seed) with { Backbone = registered.Backbone },
        "cifar" => MixtureExperiments.Cifar(dataDir, seed),
        "mixture" => MixtureExperiments.Mixture(dataDir, seed, datasets),
        "mnist2" => Mnist2(dataDir, seed),
        "pmnist" => PermutedMnist(dataDir, seed),
        "split-fashion" => SplitFashion(dataDir, seed),
        _ => throw new RetainException($"--experiment: unknown experiment '{name}' (known: {Known}, or a benchmark description file ending in .json)"),
    };

    /// <summary>
    /// The backbone an experiment uses, without loading its data: the registered backbone that claims it (the MLP for
    /// the MNIST experiments, AlexNet otherwise, as in the seed); a benchmark file's own <c>network</c>.
    /// </summary>
    public static Networks.BackboneArchitecture DefaultBackbone(string name) =>
        CustomBenchmark.IsCustom(name) ? CustomBenchmark.Backbone(CustomBenchmark.ReadSpec(name))
        : Names.Contains(name) ? Networks.BackboneRegistry.DefaultFor(name)
        : Registered(name) is { } registered ? registered.Backbone
        : throw new RetainException($"--experiment: unknown experiment '{name}' (known: {Known}, or a benchmark description file ending in .json)");

    /// <summary>
    /// The scenarios <paramref name="name"/> supports, known without loading its data: all three for mnist2, pmnist and
    /// split-fashion (tasks of equal class counts; the classic cases of van de Ven and Tolias), task and class for cifar
    /// and mixture (tasks of different class counts; mixture's <paramref name="datasets"/> of one class count support
    /// domain too), what a benchmark file or a registered experiment declares.
    /// </summary>
    internal static ScenarioSupport Scenarios(string name, IReadOnlyList<string>? datasets = null)
    {
        if (CustomBenchmark.IsCustom(name)) return CustomBenchmark.Scenarios(CustomBenchmark.ReadSpec(name), name);
        if (Registered(name) is { } registered)
            return new ScenarioSupport(registered.Scenarios, registered.Scenarios.Count == 3 ? null : "as its registration declares");
        return name switch
        {
            "mnist2" or "pmnist" or "split-fashion" => ScenarioSupport.All,
            "cifar" => ScenarioSupport.DifferentClassCounts([2, 20]),
            "mixture" => MixtureExperiments.ClassCounts(datasets) is var counts && counts.Distinct().Count() <= 1
                ? ScenarioSupport.All : ScenarioSupport.DifferentClassCounts(counts.Distinct()),
            _ => throw new RetainException($"--experiment: unknown experiment '{name}' (known: {Known}, or a benchmark description file ending in .json)"),
        };
    }

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
    /// pmnist: ten tasks of all ten digits, each with its own fixed pixel permutation. The permutation ids 0..9 are
    /// shuffled by the seed; task i with id r reorders the 784 normalised pixels of every image by
    /// <c>RandomState(100 r + i).shuffle(arange(784))</c> (output pixel k = input pixel perm[k]). No task is the
    /// identity. (The seed's cache made the permutations depend on the first seed ever run; here they never do.)
    /// </summary>
    public static Benchmark PermutedMnist(string dataDir, int seed)
    {
        var (train, test, source) = Mnist.Load(dataDir);
        var ids = Enumerable.Range(0, PermutedTaskCount).ToArray();
        new NumpyRandomState((uint)seed).Shuffle(ids);
        using var trainAll = train.ToNormalisedSplit(MnistMean, MnistStd);
        using var testAll = test.ToNormalisedSplit(MnistMean, MnistStd);
        var tasks = new List<TaskData>();
        for (var i = 0; i < ids.Length; i++)
        {
            var permutation = PixelPermutation(ids[i], i);
            using var permuted = trainAll.PermutePixels(permutation);
            var (tr, va) = ValidationSplit(permuted, MnistValidFraction, seed);
            tasks.Add(new TaskData($"pmnist-{i}", 10, tr, va, testAll.PermutePixels(permutation)));
        }
        return new Benchmark("pmnist", tasks, [1, 28, 28], source);
    }

    /// <summary>The seed's pixel order of permuted task <paramref name="position"/> with permutation id <paramref name="id"/>.</summary>
    public static long[] PixelPermutation(int id, int position, int pixels = 28 * 28) =>
        new NumpyRandomState((uint)(id * 100 + position)).Permutation(pixels).Select(p => (long)p).ToArray();

    /// <summary>
    /// split-fashion (not in the seed): Fashion-MNIST's ten classes as five two-class tasks (0-1, 2-3, ...), in an
    /// order shuffled by the seed as the seed's cifar experiment does, 10% of each task's training images held out
    /// for validation. 28x28 grey images normalised with the training images' own mean and std.
    /// </summary>
    public static Benchmark SplitFashion(string dataDir, int seed)
    {
        var folder = Path.Combine(dataDir, FashionMnistFolder);
        var paths = Mnist.IdxFiles.Select(f => Mnist.FindIdx(folder, f)).ToArray();
        if (paths.Any(p => p is null))
            throw new RetainException($"Fashion-MNIST not found: put {string.Join(", ", Mnist.IdxFiles.Select(f => f + ".gz"))} in {folder}, or run `./retain data fetch`");
        var train = Mnist.ReadIdxPair(dataDir, "fashion_mnist.train", paths[0]!, paths[1]!);
        var test = Mnist.ReadIdxPair(dataDir, "fashion_mnist.test", paths[2]!, paths[3]!);
        var (mean, std) = train.ChannelMeanAndStd();
        var order = Enumerable.Range(0, 5).ToArray();
        new NumpyRandomState((uint)seed).Shuffle(order);
        var tasks = new List<TaskData>();
        foreach (var k in order)
        {
            bool InTask(byte label) => label / 2 == k;
            byte Relabel(byte label) => (byte)(label % 2);
            using var full = train.Where(InTask, Relabel).ToNormalisedSplit(mean, std);
            var (tr, va) = ValidationSplit(full, MnistValidFraction, seed);
            tasks.Add(new TaskData($"fashion-{2 * k}-{2 * k + 1}", 2, tr, va, test.Where(InTask, Relabel).ToNormalisedSplit(mean, std)));
        }
        return new Benchmark("split-fashion", tasks, [1, 28, 28], folder);
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
