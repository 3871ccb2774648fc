using static TorchSharp.torch;

namespace Retain.Data;

public sealed partial record Benchmark
{
    /// <summary>
    /// A built-in experiment (mnist2, pmnist, split-fashion, ...), a registered one or a benchmark file (<c>*.json</c>),
    /// from the data in <paramref name="dataDir"/>; <paramref name="seed"/> orders its tasks and draws its validation splits.
    /// </summary>
    public static Benchmark Load(string experiment, string dataDir, int seed = 0) => ExperimentCatalog.Load(experiment, dataDir, seed);

    /// <summary>
    /// Tasks from tensors in memory, one per group of classes: task i holds the samples whose label is in
    /// <paramref name="classGroups"/>[i], relabelled 0..k−1 in the group's order. <paramref name="x"/> (float32, N × ...,
    /// each sample of the same shape) and <paramref name="y"/> (integer labels, N) are the training samples, of which
    /// <paramref name="validFraction"/> of each task are held out for validation (drawn with <paramref name="seed"/>);
    /// <paramref name="testX"/>, <paramref name="testY"/> the test samples. The tensors are copied.
    /// </summary>
    public static Benchmark FromTensors(Tensor x, Tensor y, Tensor testX, Tensor testY, IReadOnlyList<int[]> classGroups,
        double validFraction = 0.1, int seed = 0, string name = "tensors")
    {
        RequireSamples(x, y, nameof(x), nameof(y));
        RequireSamples(testX, testY, nameof(testX), nameof(testY));
        if (!x.shape[1..].SequenceEqual(testX.shape[1..]))
            throw new SettingException(typeof(Benchmark), nameof(testX), $"holds samples of shape [{string.Join(", ", testX.shape[1..])}], the training samples are [{string.Join(", ", x.shape[1..])}]");
        // Every temporary in a using variable, referenced until the native call that reads it returns (see TorchRandom).
        using var xDetached = x.detach();
        using var yCpu = y.cpu();
        using var testXDetached = testX.detach();
        using var testYCpu = testY.cpu();
        using var train = new Split(xDetached.cpu(), yCpu.to_type(ScalarType.Int64));
        using var test = new Split(testXDetached.cpu(), testYCpu.to_type(ScalarType.Int64));
        return FromSplits(name, train, test, classGroups, validFraction, seed, $"tensors:{name}");
    }

    /// <summary>
    /// Tasks from images and labels in IDX files (MNIST's format, raw or gzip'd; unsigned bytes, images N × H × W), one
    /// per group of classes as <see cref="FromTensors"/> forms them. Pixels are scaled to [0, 1] and normalised with the
    /// training images' mean and standard deviation.
    /// </summary>
    public static Benchmark FromIdx(string trainImages, string trainLabels, string testImages, string testLabels, IReadOnlyList<int[]> classGroups,
        double validFraction = 0.1, int seed = 0, string name = "idx")
    {
        var train = ReadIdx(trainImages, trainLabels);
        var test = ReadIdx(testImages, testLabels);
        if (test.Height != train.Height || test.Width != train.Width)
            throw new DataFileException(testImages, $"images are {test.Height}x{test.Width}, the training images {train.Height}x{train.Width}");
        return FromImages(name, train, test, classGroups, validFraction, seed, Path.GetFullPath(trainImages));
    }

    /// <summary>
    /// Tasks from two folders of class folders (torchvision's ImageFolder: one subfolder per class, classes numbered in
    /// the ordinal order of their names, PNG or JPEG images), every image stretched to <paramref name="height"/> ×
    /// <paramref name="width"/> with <paramref name="channels"/> channels (1: grey, 3: RGB), one task per group of class
    /// numbers as <see cref="FromTensors"/> forms them, normalised as <see cref="FromIdx"/>. Decoding needs SkiaSharp's
    /// native library (on Linux the package SkiaSharp.NativeAssets.Linux or its NoDependencies variant).
    /// </summary>
    public static Benchmark FromImageFolders(string train, string test, int channels, int height, int width, IReadOnlyList<int[]> classGroups,
        double validFraction = 0.1, int seed = 0, string name = "images")
    {
        var trainFolder = ImageFolderReader.Read(train, channels, height, width);
        var testFolder = ImageFolderReader.Read(test, channels, height, width);
        if (!testFolder.ClassNames.SequenceEqual(trainFolder.ClassNames))
            throw new DataFileException(test, $"class folders {string.Join(", ", testFolder.ClassNames)} differ from the training folder's {string.Join(", ", trainFolder.ClassNames)}");
        return FromImages(name, trainFolder.Images, testFolder.Images, classGroups, validFraction, seed, Path.GetFullPath(train));
    }

    private static ImageSet ReadIdx(string images, string labels)
    {
        var (pixels, values) = IdxReader.ReadImagesAndLabels(images, labels, classCount: 256);
        return new ImageSet(pixels.Data, values, 1, pixels.Shape[1], pixels.Shape[2]);
    }

    private static Benchmark FromImages(string name, ImageSet train, ImageSet test, IReadOnlyList<int[]> classGroups, double validFraction, int seed, string source)
    {
        var (mean, std) = train.ChannelMeanAndStd();
        using var trainSplit = train.ToNormalisedSplit(mean, std);
        using var testSplit = test.ToNormalisedSplit(mean, std);
        return FromSplits(name, trainSplit, testSplit, classGroups, validFraction, seed, source);
    }

    /// <summary>One task per class group: its samples of each split, relabelled, the training ones split for validation.</summary>
    private static Benchmark FromSplits(string name, Split train, Split test, IReadOnlyList<int[]> classGroups, double validFraction, int seed, string source)
    {
        if (!(validFraction is > 0 and < 1))
            throw new SettingException(typeof(Benchmark), "validFraction", FormattableString.Invariant($"must be strictly between 0 and 1 (got {validFraction})"));
        if (classGroups.Count == 0) throw new SettingException(typeof(Benchmark), nameof(classGroups), "must hold at least one group of classes");
        var trainLabels = train.Y.data<long>().ToArray();
        var testLabels = test.Y.data<long>().ToArray();
        var tasks = new List<TaskData>();
        try
        {
            for (var i = 0; i < classGroups.Count; i++)
            {
                var group = classGroups[i];
                var label = $"{nameof(classGroups)}[{i}] [{string.Join(", ", group)}]";
                if (group.Length < 2) throw new SettingException(typeof(Benchmark), label, "must hold at least 2 classes: a task of one class teaches nothing");
                if (group.Distinct().Count() != group.Length) throw new SettingException(typeof(Benchmark), label, "lists a class more than once");
                var taskName = $"{name}-{string.Join("-", group)}";
                using var full = Select(train, trainLabels, group);
                var perClass = full.SamplesPerClass(group.Length);
                var testPerClass = Count(testLabels, group);
                for (var c = 0; c < group.Length; c++)
                {
                    if (perClass[c] == 0) throw new SettingException(typeof(Benchmark), label, $"names class {group[c]}, which has no training sample");
                    if (testPerClass[c] == 0) throw new SettingException(typeof(Benchmark), label, $"names class {group[c]}, which has no test sample");
                }
                var (trainSplit, validSplit) = ExperimentCatalog.ValidationSplit(full, validFraction, seed);
                tasks.Add(new TaskData(taskName, group.Length, trainSplit, validSplit, Select(test, testLabels, group)));
                // Every class must be validated and trained: the best epoch is chosen on the validation loss.
                var validated = validSplit.SamplesPerClass(group.Length);
                var trained = trainSplit.SamplesPerClass(group.Length);
                for (var c = 0; c < group.Length; c++)
                    if (validated[c] == 0 || trained[c] == 0)
                        throw new SettingException(typeof(Benchmark), "validFraction", FormattableString.Invariant(
                            $"{validFraction} leaves class {group[c]} of task {taskName} ({perClass[c]} samples) with no {(validated[c] == 0 ? "validation" : "training")} sample"));
            }
        }
        catch
        {
            foreach (var task in tasks) task.Dispose();
            throw;
        }
        return new Benchmark(name, tasks, [.. train.X.shape[1..].Select(d => (int)d)], source);
    }

    /// <summary>The samples whose label is in <paramref name="group"/>, relabelled by their class's position in it.</summary>
    private static Split Select(Split split, long[] labels, int[] group)
    {
        var rows = Enumerable.Range(0, labels.Length).Where(r => Array.IndexOf(group, (int)labels[r]) >= 0).Select(r => (long)r).ToArray();
        return Split.Built(() => new Split(split.X.index_select(0, tensor(rows)), tensor(rows.Select(r => (long)Array.IndexOf(group, (int)labels[r])).ToArray())));
    }

    private static long[] Count(long[] labels, int[] group) =>
        group.Select(c => labels.LongCount(l => l == c)).ToArray();

    private static void RequireSamples(Tensor x, Tensor y, string xName, string yName)
    {
        if (x.dtype != ScalarType.Float32) throw new SettingException(typeof(Benchmark), xName, $"must be float32 (got {x.dtype})");
        if (x.dim() < 2) throw new SettingException(typeof(Benchmark), xName, $"must be samples × features (N × ...), got shape [{string.Join(", ", x.shape)}]");
        if (y.dim() != 1 || y.shape[0] != x.shape[0])
            throw new SettingException(typeof(Benchmark), yName, $"must hold one label per sample of {xName} ({x.shape[0]}), got shape [{string.Join(", ", y.shape)}]");
        if (y.is_floating_point() || y.dtype == ScalarType.Bool) throw new SettingException(typeof(Benchmark), yName, $"must hold integer labels (got {y.dtype})");
    }
}
