using Retain.Approaches;
using Retain.Cli;
using Retain.Data;
using Retain.Experiments;
using Retain.Networks;
using Retain.Studies;
using Retain.Training;
using static TorchSharp.torch;

namespace Retain.Tests;

/// <summary>
/// The three scenarios: the heads each lays out, the labels class-IL trains with, how approaches that need the task id
/// are tested without it, what experiments support, and the refusals.
/// </summary>
public class ScenarioTests(BaselinesSmallMnist mnist) : TempFolderTests, IClassFixture<BaselinesSmallMnist>
{
    [Fact]
    public void EachScenarioLaysOutItsHeads()
    {
        int[] counts = [2, 3, 2];
        var task = HeadLayout.For(Scenario.Task, counts);
        Assert.Equal([2, 3, 2], task.HeadSizes);
        Assert.Equal((1, 3), task.Of(1));
        Assert.Equal([0, 1], task.EarlierOutputs(2));
        Assert.Equal(0, task.LabelOffset(2));

        var classes = HeadLayout.For(Scenario.Class, counts);
        Assert.Equal([7], classes.HeadSizes);                 // one head over every class
        Assert.Equal([(0, 2), (0, 5), (0, 7)], Enumerable.Range(0, 3).Select(classes.Of));   // it grows with the tasks
        Assert.Equal([0, 2, 5], Enumerable.Range(0, 3).Select(classes.LabelOffset));
        Assert.Equal([1], classes.EarlierOutputs(2));         // every earlier class lies on task 1's outputs
        Assert.Empty(classes.EarlierOutputs(0));

        var domain = HeadLayout.For(Scenario.Domain, [4, 4]);
        Assert.Equal([4], domain.HeadSizes);
        Assert.Equal((0, 4), domain.Of(1));
        Assert.Equal(0, domain.LabelOffset(1));
        var error = Assert.Throws<RetainException>(() => HeadLayout.For(Scenario.Domain, counts));
        Assert.Contains("shares one head over a task's classes", error.Message);
    }

    [Fact]
    public void TheClassIncrementalHeadGrowsAndAMixedBatchUsesTheOutputsOfTheTaskInTraining()
    {
        manual_seed(0);
        var shape = new NetworkShape([1, 28, 28], [2, 3]) { Heads = HeadLayout.For(Scenario.Class, [2, 3]) };
        using var network = NetworkFactory.Create(BackboneRegistry.Mlp, shape);
        // One head of 5 outputs: as many parameters as two heads of 2 and 3.
        Assert.Equal(NetworkFactory.Create(BackboneRegistry.Mlp, [1, 28, 28], [2, 3]).ParameterCount, network.ParameterCount);
        network.eval();
        using var _ = no_grad();
        var x = randn(4, 1, 28, 28);
        var first = network.Forward(x, 0);
        var both = network.Forward(x, 1);
        Assert.Equal([4L, 2], first.shape);
        Assert.Equal([4L, 5], both.shape);
        Assert.Equal(first.data<float>().ToArray(), both.narrow(1, 0, 2).contiguous().data<float>().ToArray());   // task 0's outputs are the first of the head
        // Samples of task 0 replayed while task 1 trains are scored on every class so far, whatever their task.
        var mixed = network.Forward(x, tensor(new long[] { 0, 1, 0, 1 }), 1);
        Assert.Equal(both.data<float>().ToArray(), mixed.data<float>().ToArray());
        Assert.Equal(2, network.ClassCount(0));
        Assert.Equal(5, network.ClassCount(1));
    }

    [Fact]
    public void ClassIncrementalLabelsAreGlobalOnViewsThatLeaveTheBenchmarkAlone()
    {
        using var benchmark = ExperimentCatalog.Load("mnist2", mnist.DataDir, seed: 0).Take(40);
        var before = benchmark.Tasks.Select(t => t.Train.Y.data<long>().ToArray()).ToArray();
        using (var run = new ScenarioRun(Scenario.Class, new SgdSpec(), benchmark))
        {
            Assert.False(run.PredictsTask);
            for (var t = 0; t < 2; t++)
                Assert.Equal(before[t].Select(y => y + 5 * t), run.Tasks[t].Train.Y.data<long>().ToArray());
        }
        // The benchmark's labels and tensors survive the views.
        for (var t = 0; t < 2; t++) Assert.Equal(before[t], benchmark.Tasks[t].Train.Y.data<long>().ToArray());
        // An approach that needs the task id trains its own heads on the tasks' own labels, and predicts the task.
        using var hat = new ScenarioRun(Scenario.Class, new HatSpec(), benchmark);
        Assert.True(hat.PredictsTask);
        Assert.Equal(Scenario.Task, hat.Heads.Scenario);
        Assert.Same(benchmark.Tasks, hat.Tasks);
    }

    private RunConfig Config(string approach, Scenario scenario, string name) => new()
    {
        Experiment = "mnist2", Approach = approach, Seed = 0, DataDir = mnist.DataDir, Output = Path.Combine(Folder, name + ".txt"),
        Epochs = 2, BatchSize = 16, Limit = 80, Scenario = scenario,
    };

    [Fact]
    public void AnApproachThatNeedsTheTaskIdIsTestedThroughItsTaskPredictor()
    {
        // hat trains the same network on the same labels in every scenario; only its test differs. In class-IL a
        // sample is right when its task and class are predicted right: the task-IL run's task-agnostic matrix.
        var task = ExperimentRunner.Run(Config("hat", Scenario.Task, "task"));
        var classes = ExperimentRunner.Run(Config("hat", Scenario.Class, "class"));
        var domain = ExperimentRunner.Run(Config("hat", Scenario.Domain, "domain"));
        var predicted = task.Agnostic![TaskPredictors.MaxProbability];
        Assert.Equal(predicted.Accuracy, classes.Accuracy);
        Assert.Equal(TaskPredictors.MaxProbability, classes.AgnosticPredictor);
        Assert.Equal(predicted.TaskAccuracy, classes.Agnostic![TaskPredictors.MaxProbability].TaskAccuracy);
        // In domain-IL the class counts whichever task's head named it: at least as often as task and class together.
        Assert.Equal(predicted.TaskAccuracy, domain.Agnostic![TaskPredictors.MaxProbability].TaskAccuracy);
        for (var u = 0; u < 2; u++) Assert.True(domain.Accuracy[1][u] >= classes.Accuracy[1][u]);
        // The loss is the objective with the task given, as in task-IL.
        Assert.Equal(task.Loss, classes.Loss);
        Assert.Equal(Scenario.Class, classes.Scenario);
    }

    [Fact]
    public void OnTheSharedHeadFineTuningForgetsEveryEarlierClassAndTheRecordSaysWhere()
    {
        var record = ExperimentRunner.Run(Config("sgd", Scenario.Class, "sgd") with { Limit = null });
        Assert.Equal(Scenario.Class, record.Scenario);
        Assert.Null(record.Agnostic);                 // one head: there is no task to predict
        Assert.True(record.Accuracy[1][1] > 0.6, $"task 1 after task 1: {record.Accuracy[1][1]}");
        // Trained on digits 5-9 only, the shared head names one of them for every sample of 0-4.
        Assert.True(record.Accuracy[1][0] < 0.05, $"task 0 after task 1: {record.Accuracy[1][0]}");
        // Before task 1 its classes' outputs are untrained: no sample of it can be named right but by chance.
        Assert.True(record.AccuracyBeforeTraining[1] < 0.2, $"task 1 before training it: {record.AccuracyBeforeTraining[1]}");
    }

    private static (int Code, string Error) Cli(params string[] args)
    {
        var error = new StringWriter();
        var saved = Console.Error;
        Console.SetError(error);
        try { return (RetainApp.Run(args), error.ToString()); }
        finally { Console.SetError(saved); }
    }

    [Theory]
    [InlineData("--scenario: expected task, domain or class (got 'classes')", "-e", "mnist2", "--scenario", "classes")]
    // cifar's data is not in the test data folder: the scenario is refused before any is looked for.
    [InlineData("--scenario domain: cifar supports task, class (its tasks have different numbers of classes (2, 20), and domain-IL shares one head over a task's classes)", "-e", "cifar", "--scenario", "domain")]
    [InlineData("--scenario domain: mixture supports task, class", "-e", "mixture", "--scenario", "domain", "--datasets", "mnist,cifar100")]
    [InlineData("--eval aware needs the task id, which the class scenario does not give", "-e", "mnist2", "--scenario", "class", "--eval", "aware")]
    public void ScenariosARunCannotHaveAreRefusedInOneLine(string expected, params string[] args)
    {
        var (code, error) = Cli(["run", "-a", "sgd", "--data", Folder, "-o", Path.Combine(Folder, "r.txt"), .. args]);
        Assert.Equal(2, code);
        Assert.Contains(expected, error);
        Assert.Single(error.TrimEnd().Split('\n'));
    }

    [Fact]
    public void ABenchmarkFileDeclaresItsScenarios()
    {
        var declared = Path.Combine(Folder, "bench.json");
        void Write(string tasks, string? scenarios) => File.WriteAllText(declared, $$"""
            { "datasets": [ { "name": "d", "format": "idx", "train_images": "a", "train_labels": "b", "test_images": "c", "test_labels": "e" } ],
              "image": { "channels": 1, "height": 28, "width": 28 }, "tasks": {{tasks}}{{(scenarios is null ? "" : $", \"scenarios\": {scenarios}")}} }
            """);
        Write("""{ "type": "class-groups", "dataset": "d", "groups": [[0, 1], [2, 3]] }""", null);
        Assert.Equal(Scenarios.All, ExperimentCatalog.Scenarios(declared).Scenarios);     // equal groups: all three
        Write("""{ "type": "class-groups", "dataset": "d", "groups": [[0, 1], [2, 3, 4]] }""", null);
        Assert.Equal([Scenario.Task, Scenario.Class], ExperimentCatalog.Scenarios(declared).Scenarios);
        Write("""{ "type": "class-groups", "dataset": "d", "groups": [[0, 1], [2, 3]] }""", """["task"]""");
        var refused = Assert.Throws<RetainException>(() => ExperimentCatalog.Scenarios(declared).Require(declared, Scenario.Class));
        Assert.Contains("supports task (as bench.json declares in \"scenarios\")", refused.Message);
        Write("""{ "type": "class-groups", "dataset": "d", "groups": [[0, 1], [2, 3, 4]] }""", """["task", "domain"]""");
        Assert.Contains("lists domain, but the class groups have different sizes", Assert.Throws<DataFileException>(() => ExperimentCatalog.Scenarios(declared)).Message);
        Write("""{ "type": "class-groups", "dataset": "d", "groups": [[0, 1]] }""", """["tasks"]""");
        Assert.Contains("\"scenarios\" must list task, domain or class", Assert.Throws<DataFileException>(() => ExperimentCatalog.Scenarios(declared)).Message);
    }

    [Fact]
    public void AScenarioRunWritesBesideItsOwnReferencesAndResumesOnlyAsTheSameScenario()
    {
        var plan = RunCommand.Plan(["run", "-e", "mnist2", "-a", "er", "--scenario", "class", "--data", mnist.DataDir]);
        Assert.Equal(Path.Combine("res", "class", "mnist2_er_0.txt"), plan.Paths.Output);
        Assert.Contains(new KeyValuePair<string, string>("--scenario", "class"), plan.Identity);
        var task = RunCommand.Plan(["run", "-e", "mnist2", "-a", "er", "--data", mnist.DataDir]);
        Assert.Equal(Path.Combine("res", "mnist2_er_0.txt"), task.Paths.Output);
        Assert.DoesNotContain(task.Identity, kv => kv.Key == "--scenario");   // task-IL checkpoints of before still resume
    }
}

/// <summary>Runs of two scenarios are never combined: references, seeds, studies and reports keep them apart.</summary>
public class ScenarioResultsTests : TempFolderTests
{
    /// <summary>Marks the JSON record beside <paramref name="name"/> as a run of <paramref name="scenario"/>.</summary>
    private static void InScenario(string folder, string name, Scenario scenario)
    {
        var path = Path.Combine(folder, name + ".json");
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        json["scenario"] = scenario.Name();
        File.WriteAllText(path, json.ToJsonString());
    }

    [Fact]
    public void MetricsAndReportsKeepTheScenariosApart()
    {
        var res = Path.Combine(Folder, "res");
        var classes = Path.Combine(res, "class");
        Directory.CreateDirectory(classes);
        ReportFixtures.WriteThreeTasks(res);
        ReportFixtures.Matrix(classes, "exp3_sgd_0", ReportFixtures.Sgd1);
        ReportFixtures.Record(classes, "exp3_sgd_0", ReportFixtures.Sgd1, [0.1, 0.1, 0.1], ReportFixtures.Sgd1, ReportFixtures.History(null));
        InScenario(classes, "exp3_sgd_0", Scenario.Class);

        // Its references are looked for beside it, and made in its scenario.
        var (code, printed) = ReportFixtures.RetainCli("metrics", Path.Combine(classes, "exp3_sgd_0.txt"));
        Assert.Equal(2, code);
        Assert.Contains("retain run --experiment exp3 --approach random --seed 0 --scenario class", printed);

        // A task-IL reference is refused, naming the scenario.
        foreach (var reference in new[] { "exp3_random_0", "exp3_joint_0" })
        {
            File.Copy(Path.Combine(res, reference + ".txt"), Path.Combine(classes, reference + ".txt"));
            ReportFixtures.Record(classes, reference, ReportFixtures.JointRun, [0, 0, 0], ReportFixtures.JointRun, []);
        }
        (code, printed) = ReportFixtures.RetainCli("metrics", Path.Combine(classes, "exp3_sgd_0.txt"));
        Assert.Equal(2, code);
        Assert.Contains("reference run has --scenario task", printed);
        Assert.Contains("has class", printed);

        // With references of its scenario: its metrics, the scenario named.
        foreach (var reference in new[] { "exp3_random_0", "exp3_joint_0" }) InScenario(classes, reference, Scenario.Class);
        (code, printed) = ReportFixtures.RetainCli("metrics", Path.Combine(classes, "exp3_sgd_0.txt"));
        Assert.Equal(0, code);
        Assert.Contains("scenario class-IL", printed);

        // A report of both folders: a section per scenario, never one series of both.
        var report = Path.Combine(Folder, "report");
        (code, printed) = ReportFixtures.RetainCli("report", res, classes, "--output", report);
        Assert.Equal(0, code);
        var page = File.ReadAllText(Path.Combine(report, "report.html"));
        Assert.Contains("<h2>Experiment exp3</h2>", page);
        Assert.Contains("<h2>Experiment exp3 (class-IL)</h2>", page);
        Assert.True(File.Exists(Path.Combine(report, "exp3_class_accuracy.png")));
        Assert.True(File.Exists(Path.Combine(report, "exp3_accuracy.png")));
    }

    [Fact]
    public void AStudyRunsEveryRunAndReferenceInEachScenarioItLists()
    {
        var path = Path.Combine(Folder, "study.yaml");
        File.WriteAllText(path, """
            name: three
            output: out
            experiments: [mnist2]
            seeds: 1
            scenarios: [task, class]
            options: {nepochs: 1}
            approaches: {er: {buffer: 20}}
            """);
        var study = Study.Load(path, RunCommand.OptionNames);
        Assert.Equal(["mnist2_er_0", "mnist2_joint_0", "mnist2_random_0", "class/mnist2_er_0", "class/mnist2_joint_0", "class/mnist2_random_0"],
            study.Runs.Select(r => r.Name));
        var er = study.Runs[3];
        Assert.Equal(Path.Combine(Folder, "out", "class", "mnist2_er_0.txt"), er.Output);
        Assert.Equal(["run", "--experiment", "mnist2", "--approach", "er", "--seed", "0", "--output", er.Output, "--scenario", "class",
            "--nepochs", "1", "--buffer", "20", "--resume"], er.Arguments);

        File.WriteAllText(path, """
            name: bad
            experiments: [mnist2]
            seeds: 1
            scenarios: [task, classes]
            approaches: [sgd]
            """);
        Assert.Contains("line 4: scenario 'classes' is not task, domain or class", Assert.ThrowsAny<RetainException>(() => Study.Load(path, RunCommand.OptionNames)).Message);
        File.WriteAllText(path, """
            name: bad
            experiments: [mnist2]
            seeds: 1
            options: {scenario: class}
            approaches: [sgd]
            """);
        Assert.Contains("'scenario' is set by the study for each run", Assert.ThrowsAny<RetainException>(() => Study.Load(path, RunCommand.OptionNames)).Message);
    }
}

/// <summary>Every registered approach names its paper, in <c>retain approaches</c> and on the baselines page.</summary>
public class ApproachPaperTests
{
    [Fact]
    public void EveryApproachNamesItsPaperInItsHelpAndOnTheBaselinesPage()
    {
        var page = File.ReadAllText(Path.Combine(TestSupport.RepositoryRoot, "docs", "baselines.md"));
        var output = new StringWriter();
        var console = Spectre.Console.AnsiConsole.Create(new Spectre.Console.AnsiConsoleSettings
        {
            Ansi = Spectre.Console.AnsiSupport.No, Out = new Spectre.Console.AnsiConsoleOutput(output),
        });
        console.Profile.Width = 400;
        Assert.Equal(0, RetainApp.Run(["approaches"], console));
        // Approaches a test registers (docs/extending.md's example) are not Retain's own.
        foreach (var approach in ApproachRegistry.All.Where(a => a.Spec.GetType().Assembly == typeof(ApproachRegistry).Assembly))
        {
            Assert.False(string.IsNullOrWhiteSpace(approach.Paper), $"{approach.Name} names no paper");
            Assert.Contains($"  paper: {approach.Paper}", output.ToString());
            Assert.Contains($"| `{approach.Name}` | {approach.Paper} |", page);
        }
    }
}
