using System.Text.Json.Nodes;
using Retain.Evaluation;
using Retain.Experiments;
using Retain.Approaches;
using Retain.Networks;
using SkiaSharp;

namespace Retain.Tests;

/// <summary>
/// A user's mistakes, whichever command they reach, are one line and exit code 2 before any work: study files and
/// benchmarks that do not parse or ask for absurd counts, test labels never trained, outputs that cannot be written or
/// that hold results already; the messages name the option and what it takes.
/// </summary>
public class CommandInputTests(BaselinesSmallMnist mnist) : TempFolderTests, IClassFixture<BaselinesSmallMnist>
{
    private string Study(string name, string yaml)
    {
        var path = Path.Combine(Folder, name + ".yaml");
        File.WriteAllText(path, yaml);
        return path;
    }

    public static TheoryData<string, string> BadStudies => new()
    {
        { "name: x\nexperiments: [mnist2\nseeds: 1\napproaches: [sgd]\n", "not valid YAML" },
        { "name: x\nname: y\nexperiments: [mnist2]\nseeds: 1\napproaches: [sgd]\n", "line 2: Duplicate key" },
        { "name: x\nexperiments: [mnist2]\nseeds: 1\napproaches: {sgd: *a}\n", "The anchor 'a' does not exists" },
        { "name: x\nexperiments: [mnist2]\nseeds: 1\napproaches: {sgd: {}}\noptions: " + new string('[', 5000) + new string(']', 5000) + "\n", "nested more than 32 levels deep" },
        { "name: x\nexperiments: [mnist2]\nseeds: 2000000000\napproaches: [sgd]\n", "line 3: seeds: 2000000000 seeds, at most 10000" },
        { "name: x\nexperiments: [mnist2]\nseeds: 1\napproaches: {ewc: {grid: {lamb: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], nepochs: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], lr: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], sbatch: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]}}}\n", "11000 grid points, at most 10000 runs" },
        { "name: x\nexperiments: [mnist2]\nseeds: 1\noptions: {nepochs: many}\napproaches: [sgd]\n", "line 4 (mnist2_sgd_0): --nepochs: expected an integer (got 'many')" },
        { "name: x\nexperiments: [mnist2]\nseeds: 1\noptions: {lr: fast}\napproaches: [sgd]\n", "--lr: expected a number (got 'fast')" },
    };

    [Theory]
    [MemberData(nameof(BadStudies))]
    public void ABadStudyFileIsOneLineForEveryCommandThatReadsIt(string yaml, string expected)
    {
        var file = Study("bad", yaml);
        foreach (var args in new[] { new[] { "study", "run", file, "--dry-run" }, ["study", "summary", file], ["report", file] })
        {
            var error = CliRunner.Refuses(args);
            Assert.Contains(file, error);
            Assert.Contains(expected, error);
        }
    }

    [Fact]
    public void OptionsWithOneDashAreToldToTakeTwo()
    {
        Assert.Equal("retain: error: -nepochs: options take two dashes (--nepochs)", CliRunner.Refuses("run", "-e", "mnist2", "-a", "sgd", "-nepochs", "1"));
        Assert.Equal("retain: error: -lamb: options take two dashes (--lamb)", CliRunner.Refuses("run", "-e", "mnist2", "-a", "ewc", "-lamb", "1"));
        Assert.Equal("retain: error: -limit: options take two dashes (--limit)", CliRunner.Refuses("compress", "-e", "mnist2", "-limit", "10"));
    }

    /// <summary>A benchmark of 4x4 IDX images: training labels 0..3, test labels as given.</summary>
    private string IdxBenchmark(byte[] testLabels, string tasks = "{ \"type\": \"datasets\" }")
    {
        byte[] train = [.. Enumerable.Range(0, 40).Select(i => (byte)(i % 4))];
        foreach (var (prefix, labels) in new[] { ("train", train), ("test", testLabels) })
        {
            Write($"{prefix}-images", IdxReaderTests.Idx([labels.Length, 4, 4], [.. labels.SelectMany(l => Enumerable.Repeat((byte)(50 * l), 16))]));
            Write($"{prefix}-labels", IdxReaderTests.Idx([labels.Length], labels));
        }
        var path = Path.Combine(Folder, "bench.json");
        File.WriteAllText(path, $$"""
            { "name": "tiny", "network": "mlp", "image": { "channels": 1, "height": 4, "width": 4 }, "tasks": {{tasks}}, "valid_fraction": 0.5,
              "datasets": [ { "name": "d", "format": "idx", "train_images": "train-images", "train_labels": "train-labels",
                              "test_images": "test-images", "test_labels": "test-labels" } ] }
            """);
        return path;
    }

    [Fact]
    public void TestLabelsTheTrainingDataLacksAreRefusedBeforeTraining()
    {
        // Label 9 is past the head's four classes (torch's native error, after training, before); a test set without
        // class 2 is fine (its group [2, 3] is tested on class 3 alone).
        var bench = IdxBenchmark([0, 1, 2, 3, 9, 0, 1, 2]);
        var result = CliRunner.Run("run", "-e", bench, "-a", "sgd", "--nepochs", "1", "--output", Path.Combine(Folder, "r.txt"));
        Assert.Equal(2, result.Code);
        Assert.Equal($"retain: error: {bench}: task d: its test data has label 9, which its training data does not have", result.Error.Trim());
        Assert.DoesNotContain("train loss", result.Output);
        bench = IdxBenchmark([0, 1, 3, 0, 1, 3], "{ \"type\": \"class-groups\", \"dataset\": \"d\", \"groups\": [[0, 1], [2, 3]] }");
        Assert.Equal(0, CliRunner.Run("run", "-e", bench, "-a", "sgd", "--nepochs", "1", "--overwrite", "--output", Path.Combine(Folder, "r.txt")).Code);
    }

    [Fact]
    public void AMillionPermutationsAreRefusedBeforeAnythingIsAllocated()
    {
        var bench = IdxBenchmark([0, 1, 2, 3], """{ "type": "permutations", "dataset": "d", "count": 1000000 }""");
        Assert.Equal($"retain: error: {bench}: \"tasks.count\" must be 1..1000 (got 1000000)",
            CliRunner.Refuses("run", "-e", bench, "-a", "sgd", "--nepochs", "1", "--output", Path.Combine(Folder, "r.txt")));
    }

    [Fact]
    public void AFolderBenchmarkOfHugeImagesIsAUserError()
    {
        foreach (var split in new[] { "train", "test" })
            foreach (var (cls, shade) in new[] { ("a", SKColors.Black), ("b", SKColors.White) })
                Write($"{split}/{cls}/0.png", TestImages.Solid(8, 8, shade));
        var bench = Path.Combine(Folder, "huge.json");
        File.WriteAllText(bench, """
            { "datasets": [ { "name": "f", "format": "folder", "train": "train", "test": "test" } ],
              "image": { "channels": 3, "height": 5000, "width": 5000 }, "tasks": { "type": "datasets" } }
            """);
        Assert.Equal($"retain: error: {bench}: \"image\" needs channels 1 or 3 and a height and width of 1..4096",
            CliRunner.Refuses("run", "-e", bench, "-a", "sgd", "--output", Path.Combine(Folder, "r.txt")));
    }

    [Fact]
    public void AbsurdSeedCountsOfCompressAreRefused()
    {
        var seeds = string.Join(",", Enumerable.Range(0, 2000));
        Assert.Equal("retain: error: --seed: 2000 seeds, at most 1000 (each is a training run)", CliRunner.Refuses("compress", "-e", "mnist2", "--seed", seeds));
    }

    private string[] Compress(string output, params string[] extra) =>
        ["compress", "-e", "mnist2", "--nepochs", "1", "--limit", "60", "--sbatch", "16", "--data", mnist.DataDir, "--output", output, .. extra];

    [Fact]
    public void CompressRefusesToReplaceResultsWithoutOverwriteAndNeverReplacesARunsRecord()
    {
        var output = Path.Combine(Folder, "c");
        Assert.Equal(0, CliRunner.Run(Compress(output)).Code);
        var json = File.ReadAllText(output + ".json");

        // Its own results again: refused before any training, nothing touched; --overwrite replaces them.
        var again = CliRunner.Run(Compress(output));
        Assert.Equal(2, again.Code);
        Assert.Equal($"retain: error: --output: {output}.csv already exists; add --overwrite to replace it, or write elsewhere", again.Error.Trim());
        Assert.DoesNotContain("epoch", again.Output);
        Assert.Equal(json, File.ReadAllText(output + ".json"));
        Assert.Equal(0, CliRunner.Run(Compress(output, "--overwrite")).Code);

        // A run's record at the same stem is never replaced, not even with --overwrite.
        var run = Path.Combine(Folder, "mnist2_sgd_0");
        File.WriteAllText(run + ".json", """{ "experiment": "mnist2", "task_names": ["a", "b"], "accuracy": [[0.9, 0], [0.8, 0.9]] }""");
        Assert.Equal($"retain: error: --output: {run}.json already exists; add --overwrite to replace it, or write elsewhere", CliRunner.Refuses(Compress(run)));
        Assert.Equal($"retain: error: --output: {run}.json is there and is not a compression result (a retain run's record?); write elsewhere",
            CliRunner.Refuses(Compress(run, "--overwrite")));
        Assert.Contains("task_names", File.ReadAllText(run + ".json"));
    }

    [Fact]
    public void OutputsOfCompressReportAndInspectAreCheckedBeforeAnyWork()
    {
        var file = Path.Combine(Folder, "a-file");
        File.WriteAllText(file, "");
        var folder = Directory.CreateDirectory(Path.Combine(Folder, "adir")).FullName;
        var results = Directory.CreateDirectory(Path.Combine(Folder, "res")).FullName;
        ResultFiles.WriteAccuracyMatrix(Path.Combine(results, "mnist2_sgd_0.txt"), [[0.9, 0], [0.8, 0.9]]);
        var model = Path.Combine(Folder, "m.model");
        File.WriteAllText(model, "{}");
        var cases = new (string[] Args, string Expected)[]
        {
            (Compress(folder + "/"), $"--output {folder}/: names a folder; give a file in it"),
            (Compress(folder), $"--output {folder}: is a folder, not a file"),
            (Compress(""), "--output: empty path, give a file"),
            (Compress(Path.Combine(Folder, "c.csv")), $"--output {Path.Combine(Folder, "c.csv")}: give the path without extension; compress writes .csv, .json and .png files there"),
            (Compress("/proc/c"), "--output /proc/c: cannot write in /proc"),
            (Compress("/sys/c"), "--output /sys/c: cannot write in /sys"),
            (Compress(Path.Combine(file, "c")), $"{file} is a file, not a folder"),
            (["report", results, "-o", "/proc/r"], "--output /proc/r: cannot write in /proc"),
            (["report", results, "-o", "/sys/r"], "--output /sys/r: cannot write in /sys"),
            (["report", results, "-o", file], $"--output {file}: is a file, not a folder"),
            (["inspect", "masks", model, "-o", "/proc/m"], "--output /proc/m: cannot write in /proc"),
            (["inspect", "masks", model, "-o", "/sys/m"], "--output /sys/m: cannot write in /sys"),
            (["inspect", "masks", model, "-o", file], $"--output {file}: is a file, not a folder"),
        };
        foreach (var (args, expected) in cases)
            Assert.Contains(expected, CliRunner.Refuses(args));
        // Nothing written, no hidden .json, .csv or .png in the folder.
        Assert.Empty(Directory.EnumerateFileSystemEntries(folder));
        Assert.Equal(["mnist2_sgd_0.txt"], Directory.EnumerateFileSystemEntries(results).Select(Path.GetFileName));
    }

    [Fact]
    public void AFailedWriteRemovesItsTemporaryFileAndNamesTheFile()
    {
        var path = Path.Combine(Folder, "result.json");
        var error = Assert.Throws<RetainException>(() => ResultFiles.WriteAtomically(path, tmp =>
        {
            File.WriteAllText(tmp, "half a record");
            throw new IOException("No space left on device");
        }));
        Assert.Equal($"{path}: cannot write (No space left on device)", error.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(Folder));
    }

    [Fact]
    public void AReportOfTwoRunsOfOneNameFromTwoFoldersShowsBoth()
    {
        var (a, b) = (Directory.CreateDirectory(Path.Combine(Folder, "a")).FullName, Directory.CreateDirectory(Path.Combine(Folder, "b")).FullName);
        ReportFixtures.Matrix(a, "exp3_sgd_0", ReportFixtures.Sgd0);
        ReportFixtures.Record(a, "exp3_sgd_0", ReportFixtures.Sgd0, [0.1, 0.6, 0.45], ReportFixtures.Sgd0, ReportFixtures.History(null));
        ReportFixtures.Matrix(b, "exp3_sgd_0", ReportFixtures.Ewc0);
        var history = ReportFixtures.History(null).Select(e => e with { TrainLoss = 7 }).ToList();
        ReportFixtures.Record(b, "exp3_sgd_0", ReportFixtures.Ewc0, [0.1, 0.5, 0.5], ReportFixtures.Ewc0, history);
        var output = Path.Combine(Folder, "report");
        Assert.Equal(0, CliRunner.Run("report", a, b, "-o", output).Code);

        var curves = Directory.GetFiles(output, "*_curves.png").Select(f => Path.GetFileName(f)).Order().ToArray();
        Assert.Equal(["a_exp3_sgd_0_curves.png", "b_exp3_sgd_0_curves.png"], curves);
        Assert.NotEqual(File.ReadAllBytes(Path.Combine(output, curves[0])), File.ReadAllBytes(Path.Combine(output, curves[1])));
        var csv = File.ReadAllLines(Path.Combine(output, "report.csv"));
        Assert.Contains(csv, l => l.Contains(",a/exp3_sgd_0,", StringComparison.Ordinal) && l.Contains("train loss", StringComparison.Ordinal));
        Assert.Contains(csv, l => l.Contains(",b/exp3_sgd_0,", StringComparison.Ordinal) && l.Contains(",7,", StringComparison.Ordinal));
        var page = File.ReadAllText(Path.Combine(output, "report.html"));
        Assert.Contains(">a/exp3_sgd_0</h4>", page);
        Assert.Contains(">b/exp3_sgd_0</h4>", page);
    }
}

/// <summary>Networks too large for the machine are refused before they are allocated, counted on torch's meta device.</summary>
public class NetworkBudgetTests : TempFolderTests
{
    public static TheoryData<string> Approaches => new(ApproachRegistry.All.Select(a => a.Name));

    [Theory]
    [MemberData(nameof(Approaches))]
    public void TheMetaDeviceCountsTheParametersOfEveryApproachsNetwork(string name)
    {
        var setup = ApproachRegistry.Get(name).Bind(new Dictionary<string, string>(), BackboneRegistry.Mlp);
        var shape = new NetworkShape([1, 28, 28], [5, 5]);
        using var network = setup.CreateNetwork(BackboneRegistry.Mlp, shape);
        Assert.Equal(network.ParameterCount, NetworkBudget.CountWithoutAllocating(setup, BackboneRegistry.Mlp, shape));
        Assert.Equal(TorchSharp.DeviceType.CPU, TorchSharp.torch.get_default_device().type);
    }

    [Theory]
    [InlineData("retain: error: the dwa network of --emb_size 100000000 has ", "-a", "dwa", "--emb_size", "100000000")]
    [InlineData("retain: error: the dwa network of --processor_feats 100000,100000 has ", "-a", "dwa", "--processor_feats", "100000,100000")]
    [InlineData("retain: error: --modules must be at most 256 (got 1000000)", "-a", "pathnet", "--modules", "1000000")]
    [InlineData("retain: error: --threads must be at most ", "-a", "sgd", "--threads", "1000000")]
    public void AbsurdSizesAreRefusedBeforeTheNetworkIsAllocated(string expected, params string[] args)
    {
        var output = Path.Combine(Folder, "out.txt");
        var result = CliRunner.Run(["run", "-e", "mnist2", "--nepochs", "1", "--limit", "20", "--data", TestSupport.DataDir, "--output", output, .. args]);
        Assert.Equal(2, result.Code);
        Assert.StartsWith(expected, result.Error.Trim());
        Assert.DoesNotContain("train loss", result.Output);
        Assert.False(File.Exists(output));
    }
}
