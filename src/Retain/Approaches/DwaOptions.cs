using Retain.Curriculum;
using Retain.Networks.Dwa;
using Retain.Training;

namespace Retain.Approaches;

/// <summary>DWA's two sets of option defaults.</summary>
public enum DwaPreset
{
    /// <summary>The corrected formulas (<see cref="DwaFormulation.Corrected"/>) with the seed code's defaults and λ calibrated on validation data (docs/dwa.md, "Calibration").</summary>
    Corrected,
    /// <summary>
    /// The run behind the paper's figures, the seed's <c>final-warm</c> script exactly: the seed's formulas, λ_loss 20,0.05,
    /// λ_reg 500, α 1.5, δ 1, tanh gates, lr 0.05, warm-up 20 epochs at lr/1000, 200 epochs at a constant rate.
    /// </summary>
    Published,
}

/// <summary>Which formulas DWA's auxiliary terms, its Fisher pass and its anchor search follow (docs/dwa.md, "Corrections of the seed").</summary>
public enum DwaFormulation
{
    /// <summary>What the paper describes: per-sample squared triplet distances, batch means, mean |M| sparsity, an exact Fisher diagonal.</summary>
    Corrected,
    /// <summary>
    /// What the seed's code computed, quirks included: whole-batch triplet norms divided by 1 + δ and scaled by Σ_b (1 - c_b);
    /// sparsity of the unused fraction mean(1 - |M|) summed over the batch (binary: the count of entries M ≠ 0, a
    /// constant without gradient); the task code's slice; unclamped stiffness; a Fisher pass that never zeroes
    /// gradients; the negative search on the last anchor batch with the unnormalised P; the anchor of a task stored at
    /// the start of its last epoch.
    /// </summary>
    Seed,
}

/// <summary>
/// DWA's options (docs/dwa.md, "Options"; the paper's §4.3), named as in the seed. <c>--preset</c> picks a set of defaults
/// (<see cref="DwaPreset"/>) and options given explicitly override it. The λ defaults follow the formulation: the seed's
/// values for its own formulas, values calibrated on validation data for the corrected ones (docs/dwa.md).
/// Both presets initialise the network as every published run did (<see cref="Dwa.Initialisation"/>). The base loop's
/// options are DWA's defaults of the run options (<see cref="Dwa.Defaults"/>), which the published preset adjusts
/// (<see cref="AdjustDefaults"/>, applied by <see cref="DwaSpec"/>).
/// </summary>
public sealed record DwaOptions : IValidatedOptions
{
    private readonly DwaPreset _preset;

    [Option("preset", "corrected (the corrected formulas, λ calibrated on validation data, docs/dwa.md) or published (the seed's final-warm run behind the paper's figures: its formulas and options, lr 0.05, warm-up 20,1000, 200 epochs at a constant rate); explicit options override it", BindsFirst = true)]
    public DwaPreset Preset
    {
        get => _preset;
        init
        {
            _preset = value;
            if (value != DwaPreset.Published) return;
            Formulation = DwaFormulation.Seed;
            Margin = 1.5;
            TaskNegativeWeight = 1;
            Gate = MaskGate.Tanh;
        }
    }

    [Option("formulation", "corrected (the paper's formulas: per-sample squared triplet distances, batch means, sparsity of mean |M|, exact Fisher) or seed (the seed code's formulas with its quirks, as the published numbers were made)")]
    public DwaFormulation Formulation { get; init; }

    /// <summary>The seed code's λ_triplet, λ_att (the paper's §4.3 gives λ1 = 20, λ2 = 0.1).</summary>
    public static readonly double[] SeedLossWeights = [10, 0.05];
    /// <summary>λ_triplet, λ_att of the published run (final-warm).</summary>
    public static readonly double[] PublishedLossWeights = [20, 0.05];
    /// <summary>The seed's λ_sparsity (code default and final-warm).</summary>
    public const double SeedSparsityWeight = 500;
    /// <summary>
    /// λ_triplet, λ_att for the corrected formulas, selected on validation accuracy by studies/dwa_calibration.yaml
    /// (docs/dwa.md, "Calibration"). The starting point, the published λ times the factors by which the corrections
    /// shrank each term (16 and 26 to 2800, retain dwa-terms), left tasks after the first at chance: the triplet term at
    /// 320 outweighed the cross-entropy. λ_att 1.3 and 1e6 tied on validation (0.659 and 0.656 over split-fashion, pmnist and mixture, one seed); at 1e6 the
    /// plasticity term's size depends on the network's width (a 64-unit MLP-DWA lost its first task to 4%), so 1.3.
    /// </summary>
    public static readonly double[] CorrectedLossWeights = [20, 1.3];
    /// <summary>
    /// λ_sparsity for the corrected measures, selected with the λ above: not rescaled, because the seed's term pushed
    /// masks the other way (at the seed's 500 the masks overshoot μ and collapse towards 0). At 50 the term outweighs
    /// the cross-entropy in short runs and pmnist learns to 41% (66% at 5).
    /// </summary>
    public const double CorrectedSparsityWeight = 5;

    private readonly double[]? _lossWeights;

    [Option("lamb_loss", "λ_triplet,λ_att: weights of the anchor (triplet) loss and of the plasticity (attention) loss; one number sets both (default: by formulation and preset, see docs/dwa.md)")]
    public double[] LossWeights
    {
        get => _lossWeights ?? (Formulation == DwaFormulation.Corrected ? CorrectedLossWeights
            : Preset == DwaPreset.Published ? PublishedLossWeights : SeedLossWeights);
        init => _lossWeights = value;
    }

    private readonly double? _sparsityWeight;

    [Option("lamb_reg", "λ_sparsity: weight of the sparsity regulariser (default 5 with the corrected formulation, the seed's 500 with its own)")]
    public double SparsityWeight
    {
        get => _sparsityWeight ?? (Formulation == DwaFormulation.Seed ? SeedSparsityWeight : CorrectedSparsityWeight);
        init => _sparsityWeight = value;
    }

    [Option("sparsity", "μ: target fraction of mask entries in use; each sample's excess over it is penalised")]
    public double TargetSparsity { get; init; } = 0.2;

    [Option("bin_sparsity", "count entries in use instead of the soft measure: corrected, |M| >= 0.5 with the soft count's gradient (straight-through); seed, M ≠ 0 (a constant without gradient, as in the seed)")]
    public bool BinarySparsity { get; init; }

    [Option("alpha", "α: margin of the triplet loss")]
    public double Margin { get; init; } = 1;

    [Option("delta", "δ: weight of the task-negative term (stored anchors of earlier tasks) in the triplet loss")]
    public double TaskNegativeWeight { get; init; } = 1;

    [Option("stiff", "epochs over which the auxiliary losses ramp up linearly from 0 to full weight (none: full weight from the start)")]
    public int? StiffnessEpochs { get; init; }

    [Option("use_anchor_first", "apply the triplet loss on the first task too")]
    public bool AnchorLossOnFirstTask { get; init; }

    [Option("scale_att_loss", "scale the attention loss per masked layer ℓ by η_ℓ = 0.2 + 0.8 ℓ / (number of masked layers)")]
    public bool ScaleAttentionLoss { get; init; }

    [Option("use_task_loss", "also pull each embedding towards a fixed code of its task (ones on the task's 1/T slice of the embedding)")]
    public bool UseTaskLoss { get; init; }

    [Option("use_apex", "NVIDIA apex mixed precision (not available: TorchSharp has no apex; only false is accepted)")]
    public bool UseApex { get; init; }

    [Option("use_processor", "compute the embedding from the input with the context processor (false: the task's one-hot code)")]
    public bool UseProcessor { get; init; } = true;

    [Option("processor_feats", "F_B,F_E: channels of the context processor's two layers")]
    public int[] ProcessorFeatures { get; init; } = [32, 128];

    [Option("emb_size", "E: embedding size (none: the number of tasks)")]
    public int? EmbeddingSize { get; init; } = 100;

    [Option("use_stem", "number of unmasked leading layers whose output feeds the processor (AlexNet 0..4, MLP 0..2)")]
    public int StemLayers { get; init; } = 1;

    [Option("use_concat", "the processor reads the input and all stem outputs, pooled to the last one's size and concatenated")]
    public bool ConcatenateStem { get; init; }

    [Option("use_combination", "dense masks as the gated outer product of two small generators (false: one generator of out·in outputs)")]
    public bool CombineMaskFactors { get; init; } = true;

    [Option("use_dropout", "dropout after the blocks (0.2 after c1, c2; 0.5 after the rest)")]
    public bool UseDropout { get; init; }

    [Option("gate", "sigmoid or tanh: squashes the embedding and the masks")]
    public MaskGate Gate { get; init; } = MaskGate.Sigmoid;

    [Option("task_predictor", "DWA's task inference without the task id: maxprob (the most confident head, as every approach); from the context embedding anchor (the nearest stored task anchor, the paper's), centroid (the nearest mean of the task's stored samples), knn (the most frequent task among the nearest stored samples) or gaussian (the most likely task, a Gaussian per task with a variance per dimension), the stored samples embedded as the processor is when predicting; from the stem's features, what the processor reads, classifier (a small network trained after each task on every task's stored samples) or posterior (the classifier's task probability times the head's class probability: the most probable task and class); every one is recorded, this one is DWA's result (docs/task-agnostic.md)")]
    public DwaTaskPredictor TaskPredictor { get; init; } = DwaTaskPredictor.Posterior;

    [Option("knn", "k: stored embeddings the knn task predictor consults")]
    public int Neighbours { get; init; } = 10;

    public double TripletWeight => LossWeights[0];
    public double AttentionWeight => LossWeights.Length > 1 ? LossWeights[1] : LossWeights[0];

    /// <summary>
    /// The published preset's base-loop options (final-warm): lr 0.05 (the seed's run script always passed its own
    /// default), warm-up 20 epochs at lr/1000, 200 epochs, and a learning rate that never decays, because the seed's
    /// reversed patience test never fired (docs/running.md, "Corrections of the seed in the base loop"), so every task ran all its epochs at 0.05.
    /// </summary>
    public TrainingOptions AdjustDefaults(TrainingOptions defaults) => Preset != DwaPreset.Published ? defaults : defaults with
    {
        Epochs = 200, BatchSize = 32, LearningRate = 0.05, ClipGradient = 10000, Warmup = new Warmup(20, 1000),
        Curriculum = CurriculumSchedule.Parse(Dwa.SeedCurriculum), Patience = int.MaxValue,
    };

    public DwaNetworkOptions Network => new()
    {
        UseProcessor = UseProcessor, BottleneckFeatures = ProcessorFeatures[0], ProcessorFeatures = ProcessorFeatures[1],
        EmbeddingSize = EmbeddingSize, StemLayers = StemLayers, ConcatenateStem = ConcatenateStem,
        CombineMaskFactors = CombineMaskFactors, UseDropout = UseDropout, Gate = Gate,
    };

    /// <summary>Checks the values the option parser cannot (ranges, list lengths); the upper bound of --use_stem depends on the backbone and is checked when the network is built.</summary>
    public void Validate()
    {
        if (LossWeights.Length is < 1 or > 2 || LossWeights.Any(w => w < 0))
            throw new RetainException($"--lamb_loss: expected one or two non-negative weights λ_triplet[,λ_att] (got {ApproachOptions.Format(LossWeights)})");
        OptionValues.RequireNotNegative("--lamb_reg", SparsityWeight);
        if (TargetSparsity is < 0 or > 1) throw new RetainException($"--sparsity must be in [0, 1] (got {ApproachOptions.Format(TargetSparsity)})");
        OptionValues.RequireNotNegative("--alpha", Margin);
        OptionValues.RequireNotNegative("--delta", TaskNegativeWeight);
        if (StiffnessEpochs is { } stiff) OptionValues.RequireAtLeast("--stiff", stiff, 1);
        if (ProcessorFeatures.Length != 2 || ProcessorFeatures.Any(f => f < 1))
            throw new RetainException($"--processor_feats: expected two positive sizes F_B,F_E (got {ApproachOptions.Format(ProcessorFeatures)})");
        if (EmbeddingSize is { } size) OptionValues.RequireAtLeast("--emb_size", size, 1);
        OptionValues.RequireNotNegative("--use_stem", StemLayers);
        OptionValues.RequireAtLeast("--knn", Neighbours, 1);
        if (UseApex) throw new RetainException("--use_apex: NVIDIA apex mixed precision does not exist in TorchSharp; DWA runs in float32");
    }
}
