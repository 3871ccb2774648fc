using Retain.Approaches;
using Retain.Cli;
using Retain.Evaluation;
using Retain.Experiments;
using Retain.Networks;
using Retain.Networks.Dwa;
using Retain.Training;

namespace Retain.Tests;

/// <summary>
/// A run resolved once (issue 21): each approach's spec decides its network, its defaults and its changes to the base
/// loop before any data is loaded, the record stores what ran, and the library names settings where the command line
/// names its options.
/// </summary>
public class RunSetupTests : TempFolderTests
{
    private RunConfig Config(string approach, string dataDir = "") => new()
    {
        Experiment = "split-fashion", Approach = approach, Network = BackboneRegistry.Mlp, DataDir = dataDir == "" ? TestSupport.DataDir : dataDir,
        Output = Path.Combine(Folder, approach + ".txt"), TestMode = 1, Limit = 20, Epochs = 1, Evaluation = EvaluationSetting.Aware,
    };

    [Fact]
    public void AJointRunWithAWarmUpRecordsTheLoopItRan()
    {
        var config = Config("joint") with { Warmup = new Warmup(1, 10), Curriculum = Curriculum.CurriculumSchedule.Parse("linear:2:0.5") };
        var plan = RunPlan.Resolve(config);
        Assert.Equal((new Warmup(1, 10), "linear:2:0.5"), (plan.Setup.RequestedTraining.Warmup, plan.Setup.RequestedTraining.Curriculum!.ToString()));
        Assert.Equal((null, null), (plan.Setup.Training.Warmup, plan.Setup.Training.Curriculum));
        Assert.Contains(plan.ScheduleNotes, n => n.StartsWith("joint trains without a warm-up: --warmup 1,10 is not used", StringComparison.Ordinal));
        Assert.Contains("--warmup", plan.Identity.Where(kv => kv.Value == "none").Select(kv => kv.Key));

        var record = ExperimentRunner.Run(config);
        Assert.Equal((null, null), (record.Training.Warmup, record.Training.Curriculum));
        Assert.Equal((null, null), (ResultFiles.ReadRecord<RunRecord>(plan.Paths.Json).Training.Warmup, ResultFiles.ReadRecord<RunRecord>(plan.Paths.Json).Training.Curriculum));
    }

    [Fact]
    public void DwaAlwaysTrainsWithACurriculum()
    {
        var setup = RunSetup.Resolve(new DwaSpec().With(new DwaOptions()), BackboneRegistry.Mlp, t => t with { Curriculum = null });
        Assert.Null(setup.RequestedTraining.Curriculum);
        Assert.Equal(Dwa.SeedCurriculum, setup.Training.Curriculum!.ToString());
    }

    [Theory]
    [InlineData(200, "10,750", "linear:100:0.2")]   // the seed's schedule
    [InlineData(30, "1,750", "linear:15:0.2")]
    [InlineData(20, "1,750", "linear:10:0.2")]
    [InlineData(6, "none", "linear:3:0.2")]
    [InlineData(2, "none", "linear:1:0.2")]
    [InlineData(1, "none", "linear:1:1")]      // every sample in the one epoch
    public void DwasWarmUpAndCurriculumScaleWithTheRunUnlessGiven(int epochs, string warmup, string curriculum)
    {
        static string Text(Warmup? w) => w is null ? "none" : FormattableString.Invariant($"{w.Epochs},{w.Divisor}");
        var plan = RunPlan.Resolve(Config("dwa") with { Epochs = epochs });
        Assert.Equal((warmup, curriculum), (Text(plan.Setup.Training.Warmup), plan.Setup.Training.Curriculum!.ToString()));
        Assert.Equal((warmup, curriculum), (plan.Identity.Single(kv => kv.Key == "--warmup").Value, plan.Identity.Single(kv => kv.Key == "--curriculum").Value));
        if (epochs > 1) Assert.Empty(plan.ScheduleNotes);

        // Given explicitly, they are taken literally (the seed's 200-epoch values in a 30-epoch run get the notes).
        var literal = RunPlan.Resolve(Config("dwa") with { Epochs = epochs, Warmup = new Warmup(10, 750), Curriculum = Curriculum.CurriculumSchedule.Parse("linear:100:0.2") });
        Assert.Equal(("10,750", "linear:100:0.2"), (Text(literal.Setup.Training.Warmup), literal.Setup.Training.Curriculum!.ToString()));
        if (epochs < 200) Assert.Contains(literal.ScheduleNotes, n => n.StartsWith("the curriculum linear:100:0.2 trains the last", StringComparison.Ordinal));
        Assert.Equal(new Warmup(0, 1), RunPlan.Resolve(Config("dwa") with { Epochs = epochs, Warmup = new Warmup(0, 1) }).Setup.Training.Warmup);   // none, as asked

        // The published preset is the original's run: its 200-epoch schedule stays, with a note.
        var published = RunPlan.Resolve(Config("dwa") with { Epochs = epochs, Parameters = new Dictionary<string, string> { ["preset"] = "published" } });
        Assert.Equal(("20,1000", "linear:100:0.2"), (Text(published.Setup.Training.Warmup), published.Setup.Training.Curriculum!.ToString()));
        Assert.Equal(epochs < 200, published.ScheduleNotes.Count > 0);
        Assert.Equal(epochs < 200, published.ScheduleNotes.Any(n => n.StartsWith("the published preset", StringComparison.Ordinal) && n.Contains("21 epochs", StringComparison.Ordinal)));
        Assert.Equal(epochs <= 20, published.ScheduleNotes.Any(n => n.StartsWith("the published preset never leaves its 20-epoch warm-up", StringComparison.Ordinal)));
    }

    [Fact]
    public void PathNetNotesTheEpochsThatDoNotMakeAWholeGeneration()
    {
        var parameters = new Dictionary<string, string> { ["generations"] = "4" };
        Assert.Empty(RunPlan.Resolve(Config("pathnet") with { Epochs = 8, Parameters = parameters }).ScheduleNotes);
        var note = Assert.Single(RunPlan.Resolve(Config("pathnet") with { Epochs = 10, Parameters = parameters }).ScheduleNotes);
        Assert.StartsWith("pathnet trains every path 8 of the 10 epochs: 2 per generation for --generations 4", note);
    }

    [Fact]
    public void PathNetsFewestEpochsAreCheckedBeforeAnyDataIsLoaded()
    {
        // No data folder at all: the plan fails on the epochs, so it never reached the data.
        var config = Config("pathnet", dataDir: Path.Combine(Folder, "no-data")) with { Epochs = 5 };
        var error = Assert.Throws<SettingException>(() => RunPlan.Resolve(config));
        Assert.StartsWith("TrainingOptions.Epochs must be at least 20 (got 5): pathnet trains every path", error.Message);
        Assert.StartsWith("--nepochs must be at least 20 (got 5)", SettingFlags.MessageOf(error));
        Assert.Equal(5, RunPlan.Resolve(config with { Parameters = new Dictionary<string, string> { ["generations"] = "5" } }).Setup.Training.Epochs);
    }

    /// <summary>Approaches that do not gate take any backbone; the others declare the gating they receive, and their spec builds it.</summary>
    [Fact]
    public void EverySpecBuildsTheNetworkItsRequirementsDeclare()
    {
        string[] plain = ["sgd", "sgd-restart", "sgd-frozen", "joint", "random", "ewc", "lwf", "lfl", "imm-mean", "imm-mode", "si", "mas"];
        var gated = new Dictionary<string, Type>
        {
            ["hat"] = typeof(HatUnitGates), ["hat-test"] = typeof(HatUnitGates), ["dwa"] = typeof(DwaWeightMasks),
            ["pathnet"] = typeof(PathNetModules), ["progressive"] = typeof(ProgressiveColumns), ["packnet"] = typeof(PackNetMasks),
        };
        foreach (var name in plain) Assert.Equal(NetworkRequirement.AnyBackbone, ApproachRegistry.Get(name).Spec.Network);
        foreach (var (name, gating) in gated)
        {
            var spec = ApproachRegistry.Get(name).Spec;
            Assert.Equal(gating, spec.Network.Gating);
            using var network = spec.WithDefaults(BackboneRegistry.Mlp).CreateNetwork(BackboneRegistry.Mlp, new NetworkShape([1, 28, 28], [2, 2]));
            Assert.IsType(gating, network.Backbone.Gating);
        }
    }

    [Fact]
    public void LibraryErrorsNameTheSettingAndTheCommandLineItsOption()
    {
        var batch = Assert.Throws<SettingException>(() => new TrainingOptions { BatchSize = 0 }.Validate());
        Assert.Equal(("TrainingOptions.BatchSize must be at least 1 (got 0)", "--sbatch must be at least 1 (got 0)"), (batch.Message, SettingFlags.MessageOf(batch)));
        var device = Assert.Throws<SettingException>(() => RunSetup.Resolve(new SgdSpec().With(new NoOptions()), BackboneRegistry.Mlp, device: "tpu"));
        Assert.Equal(("RunSetup.Device must be cpu or cuda[:N] (got 'tpu')", "--device must be cpu or cuda[:N] (got 'tpu')"), (device.Message, SettingFlags.MessageOf(device)));
        var testMode = Assert.Throws<SettingException>(() => RunSetup.Resolve(new SgdSpec().With(new NoOptions()), BackboneRegistry.Mlp, testMode: 0).TasksToRun(5));
        Assert.Equal("--test-mode must be between 1 and 5, the benchmark's tasks (got 0)", SettingFlags.MessageOf(testMode));
    }
}
