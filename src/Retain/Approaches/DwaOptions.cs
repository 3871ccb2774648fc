using Retain.Networks.Dwa;

namespace Retain.Approaches;

/// <summary>The two published default sets of DWA's options.</summary>
public enum DwaPreset
{
    /// <summary>The seed code's defaults (approaches.md §15.1, "code default").</summary>
    Code,
    /// <summary>The paper's section 4.3: λ1 = 20, λ2 = 0.1, α = 1.5, tanh gates, layer-scaled attention loss, indicator sparsity.</summary>
    Paper,
}

/// <summary>
/// DWA's options (approaches.md §15.1 and networks.md §9), named as in the seed. Defaults are the code's; <c>--preset
/// paper</c> switches to the paper's set, and options given explicitly override the preset. Both presets initialise
/// the network as every published run did (<see cref="Dwa.Initialisation"/>). The base loop's options (nepochs 200, sbatch 32,
/// lr 0.075, warmup 10,750, curriculum linear:100:0.2, clipgrad 10000) are DWA's defaults of the run options.
/// </summary>
public sealed record DwaOptions : IValidatedOptions
{
    private readonly DwaPreset _preset;

    [Option("preset", "code (the seed code's defaults) or paper (section 4.3: lamb_loss 20,0.1, alpha 1.5, gate tanh, scale_att_loss, bin_sparsity); explicit options override it", BindsFirst = true)]
    public DwaPreset Preset
    {
        get => _preset;
        init
        {
            _preset = value;
            if (value != DwaPreset.Paper) return;
            LossWeights = [20, 0.1];
            Margin = 1.5;
            Gate = MaskGate.Tanh;
            ScaleAttentionLoss = true;
            BinarySparsity = true;
        }
    }

    [Option("lamb_loss", "λ_triplet,λ_att: weights of the anchor (triplet) loss and of the plasticity (attention) loss; one number sets both")]
    public double[] LossWeights { get; init; } = [10, 0.05];

    /// <summary>The seed's λ_sparsity, tuned for its own measure (<see cref="SeedSparsity"/>).</summary>
    public const double SeedSparsityWeight = 500;
    /// <summary>
    /// λ_sparsity for the corrected measures (README, DWA section). At the seed's 500 the masks overshoot the target
    /// use μ and collapse towards 0 within a few hundred steps, after which new tasks stay at chance; at 5 they stay
    /// dense; at 50 the network learns while the masks shrink gradually.
    /// </summary>
    public const double CorrectedSparsityWeight = 50;

    private readonly double? _sparsityWeight;

    [Option("lamb_reg", "λ_sparsity: weight of the sparsity regulariser (default 50; the seed's 500 with --seed_sparsity)")]
    public double SparsityWeight
    {
        get => _sparsityWeight ?? (SeedSparsity ? SeedSparsityWeight : CorrectedSparsityWeight);
        init => _sparsityWeight = value;
    }

    [Option("sparsity", "μ: target fraction of mask entries in use; each sample's excess over it is penalised")]
    public double TargetSparsity { get; init; } = 0.2;

    [Option("bin_sparsity", "count entries in use (|M| >= 0.5, with the soft count's gradient: straight-through) instead of the soft mean |M|")]
    public bool BinarySparsity { get; init; }

    [Option("seed_sparsity", "the seed's sparsity term, mean(1 - |M|) summed over the batch (a quirk: it pushes masks towards 1, a dense network); the published DWA numbers were made with it")]
    public bool SeedSparsity { get; init; }

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

    public double TripletWeight => LossWeights[0];
    public double AttentionWeight => LossWeights.Length > 1 ? LossWeights[1] : LossWeights[0];

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
        if (UseApex) throw new RetainException("--use_apex: NVIDIA apex mixed precision does not exist in TorchSharp; DWA runs in float32");
    }
}
