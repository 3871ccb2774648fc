using Retain.Approaches;
using Retain.Data;
using Retain.Networks;
using Retain.Training;
using TorchSharp;

namespace Retain.Experiments;

/// <summary>
/// A run's set-up, resolved once and immutable: the approach with its typed options, the backbone, the base loop as
/// it runs (the approach's defaults on the backbone, the caller's changes, validated and as the approach adapts them),
/// the seed, the device, the weight initialisation, how many tasks to train, the scenario (what the network is told at
/// test time) and what to evaluate. It has no names and
/// no files: <see cref="ExperimentRunner"/> runs it on a benchmark and publishes to the sinks it is given; the command
/// line's <see cref="RunPlan"/> holds one, and so do HAT's compression experiment and DWA's calibration.
/// </summary>
public sealed class RunSetup
{
    private RunSetup(ApproachSetup approach, BackboneArchitecture backbone, TrainingOptions requested, TrainingOptions training,
        int seed, torch.Device device, WeightInit? weightInit, int? testMode, EvaluationSetting evaluation, Scenario scenario)
    {
        (Approach, Backbone, RequestedTraining, Training) = (approach, backbone, requested, training);
        (Seed, Device, WeightInit, TestMode, Evaluation, Scenario) = (seed, device, weightInit, testMode, evaluation, scenario);
    }

    public ApproachSetup Approach { get; }
    public BackboneArchitecture Backbone { get; }
    /// <summary>The base loop asked for: the approach's defaults on the backbone with the caller's changes.</summary>
    public TrainingOptions RequestedTraining { get; }
    /// <summary>The base loop that runs (what the run's record stores): <see cref="RequestedTraining"/> as the approach adapts it.</summary>
    public TrainingOptions Training { get; }
    /// <summary>Seeds torch's generator and the batch order (numpy's, in the seed), and so every random choice of the run.</summary>
    public int Seed { get; }
    public torch.Device Device { get; }
    /// <summary>The seed's <c>--weight_init</c>, applied to the network once built (null: the network's own initialisation).</summary>
    public WeightInit? WeightInit { get; }
    /// <summary>Train only the first N tasks (the seed's test_mode); null: all of them.</summary>
    public int? TestMode { get; }
    public EvaluationSetting Evaluation { get; }
    /// <summary>
    /// Task-, domain- or class-incremental: the heads the network trains and whether the task id is given at test
    /// (<see cref="Retain.Scenario"/>). The benchmark must support it (<see cref="ScenarioRun"/> checks).
    /// </summary>
    public Scenario Scenario { get; }

    /// <summary>
    /// Resolves a run of <paramref name="approach"/> on <paramref name="backbone"/>. <paramref name="training"/> changes
    /// the approach's base-loop defaults there (null: keeps them). Every value out of range is an error naming it, before
    /// any data is loaded; <see cref="TestMode"/>'s bounds need the benchmark (<see cref="TasksToRun"/>). Outside the
    /// task scenario there is no task id to be aware of, so <see cref="EvaluationSetting.Aware"/> is refused there.
    /// </summary>
    public static RunSetup Resolve(ApproachSetup approach, BackboneArchitecture backbone, Func<TrainingOptions, TrainingOptions>? training = null,
        int seed = 0, string device = "cpu", WeightInit? weightInit = null, int? testMode = null, EvaluationSetting evaluation = EvaluationSetting.Both,
        Scenario scenario = Scenario.Task)
    {
        // A seed names the run's files (<experiment>_<approach>_<seed>) and the seed's numpy generator takes 0 to 2^31 - 1.
        if (seed < 0) throw new SettingException(typeof(RunSetup), nameof(Seed), $"must be at least 0 (got {seed})");
        if (approach.Spec.Refuses(scenario) is { } why)
            throw new SettingException(typeof(RunSetup), nameof(Scenario), $"{scenario.Name()}: {why}");
        if (scenario != Scenario.Task && evaluation == EvaluationSetting.Aware)
            throw new SettingException(typeof(RunSetup), nameof(Evaluation),
                $"aware needs the task id, which the {scenario.Name()} scenario does not give (it applies to the task scenario)");
        if (approach.Spec.Network.Gating is { } gating && !backbone.DeclaresLayers)
            throw new SettingException(typeof(RunSetup), nameof(Backbone),
                $"{backbone.Name} is a module of your own, but the approach trains through {gating.Name}, which it builds on a backbone declared as blocks (a LayeredBackbone)");
        var defaults = approach.TrainingDefaults(backbone);
        var requested = training is null ? defaults : training(defaults);
        return new RunSetup(approach, backbone, requested, approach.ResolveTraining(requested), seed, ParseDevice(device), weightInit, testMode, evaluation, scenario);
    }

    /// <summary>The number of tasks the run trains on a benchmark of <paramref name="taskCount"/> tasks.</summary>
    public int TasksToRun(int taskCount)
    {
        if (TestMode is not { } n) return taskCount;
        if (n < 1 || n > taskCount)
            throw new SettingException(typeof(RunSetup), nameof(TestMode), $"must be between 1 and {taskCount}, the benchmark's tasks (got {n})");
        return n;
    }

    /// <summary>cpu, or cuda[:N] where CUDA is available.</summary>
    private static torch.Device ParseDevice(string name)
    {
        if (name != "cpu" && !name.StartsWith("cuda", StringComparison.Ordinal))
            throw new SettingException(typeof(RunSetup), nameof(Device), $"must be cpu or cuda[:N] (got '{name}')");
        if (name.StartsWith("cuda", StringComparison.Ordinal) && !torch.cuda.is_available())
            throw new SettingException(typeof(RunSetup), nameof(Device), $"{name}: CUDA is not available (this build uses TorchSharp-cpu; reference TorchSharp-cuda-linux for a GPU)");
        return torch.device(name);
    }
}

/// <summary>How a run's record names what it ran (its experiment and approach, as the user called them).</summary>
public sealed record RunNames(string Experiment, string Approach);

/// <summary>
/// Where a run's tasks come from: an experiment by name (built-in, registered, or a benchmark file), its data folder,
/// mixture's data sets, and a <c>--limit</c> of samples per split for trial runs.
/// </summary>
public sealed record BenchmarkSource
{
    public BenchmarkSource(string experiment, string dataDir, IReadOnlyList<string>? datasets = null, int? limit = null)
    {
        if (limit is < 1) throw new RetainException($"--limit must be at least 1 sample (got {limit})");
        (Experiment, DataDir, Datasets, Limit) = (experiment, dataDir, datasets, limit);
    }

    public string Experiment { get; }
    public string DataDir { get; }
    public IReadOnlyList<string>? Datasets { get; }
    public int? Limit { get; }

    /// <summary>The backbone the experiment uses unless told otherwise, known without loading its data.</summary>
    public BackboneArchitecture DefaultBackbone => ExperimentCatalog.DefaultBackbone(Experiment);

    /// <summary>Loads the tasks (the seed orders them and draws validation splits), cut to <see cref="Limit"/>.</summary>
    public Benchmark Load(int seed) => Benchmark.Limited(ExperimentCatalog.Load(Experiment, DataDir, seed, Datasets), Limit);
}
