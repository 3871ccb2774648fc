using Retain.Cli;

namespace Retain.Tests;

public class CliTests : TempFolderTests
{
    private static (int Code, string Error) Run(params string[] args)
    {
        var result = CliRunner.Run(args);
        return (result.Code, result.Error);
    }

    [Theory]
    [InlineData("--experiment: unknown experiment 'nope'", "run", "--experiment", "nope", "--approach", "sgd")]
    [InlineData("--approach: unknown approach 'nope'", "run", "--experiment", "mnist2", "--approach", "nope")]
    [InlineData("--nepochs must be at least 1", "run", "--experiment", "mnist2", "--approach", "sgd", "--nepochs", "0")]
    [InlineData("--seed must be at least 0 (got -1)", "run", "--experiment", "mnist2", "--approach", "sgd", "--seed", "-1")]
    [InlineData("--data /etc/passwd: a file, where the data folder goes (--data or RETAIN_DATA)", "run", "--experiment", "mnist2", "--approach", "sgd", "--data", "/etc/passwd")]
    [InlineData("no-such-run.txt: file not found", "metrics", "no-such-run.txt")]
    [InlineData("--warmup", "run", "--experiment", "mnist2", "--approach", "sgd", "--warmup", "x")]
    [InlineData("--experiment is required", "run", "--approach", "sgd")]
    [InlineData("--device", "run", "--experiment", "mnist2", "--approach", "sgd", "--device", "tpu")]
    [InlineData("--network: expected mlp or alexnet", "run", "--experiment", "mnist2", "--approach", "sgd", "--network", "vgg")]
    [InlineData("--limit must be at least 1", "run", "--experiment", "mnist2", "--approach", "sgd", "--limit", "0")]
    [InlineData("--sbatch must be at least 1 (got 0)", "run", "--experiment", "mnist2", "--approach", "sgd", "--sbatch", "0")]
    [InlineData("--nepochs must be at least 20 (got 5): pathnet", "run", "--experiment", "mnist2", "--approach", "pathnet", "--nepochs", "5")]
    [InlineData("--use_stem must be between 0 and 2", "run", "--experiment", "mnist2", "--approach", "dwa", "--use_stem", "3", "--limit", "20")]
    [InlineData("--test-mode must be between 1 and 2", "run", "--experiment", "mnist2", "--approach", "sgd", "--test-mode", "3", "--limit", "20")]
    [InlineData("error: --limit 1 is below the 5 classes of task mnist-0-4", "run", "--experiment", "mnist2", "--approach", "sgd", "--limit", "1")]
    [InlineData("bench: unknown benchmark 'nope'", "bench", "nope")]
    [InlineData("--lamb: not an option of sgd", "run", "--experiment", "mnist2", "--approach", "sgd", "--lamb", "3")]
    [InlineData("error: --lamb: needs a value", "run", "--experiment", "mnist2", "--approach", "ewc", "--lamb")]
    [InlineData("error: --nepochs: expected an integer (got 'abc')", "run", "-e", "mnist2", "-a", "sgd", "--nepochs", "abc")]
    [InlineData("error: --nepochs: expected an integer (got '1.5')", "run", "-e", "mnist2", "-a", "sgd", "--nepochs=1.5")]
    [InlineData("error: --seed: expected an integer (got 'x')", "run", "-e", "mnist2", "-a", "sgd", "--lr", "0.1", "--seed", "x")]
    [InlineData("error: --lr: expected a number (got 'fast')", "run", "-e", "mnist2", "-a", "sgd", "--lr:fast", "--limit", "slow")]
    [InlineData("error: --clipgrad: expected a number (got '1e')", "run", "-e", "mnist2", "-a", "sgd", "--clipgrad", "1e")]
    [InlineData("error: --lamb: expected a number (got 'big')", "compress", "-e", "mnist2", "--seed", "0,1", "--lamb", "big")]
    [InlineData("error: --sbatch: expected an integer (got '6.4')", "compress", "-e", "mnist2", "--sbatch", "6.4")]
    public void BadOptionsGiveOneLineAndExitCode2(string expected, params string[] args)
    {
        var (code, error) = Run(args);
        Assert.Equal(2, code);
        Assert.Contains(expected, error);
        Assert.Single(error.TrimEnd().Split('\n'));
    }

    /// <summary>
    /// An option a command does not declare is refused before the command does anything, with the closest declared
    /// option when one is a typo away: a misspelt --dry-run once started a study's runs, a misspelt --output once wrote
    /// a report elsewhere. run takes the approach's own options, but a typo of one of its own is named as such.
    /// </summary>
    [Fact]
    public void AnOptionACommandDoesNotDeclareIsRefusedWithTheClosestOne()
    {
        var study = Path.Combine(Folder, "s.yaml");
        File.WriteAllText(study, "name: s\noutput: out\nexperiments: [mnist2]\nseeds: 1\napproaches:\n  sgd: {}\n");
        Assert.Equal("retain: error: --dryrun: not an option of retain study run; did you mean --dry-run? (see retain study run --help)",
            CliRunner.Refuses("study", "run", study, "--dryrun"));
        Assert.False(Directory.Exists(Path.Combine(Folder, "out")), "the study started");
        Assert.Equal("retain: error: --ouput: not an option of retain report; did you mean --output? (see retain report --help)",
            CliRunner.Refuses("report", Folder, "--ouput", Path.Combine(Folder, "r")));
        Assert.Equal("retain: error: --bogus: not an option of retain study status (see retain study status --help)",
            CliRunner.Refuses("study", "status", study, "--bogus"));
        Assert.Equal("retain: error: --nepoch: not an option of retain compress; did you mean --nepochs? (see retain compress --help)",
            CliRunner.Refuses("compress", "--experiment", "mnist2", "--nepoch", "1"));
        Assert.Equal("retain: error: --nepoch: not an option of retain run nor of ewc; did you mean --nepochs?",
            CliRunner.Refuses("run", "-e", "mnist2", "-a", "ewc", "--nepoch", "3"));
        // A single-dash word is named as typed, not as the short options Spectre splits it into.
        Assert.Equal("retain: error: -slurm: options take two dashes (--slurm)", CliRunner.Refuses("study", "run", study, "-slurm"));
        Assert.False(Directory.Exists(Path.Combine(Folder, "out")), "the study started");
        // A typo as close to an option of the approach's as to one of run's is left to the approach's check.
        Assert.Contains("--deta: not an option of dwa (its options: ", CliRunner.Refuses("run", "-e", "mnist2", "-a", "dwa", "--deta", "3"));
        // An approach's own option is still the approach's, and an unknown one is named with the approach's options.
        Assert.Contains("--lamda: not an option of ewc (its options: --lamb",
            CliRunner.Refuses("run", "-e", "mnist2", "-a", "ewc", "--lamda", "3"));
    }

    /// <summary>A study's runs are checked before any runs: a --test-mode beyond a built-in experiment's tasks is named at its line.</summary>
    [Fact]
    public void AStudyWhoseTestModeExceedsTheTasksIsRefusedBeforeItRuns()
    {
        var study = Path.Combine(Folder, "t.yaml");
        File.WriteAllText(study, "name: t\noutput: out\nexperiments: [pmnist]\nseeds: 1\noptions: {test-mode: 20}\napproaches:\n  sgd: {}\n");
        Assert.Equal($"retain: error: {study}: line 5 (pmnist_sgd_0): --test-mode must be between 1 and 10, the benchmark's tasks (got 20)",
            CliRunner.Refuses("study", "run", study, "--dry-run"));
        Assert.Equal("retain: error: --test-mode must be between 1 and 8, the benchmark's tasks (got 9)",
            CliRunner.Refuses("run", "-e", "mixture", "-a", "sgd", "--test-mode", "9", "--data", Folder));
    }

    /// <summary>Output piped to a file keeps its long lines: Spectre laid it out for 80 columns and split them.</summary>
    [Fact]
    public void PipedOutputIsNotWrappedAtEightyColumns()
    {
        var (code, output, error) = CliProcess.Run(Folder, "approaches", "dwa");
        Assert.True(code == 0, error);
        Assert.Contains(output.Split('\n'), l => l.Contains("base loop:") && l.Contains("linear:nepochs/2:0.2"));
    }

    [Theory]
    [InlineData("nepochs", "nepochs", 0)]
    [InlineData("nepoch", "nepochs", 1)]
    [InlineData("dryrun", "dry-run", 1)]
    [InlineData("ouput", "output", 1)]
    [InlineData("", "abc", 3)]
    [InlineData("kitten", "sitting", 3)]
    public void EditDistanceCountsInsertionsDeletionsAndSubstitutions(string a, string b, int distance)
    {
        Assert.Equal(distance, UndeclaredOptions.EditDistance(a, b));
        Assert.Equal(distance, UndeclaredOptions.EditDistance(b, a));
    }

    [Fact]
    public void RunHelpRenders()
    {
        var help = CliRunner.Run("run", "--help");
        Assert.Equal(0, help.Code);
        Assert.Contains("--experiment", help.Output);
        Assert.Contains("_<name>", help.Output);
    }

    [Fact]
    public void ApproachesListTheirOptionsWithDefaultsAndHelp()
    {
        string Render(params string[] args)
        {
            var result = CliRunner.Run(args);
            Assert.Equal(0, result.Code);
            return result.Output;
        }
        var all = Render("approaches");
        foreach (var approach in Approaches.ApproachRegistry.All) Assert.Contains($"── {approach.Name} ", all);
        // run --help names every built-in approach (the tests may register their own).
        var runHelp = Render("run", "--help");
        foreach (var approach in Approaches.ApproachRegistry.All.Where(a => a.Spec.GetType().Assembly == typeof(Approaches.ApproachRegistry).Assembly))
            Assert.Matches($@"[:,]\s+{System.Text.RegularExpressions.Regex.Escape(approach.Name)}(?:,|\s|$)", runHelp);
        var ewc = Render("approaches", "ewc").Split('\n');
        Assert.Contains(ewc, l => l.Contains("--lamb") && l.Contains("5000") && l.Contains("Importance of old tasks"));
        Assert.Contains(ewc, l => l.Contains("on mlp:") && l.Contains("clipgrad 100"));
        // An approach that adapts the loop it is given says how: DWA scales the seed's schedule to --nepochs.
        var dwa = Render("approaches", "dwa").Split('\n');
        Assert.Contains(dwa, l => l.Contains("base loop:") && l.Contains("warm-up nepochs/20 epochs at lr/750") && l.Contains("linear:nepochs/2:0.2"));
        // run -a X --help: the run's options, then the approach's own.
        var help = Render("run", "-a", "lwf", "--help");
        Assert.Contains("--experiment", help);
        Assert.Contains("--temperature", help);
    }

    [Fact]
    public void DataListSaysWhatIsPresentAndWhatEachDataSetExpects()
    {
        string List(string dir)
        {
            var result = CliRunner.Run("data", "list", "--data", dir);
            Assert.Equal(0, result.Code);
            return result.Output;
        }
        var empty = List(Directory.CreateDirectory(Path.Combine(Folder, "empty")).FullName);
        Assert.DoesNotContain("present  fetchable", empty);
        Assert.Contains("train_32x32.mat, test_32x32.mat", empty);
        var here = List(TestSupport.DataDir).Split('\n');
        Assert.Contains(here, line => line.Contains("fashion_mnist") && line.Contains("present  fetchable"));
        Assert.Contains(here, line => line.Contains("svhn") && line.Contains("missing  fetchable"));
    }

    private static string[] RunOrCompress(string command, string experiment, string dataDir) => command == "run"
        ? ["run", "-e", experiment, "-a", "sgd", "--data", dataDir, "--output", Path.Combine(dataDir, "out.txt")]
        : ["compress", "-e", experiment, "--data", dataDir, "--output", Path.Combine(dataDir, "out")];

    [Theory]
    [InlineData("run", "mnist2", "MNIST not found: put the four IDX files (train-images-idx3-ubyte")]
    [InlineData("compress", "mnist2", "MNIST not found: put the four IDX files (train-images-idx3-ubyte")]
    [InlineData("run", "pmnist", "MNIST not found: put the four IDX files (train-images-idx3-ubyte")]
    [InlineData("compress", "pmnist", "MNIST not found: put the four IDX files (train-images-idx3-ubyte")]
    [InlineData("run", "split-fashion", "Fashion-MNIST not found: put train-images-idx3-ubyte.gz")]
    [InlineData("compress", "split-fashion", "Fashion-MNIST not found: put train-images-idx3-ubyte.gz")]
    [InlineData("run", "cifar", "cifar: missing data set(s) cifar10, cifar100; cifar10 needs cifar-10-batches-py/data_batch_1")]
    [InlineData("compress", "cifar", "cifar: missing data set(s) cifar10, cifar100; cifar10 needs cifar-10-batches-py/data_batch_1")]
    [InlineData("run", "mixture", "mixture: missing data set(s) facescrub, mnist, cifar100, not_mnist, svhn, cifar10, traffic_signs, fashion_mnist; facescrub needs")]
    [InlineData("compress", "mixture", "mixture: missing data set(s) facescrub, mnist")]
    public void MissingDataSetsNameTheirFilesAndWhere(string command, string experiment, string expected)
    {
        var empty = Folder;
        var (code, error) = Run(RunOrCompress(command, experiment, empty));
        Assert.Equal(2, code);
        Assert.StartsWith("retain: error: " + expected, error);
        Assert.Contains(empty, error);
        Assert.Single(error.TrimEnd().Split('\n'));
    }

    [Theory]
    [InlineData("run")]
    [InlineData("compress")]
    public void UnreadableCifarFilesAreNamed(string command)
    {
        var data = Folder;
        foreach (var file in new[] { "data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch" })
            WriteGarbage(Path.Combine(data, "cifar-10-batches-py", file));
        WriteGarbage(Path.Combine(data, "cifar-100-python", "train"));
        WriteGarbage(Path.Combine(data, "cifar-100-python", "test"));
        var (code, error) = Run(RunOrCompress(command, "cifar", data));
        Assert.Equal(2, code);
        Assert.StartsWith($"retain: error: {Path.Combine(data, "cifar-10-batches-py", "data_batch_1")}: ", error);
        Assert.Single(error.TrimEnd().Split('\n'));

        static void WriteGarbage(string path)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, [.. Enumerable.Range(0, 64).Select(i => (byte)(i * 37))]);
        }
    }

    [Theory]
    [InlineData("run")]
    [InlineData("compress")]
    public void MissingFilesOfACustomBenchmarkAreNamed(string command)
    {
        var dir = Folder;
        var path = Path.Combine(dir, "bench.json");
        File.WriteAllText(path, """
            { "datasets": [ { "name": "d", "format": "idx", "train_images": "d/train-images", "train_labels": "d/train-labels",
                              "test_images": "d/test-images", "test_labels": "d/test-labels" } ],
              "image": { "channels": 1, "height": 28, "width": 28 }, "network": "mlp",
              "tasks": { "type": "class-groups", "dataset": "d", "groups": [[0, 1]] } }
            """);
        var (code, error) = Run(RunOrCompress(command, path, dir));
        Assert.Equal(2, code);
        Assert.Equal($"retain: error: {Path.Combine(dir, "d/train-images")}: file not found", error.Trim());
    }

    [Fact]
    public void MissingDataNamesTheFolderAndTheFix()
    {
        var empty = Folder;
        var output = Path.Combine(empty, "out.txt");
        var (code, error) = Run("run", "--experiment", "mnist2", "--approach", "sgd", "--data", empty, "--output", output);
        Assert.Equal(2, code);
        Assert.Contains("MNIST not found", error);
        Assert.False(File.Exists(output));
    }
}

/// <summary>Output and log paths are checked before any training: one line naming the option, exit code 2, nothing written.</summary>
public class OutputPathTests : TempFolderTests
{
    private static (int Code, string Error) Run(params string[] extra)
    {
        var result = CliRunner.Run(["run", "-e", "mnist2", "-a", "sgd", "--nepochs", "1", .. extra]);
        return (result.Code, result.Error);
    }

    [Fact]
    public void BadOutputAndLogPathsFailBeforeTraining()
    {
        var file = Path.Combine(Folder, "a-file");
        File.WriteAllText(file, "");
        var checkpointFolder = Directory.CreateDirectory(Path.Combine(Folder, "taken.ckpt")).FullName;
        var ownExtensions = "a run writes .json, .ckpt, .lock, .log, .model, .dwa files itself beside its output";
        var cases = new (string[] Args, string Expected)[]
        {
            (["--output", ""], "--output: empty path, give a file"),
            (["--output", Folder], $"--output {Folder}: is a folder, not a file"),
            (["--output", Path.Combine(Folder, "new") + "/"], $"--output {Path.Combine(Folder, "new")}/: names a folder; give a file in it"),
            (["--output", Path.Combine(file, "x.txt")], $"{file} is a file, not a folder"),
            (["--output", "/proc/x.txt"], "--output /proc/x.txt: cannot write in /proc"),
            (["--output", "/sys/x.txt"], "--output /sys/x.txt: cannot write in /sys"),
            (["--output", Path.Combine(Folder, "r", "x.json")], ownExtensions),
            (["--output", Path.Combine(Folder, "x.ckpt")], ownExtensions),
            (["--output", Path.Combine(Folder, "x.model")], ownExtensions),
            (["--output", Path.Combine(Folder, "x.lock")], ownExtensions),
            (["--output", Path.Combine(Folder, "x.dwa")], ownExtensions),
            (["--output", Path.Combine(Folder, "taken.txt")], $"--output: {checkpointFolder} is a folder, where a file of this command goes"),
            (["--output", Path.Combine(Folder, "ok.txt"), "--tensorboard", Path.Combine(Folder, "ok.json")], $"--output and --tensorboard both write {Path.Combine(Folder, "ok.json")}"),
            (["--output", Path.Combine(Folder, "ok.txt"), "--log-path", Path.Combine(Folder, "ok.txt")], $"--output and --log-path both write {Path.Combine(Folder, "ok.txt")}"),
            (["--name", "../../x"], "--name ../../x: a name, not a path"),
            (["--output", Path.Combine(Folder, "ok.txt"), "--name", "x"], $"--name x: names the default result file only; with --output {Path.Combine(Folder, "ok.txt")}, give the file itself another name"),
            (["--output", Path.Combine(Folder, "ok.txt"), "--log-path", file], $"--log-path {file}: is a file, not a folder"),
            (["--output", Path.Combine(Folder, "ok.txt"), "--log-path", "/proc/logs"], "--log-path /proc/logs: cannot write in /proc"),
            (["--output", Path.Combine(Folder, "ok.txt"), "--tensorboard", Path.Combine(file, "tb")], $"--tensorboard {Path.Combine(file, "tb")}: {file} is a file"),
            (["--output", Path.Combine(Folder, "ok.txt"), "--resume", "--overwrite"], "--resume and --overwrite exclude each other"),
        };
        foreach (var (args, expected) in cases)
        {
            var (code, error) = Run(args);
            Assert.True(code == 2, $"{string.Join(' ', args)}: exit {code}, {error}");
            Assert.Contains(expected, error);
            Assert.Single(error.TrimEnd().Split('\n'));
        }
        Assert.Equal(["a-file", "taken.ckpt"], Directory.EnumerateFileSystemEntries(Folder).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void AnUnexpectedErrorPrintsOneLineWritesItsTraceAndExits70()
    {
        var error = new StringWriter();
        var saved = Console.Error;
        Console.SetError(error);
        int code;
        RetainApp.CrashLog = Path.Combine(Folder, "run.crash.log");
        try { code = RetainApp.Guard(() => throw new InvalidOperationException("Sequence contains no matching element")); }
        finally { Console.SetError(saved); }

        Assert.Equal(70, code);
        var line = Assert.Single(error.ToString().TrimEnd().Split('\n'));
        Assert.Contains("unexpected InvalidOperationException: Sequence contains no matching element", line);
        Assert.Contains(Path.Combine(Folder, "run.crash.log"), line);
        Assert.Contains("at Retain.Tests.OutputPathTests", File.ReadAllText(Path.Combine(Folder, "run.crash.log")));
    }
}

public class ScheduleNoteTests : TempFolderTests
{
    private IReadOnlyList<string> Notes(string approach, int? epochs, string? warmup = null, string? curriculum = null) =>
        Experiments.RunPlan.Resolve(new Experiments.RunConfig
        {
            Experiment = "mnist2", Approach = approach, DataDir = TestSupport.DataDir, Output = Path.Combine(Folder, "run.txt"), Epochs = epochs,
            Warmup = Training.Warmup.Parse(warmup), Curriculum = Curriculum.CurriculumSchedule.Parse(curriculum),
        }).ScheduleNotes;

    [Fact]
    public void APlanSaysWhenTheWarmUpOrTheCurriculumDoesNotFitInTheRun()
    {
        // DWA's defaults (200 epochs, warm-up 10 epochs, curriculum reaching every sample at epoch 100) fit, and so do
        // they scaled to a run of 2 epochs (no warm-up, linear:1:0.2) and of 1 (no warm-up, linear:1:1).
        Assert.Empty(Notes("dwa", null));
        Assert.Empty(Notes("dwa", 2));
        Assert.Empty(Notes("dwa", 1));
        // A curriculum given for a run of 1 epoch trains only its easiest samples: the note offers every sample.
        Assert.Contains("e.g. linear:1:1, every sample from the start", Assert.Single(Notes("dwa", 1, curriculum: "linear:1:0.2")));
        // The seed's 200-epoch schedule given in 2 epochs: the warm-up is the whole run, and the linear curriculum
        // reaches 0.2 + 0.8 * 1/100 = 0.21.
        var notes = Notes("dwa", 2, warmup: "10,750", curriculum: "linear:100:0.2");
        Assert.Equal(2, notes.Count);
        Assert.Contains("covers the whole run of 2 epochs", notes[0]);
        Assert.Contains("up to 0.21", notes[1]);
        Assert.Empty(Notes("sgd", 2));
    }
}
