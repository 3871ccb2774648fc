using Retain.Networks;
using Retain.Training;

namespace Retain.Experiments;

/// <summary>
/// What to run. Base-loop options left null take the approach's own defaults (the seed's run script silently
/// replaced them with its own nepochs 200 / lr 0.05; here an approach's defaults hold unless an option is given).
/// </summary>
public sealed record RunConfig
{
    public required string Experiment { get; init; }
    public required string Approach { get; init; }
    public int Seed { get; init; }
    public string DataDir { get; init; } = "dat";
    /// <summary>Accuracy-matrix file; the JSON record is written beside it with the extension .json.</summary>
    public required string Output { get; init; }
    public string Device { get; init; } = "cpu";
    /// <summary>mixture: the data sets to use, in the seed's order (default: all eight of the seed).</summary>
    public IReadOnlyList<string>? Datasets { get; init; }
    /// <summary>Train only the first N tasks (the seed's test_mode).</summary>
    public int? TestMode { get; init; }
    /// <summary>Keep at most this many samples of each task's train, validation and test splits (quick trial runs).</summary>
    public int? Limit { get; init; }
    /// <summary>The backbone; null: the experiment's (<see cref="BackboneRegistry.DefaultFor"/>).</summary>
    public BackboneArchitecture? Network { get; init; }
    /// <summary>The seed's <c>--weight_init</c> (null: TorchSharp's default initialisation).</summary>
    public WeightInit? WeightInit { get; init; }
    /// <summary>Folder for per-epoch logs and the trained model (null: neither is written).</summary>
    public string? LogPath { get; init; }
    /// <summary>Task-, domain- or class-incremental (the experiment must support it).</summary>
    public Scenario Scenario { get; init; } = Scenario.Task;
    /// <summary>Keep the trained model and the approach's state beside the results when the run completes (<see cref="KeptModel"/>).</summary>
    public bool SaveModel { get; init; }
    /// <summary>Also evaluate without the task id (task-agnostic) after each task; the task-aware evaluation always runs.</summary>
    public EvaluationSetting Evaluation { get; init; } = EvaluationSetting.Both;
    /// <summary>Folder for TensorBoard event files (null: none are written).</summary>
    public string? TensorBoard { get; init; }
    /// <summary>Continue the run from its checkpoint (or start it, when nothing of it exists; nothing to do when complete).</summary>
    public bool Resume { get; init; }
    /// <summary>Start afresh although results of this run exist (a complete result is only replaced once the new run is complete).</summary>
    public bool Overwrite { get; init; }
    /// <summary>Checkpoint every N epochs (0: only at task ends; null: automatically, costing under 5% of the run).</summary>
    public int? CheckpointEvery { get; init; }

    /// <summary>The approach's own options, <c>--name value</c> without the dashes.</summary>
    public IReadOnlyDictionary<string, string> Parameters { get; init; } = new Dictionary<string, string>();

    public int? Epochs { get; init; }
    public int? BatchSize { get; init; }
    public double? LearningRate { get; init; }
    public double? MinLearningRate { get; init; }
    public double? LearningRateFactor { get; init; }
    public int? Patience { get; init; }
    public double? ClipGradient { get; init; }
    public Warmup? Warmup { get; init; }
    public Curriculum.CurriculumSchedule? Curriculum { get; init; }

    /// <summary>The base-loop options given here, applied to <paramref name="defaults"/> (the approach's on the backbone).</summary>
    public TrainingOptions ApplyTraining(TrainingOptions defaults) => defaults with
    {
        Epochs = Epochs ?? defaults.Epochs,
        BatchSize = BatchSize ?? defaults.BatchSize,
        LearningRate = LearningRate ?? defaults.LearningRate,
        MinLearningRate = MinLearningRate ?? defaults.MinLearningRate,
        LearningRateFactor = LearningRateFactor ?? defaults.LearningRateFactor,
        Patience = Patience ?? defaults.Patience,
        ClipGradient = ClipGradient ?? defaults.ClipGradient,
        Warmup = Warmup ?? defaults.Warmup,
        Curriculum = Curriculum ?? defaults.Curriculum,
    };
}

/// <summary>
/// What is evaluated after each task: task-aware only, or both task-aware (the task id picks the head) and
/// task-agnostic (the task is predicted per sample). The task-aware matrix is always computed: the seed-format result
/// file and model selection use it.
/// </summary>
public enum EvaluationSetting { Both, Aware }
