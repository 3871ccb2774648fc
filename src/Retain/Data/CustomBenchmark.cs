using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Retain.Networks;

namespace Retain.Data;

/// <summary>
/// A benchmark described in a JSON file (<c>retain run --experiment my-bench.json</c>): data sets from IDX files or
/// image folders (one subfolder per class), how tasks are formed, image size and channels, and the normalisation
/// (computed from the training images when not given). Paths are relative to the JSON file's folder.
/// </summary>
internal sealed record CustomBenchmarkSpec
{
    public string Name { get; init; } = "custom";
    public required List<DatasetSpec> Datasets { get; init; }
    public required ImageSpec Image { get; init; }
    public required TaskSpec Tasks { get; init; }
    public NormalisationSpec? Normalisation { get; init; }
    public double ValidFraction { get; init; } = 0.1;
    /// <summary>Shuffle the task order with the run's seed (as the seed's cifar and mixture experiments do).</summary>
    public bool ShuffleTasks { get; init; } = true;
    /// <summary>"mlp" or "alexnet"; default AlexNet (which needs images of at least 28x28).</summary>
    public string? Network { get; init; }
    /// <summary>
    /// The scenarios the benchmark may be run in (task, domain, class). Default: task and class, and domain where the
    /// file shows every task with as many classes (class groups of one size, permutations).
    /// </summary>
    public List<string>? Scenarios { get; init; }

    public sealed record DatasetSpec
    {
        public required string Name { get; init; }
        /// <summary>"idx" (four IDX files, raw or gzip'd) or "folder" (train and test folders of class subfolders).</summary>
        public required string Format { get; init; }
        public string? TrainImages { get; init; }
        public string? TrainLabels { get; init; }
        public string? TestImages { get; init; }
        public string? TestLabels { get; init; }
        public string? Train { get; init; }
        public string? Test { get; init; }
    }

    public sealed record ImageSpec(int Channels, int Height, int Width);

    public sealed record TaskSpec
    {
        /// <summary>"class-groups" (tasks are groups of one data set's classes), "permutations" (pixel permutations of one data set), or "datasets" (one task per data set).</summary>
        public required string Type { get; init; }
        public string? Dataset { get; init; }
        public List<List<int>>? Groups { get; init; }
        public int Count { get; init; }
    }

    public sealed record NormalisationSpec(float[] Mean, float[] Std);
}

internal static class CustomBenchmark
{
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    public static bool IsCustom(string experiment) => experiment.EndsWith(".json", StringComparison.OrdinalIgnoreCase);

    public static CustomBenchmarkSpec ReadSpec(string path)
    {
        if (!File.Exists(path)) throw new DataFileException(path, "benchmark file not found");
        try
        {
            var spec = JsonSerializer.Deserialize<CustomBenchmarkSpec>(File.ReadAllText(path), Json)
                ?? throw new DataFileException(path, "empty benchmark description");
            Validate(path, spec);
            return spec;
        }
        catch (JsonException e) { throw new DataFileException(path, $"invalid benchmark description ({e.Message.Split('\n')[0]})", e); }
    }

    private static void Validate(string path, CustomBenchmarkSpec spec)
    {
        void Require(bool ok, string problem) { if (!ok) throw new DataFileException(path, problem); }
        // JSON null passes the deserialiser even for required members.
        Require(spec.Name is not null, "\"name\" is null");
        Require(spec.Datasets is not null && spec.Datasets.All(d => d is { Name: not null, Format: not null }), "\"datasets\" must be a list of data sets, each with a name and a format");
        Require(spec.Tasks is { Type: not null }, "\"tasks\" needs a \"type\"");
        Require(spec.Normalisation is null || spec.Normalisation is { Mean: not null, Std: not null }, "\"normalisation\" needs \"mean\" and \"std\"");
        Require(spec.Datasets!.Count > 0, "\"datasets\" is empty");
        Require(spec.Image is { Channels: 1 or 3, Height: > 0 and <= ImageFolderReader.MaxSide, Width: > 0 and <= ImageFolderReader.MaxSide },
            $"\"image\" needs channels 1 or 3 and a height and width of 1..{ImageFolderReader.MaxSide}");
        // 0 would leave no validation sample (a NaN validation loss: no epoch is ever best, the trained weights are
        // thrown away), 1 no training sample.
        Require(spec.ValidFraction is > 0 and < 1, $"\"valid_fraction\" must be strictly between 0 and 1 (got {spec.ValidFraction.ToString(CultureInfo.InvariantCulture)})");
        Require(spec.Network is null || BackboneRegistry.All.Any(b => b.Name == spec.Network), $"\"network\" must be {BackboneRegistry.KnownNames}");
        foreach (var d in spec.Datasets)
            Require(d.Format switch
            {
                "idx" => d is { TrainImages: not null, TrainLabels: not null, TestImages: not null, TestLabels: not null },
                "folder" => d is { Train: not null, Test: not null },
                _ => false,
            }, $"data set '{d.Name}': format \"idx\" needs train_images, train_labels, test_images, test_labels; format \"folder\" needs train and test");
        Require(spec.Datasets.Select(d => d.Name).Distinct().Count() == spec.Datasets.Count, "data set names must be unique");
        if (spec.Scenarios is { } scenarios)
        {
            Require(scenarios.Count > 0 && scenarios.All(n => Retain.Scenarios.All.Any(sc => sc.Name() == n)),
                $"\"scenarios\" must list task, domain or class (got [{string.Join(", ", scenarios)}])");
            Require(!scenarios.Contains("domain") || EqualClassCounts(spec) != false,
                $"\"scenarios\" lists domain, but the class groups have different sizes ({string.Join(", ", spec.Tasks.Groups?.Select(g => g?.Count ?? 0).Distinct() ?? [])}), and domain-IL shares one head over a task's classes");
        }
        var known = spec.Datasets.Select(d => d.Name).ToHashSet();
        switch (spec.Tasks.Type)
        {
            case "class-groups":
                Require(spec.Tasks.Dataset is not null && known.Contains(spec.Tasks.Dataset), "\"tasks.dataset\" must name one of the data sets");
                Require(spec.Tasks.Groups is { Count: > 0 }, "\"tasks.groups\" needs at least one group of class labels");
                Require(spec.Tasks.Groups!.Count <= MaxTasks, $"\"tasks.groups\" has {spec.Tasks.Groups.Count} groups, at most {MaxTasks} tasks are supported");
                for (var i = 0; i < spec.Tasks.Groups!.Count; i++)
                {
                    var group = spec.Tasks.Groups[i] ?? []; // JSON null
                    Require(group.Count >= 2, $"{GroupName(i, group)} has {group.Count} class{(group.Count == 1 ? "" : "es")}: a task needs at least 2");
                    var repeated = group.GroupBy(l => l).FirstOrDefault(g => g.Count() > 1);
                    Require(repeated is null, $"{GroupName(i, group)} lists class {repeated?.Key} more than once");
                }
                break;
            case "permutations":
                Require(spec.Tasks.Dataset is not null && known.Contains(spec.Tasks.Dataset), "\"tasks.dataset\" must name one of the data sets");
                Require(spec.Tasks.Count is > 0 and <= MaxTasks, $"\"tasks.count\" must be 1..{MaxTasks} (got {spec.Tasks.Count})");
                break;
            case "datasets":
                break;
            default:
                Require(false, $"\"tasks.type\" must be class-groups, permutations or datasets (got '{spec.Tasks.Type}')");
                break;
        }
    }

    /// <summary>Whether every task has as many classes, as far as the file tells without the data (null: only the data tells).</summary>
    private static bool? EqualClassCounts(CustomBenchmarkSpec spec) => spec.Tasks.Type switch
    {
        "class-groups" => spec.Tasks.Groups?.Select(g => g?.Count ?? 0).Distinct().Count() <= 1,
        "permutations" => true,
        _ => null,
    };

    /// <summary>The scenarios the benchmark file declares, or its default (task and class, domain where the file shows equal class counts).</summary>
    public static ScenarioSupport Scenarios(CustomBenchmarkSpec spec, string path)
    {
        if (spec.Scenarios is { } declared)
        {
            var scenarios = Retain.Scenarios.All.Where(s => declared.Contains(s.Name())).ToArray();
            return new ScenarioSupport(scenarios, scenarios.Length == 3 ? null : $"as {Path.GetFileName(path)} declares in \"scenarios\"");
        }
        return EqualClassCounts(spec) == true ? ScenarioSupport.All
            : new ScenarioSupport([Scenario.Task, Scenario.Class], $"{Path.GetFileName(path)} declares no \"scenarios\", and domain-IL needs tasks of one class count: list it there if they have");
    }

    /// <summary>More tasks than this is a mistake in the file, refused before anything is allocated.</summary>
    public const int MaxTasks = 1000;

    private static string GroupName(int index, List<int> group) => $"\"tasks.groups\"[{index}] [{string.Join(", ", group)}]";

    /// <summary>Labels as "0..9" when they run without a gap from 0, else listed.</summary>
    private static string DescribeLabels(IReadOnlyCollection<int> labels) =>
        labels.Count > 2 && labels.Min() == 0 && labels.Max() == labels.Count - 1 ? $"0..{labels.Count - 1}" : string.Join(", ", labels.Order());

    public static Benchmark Load(string path, int seed)
    {
        var spec = ReadSpec(path);
        var root = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var images = spec.Datasets.ToDictionary(d => d.Name, d => Read(root, d, spec.Image));
        var (mean, std) = spec.Normalisation is { } n ? (n.Mean, n.Std) : ImageSet.ChannelMeanAndStd(images.Values.Select(i => i.Train).ToArray());
        if (mean.Length != spec.Image.Channels || std.Length != spec.Image.Channels || std.Any(s => !(s > 0)))
            throw new DataFileException(path, $"\"normalisation\" needs {spec.Image.Channels} means and {spec.Image.Channels} positive stds");

        RequireMemory(path, spec, images);

        // Labels: the data set's label of each class of the task (class-groups relabel theirs to 0..k-1).
        var raw = new List<(string Name, int[] Labels, ImageSet Train, ImageSet Test, long[]? Permutation)>();
        switch (spec.Tasks.Type)
        {
            case "class-groups":
                var (train, test) = images[spec.Tasks.Dataset!];
                var known = train.Labels.Select(l => (int)l).ToHashSet();
                for (var i = 0; i < spec.Tasks.Groups!.Count; i++)
                {
                    var group = spec.Tasks.Groups[i];
                    // Compared as ints: -1 or 256 match no (byte) label instead of wrapping around to 255 or 0.
                    foreach (var label in group.Where(l => !known.Contains(l)))
                        throw new DataFileException(path, $"{GroupName(i, group)}: class {label} is not a label of data set '{spec.Tasks.Dataset}' (its training labels: {DescribeLabels(known)})");
                    bool InGroup(byte label) => group.Contains(label);
                    byte Relabel(byte label) => (byte)group.IndexOf(label);
                    raw.Add(($"{spec.Tasks.Dataset}-{string.Join("-", group)}", group.ToArray(), train.Where(InGroup, Relabel), test.Where(InGroup, Relabel), null));
                }
                break;
            case "permutations":
                var source = images[spec.Tasks.Dataset!];
                var labels = Enumerable.Range(0, source.Train.Labels.Max() + 1).ToArray();
                var ids = Enumerable.Range(0, spec.Tasks.Count).ToArray();
                new NumpyRandomState((uint)seed).Shuffle(ids);
                for (var i = 0; i < ids.Length; i++)
                    raw.Add(($"{spec.Tasks.Dataset}-perm{i}", labels, source.Train, source.Test,
                        ExperimentCatalog.PixelPermutation(ids[i], i, source.Train.ImageBytes)));
                break;
            default:
                raw.AddRange(spec.Datasets.Select(d => (d.Name, Enumerable.Range(0, images[d.Name].Train.Labels.Max() + 1).ToArray(),
                    images[d.Name].Train, images[d.Name].Test, (long[]?)null)));
                break;
        }
        var order = Enumerable.Range(0, raw.Count).ToArray();
        if (spec.ShuffleTasks && spec.Tasks.Type != "permutations") new NumpyRandomState((uint)seed).Shuffle(order);

        var tasks = new List<TaskData>();
        try
        {
            foreach (var k in order)
            {
                var (name, labels, trainSet, testSet, permutation) = raw[k];
                if (trainSet.Count == 0 || testSet.Count == 0) throw new DataFileException(path, $"task {name} has no training or no test images");
                // A test label never trained is scored as a mistake the network cannot avoid (and one past the head's classes cannot be scored).
                var trained = trainSet.Labels.ToHashSet();
                if (testSet.Labels.Where(l => !trained.Contains(l)).Select(l => (int?)l).FirstOrDefault() is { } untrained)
                    throw new DataFileException(path, $"task {name}: its test data has label {(untrained < labels.Length ? labels[untrained] : untrained)}, which its training data does not have");
                using var full = Permute(trainSet.ToNormalisedSplit(mean, std), permutation);
                var present = full.SamplesPerClass(labels.Length);
                var classesPresent = present.Count(n => n > 0);
                if (classesPresent < 2)
                    throw new DataFileException(path, $"task {name} has {classesPresent} class{(classesPresent == 1 ? "" : "es")} in its training data: a task needs at least 2");
                var (tr, va) = ExperimentCatalog.ValidationSplit(full, spec.ValidFraction, seed);
                var task = new TaskData(name, labels.Length, tr, va, Permute(testSet.ToNormalisedSplit(mean, std), permutation));
                tasks.Add(task);
                // Every class must be validated (and still trained): the best epoch is chosen on the validation loss.
                foreach (var (split, counts) in new[] { ("validation", va.SamplesPerClass(labels.Length)), ("training", tr.SamplesPerClass(labels.Length)) })
                {
                    var missing = Enumerable.Range(0, labels.Length).Where(c => present[c] > 0 && counts[c] == 0).ToArray();
                    if (missing.Length > 0)
                        throw new DataFileException(path, $"\"valid_fraction\" {spec.ValidFraction.ToString(CultureInfo.InvariantCulture)} leaves class {labels[missing[0]]} of task {name} ({present[missing[0]]} training images) with no {split} sample");
                }
            }
        }
        catch
        {
            foreach (var task in tasks) task.Dispose();
            throw;
        }
        if (spec.Scenarios?.Contains("domain") == true && tasks.Select(t => t.ClassCount).Distinct().Count() > 1)
        {
            foreach (var task in tasks) task.Dispose();
            throw new DataFileException(path, $"\"scenarios\" lists domain, but the tasks have different numbers of classes ({string.Join(", ", tasks.Select(t => $"{t.Name} {t.ClassCount}"))}), and domain-IL shares one head over a task's classes");
        }
        var size = new[] { spec.Image.Channels, spec.Image.Height, spec.Image.Width };
        return new Benchmark(spec.Name, tasks, size, Path.GetFullPath(path)) { Backbone = Backbone(spec) };
    }

    /// <summary>
    /// The tasks' samples as float tensors (4 bytes a value) must fit in this machine's memory: refused before they
    /// are built, naming what to reduce, rather than ending in an allocation failure.
    /// </summary>
    private static void RequireMemory(string path, CustomBenchmarkSpec spec, Dictionary<string, (ImageSet Train, ImageSet Test)> images)
    {
        long Samples((ImageSet Train, ImageSet Test) d, Func<byte, bool> keep) =>
            d.Train.Labels.LongCount(keep) + d.Test.Labels.LongCount(keep);
        var samples = spec.Tasks.Type switch
        {
            "class-groups" => spec.Tasks.Groups!.Sum(g => Samples(images[spec.Tasks.Dataset!], l => g.Contains(l))),
            "permutations" => spec.Tasks.Count * Samples(images[spec.Tasks.Dataset!], _ => true),
            _ => images.Values.Sum(d => Samples(d, _ => true)),
        };
        var bytes = samples * spec.Image.Channels * spec.Image.Height * spec.Image.Width * sizeof(float);
        var available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if (bytes > available)
            throw new DataFileException(path, string.Create(CultureInfo.InvariantCulture,
                $"its tasks hold {samples} samples of {spec.Image.Channels}x{spec.Image.Height}x{spec.Image.Width}, {bytes / 1e9:F1} GB as tensors, more than this machine's {available / 1e9:F1} GB of memory: use fewer tasks or smaller images"));
    }

    /// <summary>The benchmark's network: the registered backbone it names, AlexNet when it names none.</summary>
    public static BackboneArchitecture Backbone(CustomBenchmarkSpec spec) =>
        spec.Network is null ? BackboneRegistry.AlexNet : BackboneRegistry.Get(spec.Network, "\"network\"");

    private static (ImageSet Train, ImageSet Test) Read(string root, CustomBenchmarkSpec.DatasetSpec d, CustomBenchmarkSpec.ImageSpec image)
    {
        string At(string relative) => Path.Combine(root, relative);
        if (d.Format == "folder")
        {
            var trainFolder = ImageFolderReader.Read(At(d.Train!), image.Channels, image.Height, image.Width);
            var testFolder = ImageFolderReader.Read(At(d.Test!), image.Channels, image.Height, image.Width);
            // Labels are the positions of the sorted class folders, so both folders must hold the same classes.
            if (!testFolder.ClassNames.SequenceEqual(trainFolder.ClassNames))
                throw new DataFileException(At(d.Test!), $"class folders {string.Join(", ", testFolder.ClassNames)} differ from the training folder's {string.Join(", ", trainFolder.ClassNames)}");
            return (trainFolder.Images, testFolder.Images);
        }
        var train = Mnist.ReadIdxPair(At(d.TrainImages!), At(d.TrainLabels!));
        var test = Mnist.ReadIdxPair(At(d.TestImages!), At(d.TestLabels!));
        if (train.Height != image.Height || train.Width != image.Width || test.Height != image.Height || test.Width != image.Width)
            throw new DataFileException(At(d.TrainImages!), $"images are {train.Height}x{train.Width}, the benchmark says {image.Height}x{image.Width}");
        return image.Channels == 1 ? (train, test) : (ToRgb(train), ToRgb(test));
    }

    /// <summary>A gray set as three identical channels.</summary>
    private static ImageSet ToRgb(ImageSet gray)
    {
        var plane = gray.Height * gray.Width;
        var pixels = new byte[gray.Pixels.LongLength * 3];
        for (var i = 0; i < gray.Count; i++)
            for (var c = 0; c < 3; c++)
                Array.Copy(gray.Pixels, (long)i * plane, pixels, ((long)i * 3 + c) * plane, plane);
        return gray with { Pixels = pixels, Channels = 3 };
    }

    private static Split Permute(Split split, long[]? permutation)
    {
        if (permutation is null) return split;
        var permuted = split.PermutePixels(permutation);
        split.Dispose();
        return permuted;
    }
}
