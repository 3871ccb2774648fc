namespace Retain.Data;

/// <summary>
/// The seed's two 32x32 RGB experiments: <c>cifar</c> (CIFAR-10 and CIFAR-100 split into ten tasks) and
/// <c>mixture</c> (eight data sets, one task each, in an order chosen by the seed: the DWA paper's benchmark).
/// </summary>
internal static class MixtureExperiments
{
    /// <summary>One data set of the mixture as the seed prepares it (datasets.md section 4).</summary>
    public sealed record Member(int Id, string Name, float[] Mean, float[] Std, bool PadTo32, bool Gray);

    private static readonly float[] CifarMean = [125.3f / 255, 123.0f / 255, 113.9f / 255];
    private static readonly float[] CifarStd = [63.0f / 255, 62.1f / 255, 66.7f / 255];

    /// <summary>The mixture's data sets by the seed's id. Gray ones are normalised, then copied to three channels.</summary>
    public static readonly IReadOnlyList<Member> Members =
    [
        new(0, "cifar10", CifarMean, CifarStd, false, false),
        new(1, "cifar100", CifarMean, CifarStd, false, false),
        new(2, "mnist", [0.1f], [0.2752f], true, true),
        new(3, "svhn", [0.4377f, 0.4438f, 0.4728f], [0.198f, 0.201f, 0.197f], false, false),
        new(4, "fashion_mnist", [0.2190f], [0.3318f], true, true),
        new(5, "traffic_signs", [0.3398f, 0.3117f, 0.3210f], [0.2755f, 0.2647f, 0.2712f], false, false),
        new(6, "facescrub", [0.5163f, 0.5569f, 0.4695f], [0.2307f, 0.2272f, 0.2479f], false, false),
        new(7, "not_mnist", [0.4254f], [0.4501f], false, true),
        new(8, "cub200", [90.6379f / 255, 93.2626f / 255, 80.7344f / 255], [71.4966f / 255, 71.0943f / 255, 72.5651f / 255], false, false),
    ];

    /// <summary>The seed's mixture uses ids 0..7; CUB-200 (id 8) is only reachable by asking for it.</summary>
    public const int DefaultMemberCount = 8;
    public const double MixtureValidFraction = 0.15;
    public const double CifarValidFraction = 0.10;

    /// <summary>The class counts of the mixture's tasks with <paramref name="datasets"/> (default: the seed's eight), without loading them.</summary>
    public static IReadOnlyList<int> ClassCounts(IReadOnlyList<string>? datasets) =>
        (datasets is { Count: > 0 } ? Members.Where(m => datasets.Contains(m.Name)) : Members.Take(DefaultMemberCount))
        .Select(m => DatasetFiles.Get(m.Name).ClassCount).ToArray();

    /// <summary>
    /// mixture: ids 0..7 shuffled by the seed (seed 0: facescrub, mnist, cifar100, not_mnist, svhn, cifar10,
    /// traffic_signs, fashion_mnist); <paramref name="datasets"/> restricts it to the named ones, in that order.
    /// Each task keeps its data set's test split and holds out 15% of its training split for validation.
    /// </summary>
    public static Benchmark Mixture(string dataDir, int seed, IReadOnlyList<string>? datasets)
    {
        var order = Enumerable.Range(0, DefaultMemberCount).ToArray();
        new NumpyRandomState((uint)seed).Shuffle(order);
        var chosen = order.Select(id => Members[id]).ToList();
        if (datasets is { Count: > 0 })
        {
            var unknown = datasets.Where(d => Members.All(m => m.Name != d)).ToArray();
            if (unknown.Length > 0)
                throw new RetainException($"--datasets: unknown data set(s) {string.Join(", ", unknown)} (known: {string.Join(", ", Members.Select(m => m.Name))})");
            chosen = chosen.Where(m => datasets.Contains(m.Name)).ToList();
            if (datasets.Contains("cub200")) chosen.Add(Members[8]);
        }
        var present = chosen.Where(m => DatasetFiles.Get(m.Name).IsPresent(dataDir)).Select(m => m.Name).ToArray();
        DatasetFiles.RequirePresent("mixture", dataDir, [.. chosen.Select(m => m.Name)],
            present.Length > 0 ? $"Run the present ones with --datasets {string.Join(",", present)}" : null);

        var tasks = new List<TaskData>();
        foreach (var member in chosen)
        {
            var (train, test) = LoadPrepared(dataDir, member);
            using var full = Normalise(train, member);
            var (tr, va) = ExperimentCatalog.ValidationSplit(full, MixtureValidFraction, seed);
            tasks.Add(new TaskData(member.Name, DatasetFiles.Get(member.Name).ClassCount, tr, va, Normalise(test, member)));
        }
        return new Benchmark("mixture", tasks, [3, 32, 32], string.Join(",", chosen.Select(m => m.Name)));
    }

    /// <summary>
    /// cifar: ten raw tasks, CIFAR-10's label pairs (label / 2, label % 2) and CIFAR-100's consecutive groups of 20
    /// fine labels; the order is <c>shuffle(arange(10), seed)</c>; 10% of each task's training images validate.
    /// </summary>
    public static Benchmark Cifar(string dataDir, int seed)
    {
        DatasetFiles.RequirePresent("cifar", dataDir, [Members[0].Name, Members[1].Name]);
        var (train10, test10) = LoadPrepared(dataDir, Members[0]);
        var (train100, test100) = LoadPrepared(dataDir, Members[1]);
        var order = Enumerable.Range(0, 10).ToArray();
        new NumpyRandomState((uint)seed).Shuffle(order);
        var tasks = new List<TaskData>();
        foreach (var raw in order)
        {
            var (train, test, group, size, name) = raw < 5
                ? (train10, test10, raw, 2, $"cifar10-{raw}")
                : (train100, test100, raw - 5, 20, $"cifar100-{raw - 5}");
            bool InTask(byte label) => label / size == group;
            byte Relabel(byte label) => (byte)(label % size);
            using var full = train.Where(InTask, Relabel).ToNormalisedSplit(CifarMean, CifarStd);
            var (tr, va) = ExperimentCatalog.ValidationSplit(full, CifarValidFraction, seed);
            tasks.Add(new TaskData(name, size, tr, va, test.Where(InTask, Relabel).ToNormalisedSplit(CifarMean, CifarStd)));
        }
        return new Benchmark("cifar", tasks, [3, 32, 32], dataDir);
    }

    /// <summary>The member's train and test images at 32x32 (padded if needed), through the image cache.</summary>
    private static (ImageSet Train, ImageSet Test) LoadPrepared(string dataDir, Member member)
    {
        var source = DatasetFiles.Get(member.Name);
        // The stamp covers the layout's files (IDX files raw or gzip'd), so replacing a source rebuilds the entry.
        var files = source.Layouts.First(l => l.All(f => DatasetFiles.FilePresent(dataDir, f)))
            .Select(f => Path.Combine(dataDir, f))
            .SelectMany(p => p.Contains("-ubyte", StringComparison.Ordinal) ? [p, p.EndsWith(".gz", StringComparison.Ordinal) ? p[..^3] : p + ".gz"] : new[] { p })
            .ToArray();
        var transform = member.PadTo32 ? "pad32" : "raw";
        var trainKey = $"{member.Name}-{transform}.train";
        var testKey = $"{member.Name}-{transform}.test";
        var stamp = ImageCache.Stamp(files);
        if (ImageCache.TryRead(ImageCache.PathFor(dataDir, trainKey), stamp) is { } cachedTrain &&
            ImageCache.TryRead(ImageCache.PathFor(dataDir, testKey), stamp) is { } cachedTest)
            return (cachedTrain, cachedTest);
        var (train, test) = source.Load(dataDir);
        if (member.PadTo32) (train, test) = (train.Pad(2), test.Pad(2));
        if (train.Height != 32 || train.Width != 32)
            throw new RetainException($"{member.Name}: images are {train.Height}x{train.Width}, the mixture needs 32x32");
        ImageCache.TryWrite(ImageCache.PathFor(dataDir, trainKey), stamp, train);
        ImageCache.TryWrite(ImageCache.PathFor(dataDir, testKey), stamp, test);
        return (train, test);
    }

    /// <summary>Normalise per channel; a gray data set is then copied to three identical channels.</summary>
    private static Split Normalise(ImageSet images, Member member)
    {
        var split = images.ToNormalisedSplit(member.Mean, member.Std);
        if (!member.Gray) return split;
        var rgb = new Split(split.X.expand(-1, 3, -1, -1).contiguous(), split.Y.clone());
        split.Dispose();
        return rgb;
    }
}
