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
        Assert.Equal(Dwa.DefaultCurriculum, setup.Training.Curriculum!.ToString());
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
