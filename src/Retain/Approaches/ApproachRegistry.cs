namespace Retain.Approaches;

/// <summary>An approach as the command line, studies and reports know it: its name, what it does, and its spec.</summary>
public sealed record ApproachEntry(string Name, string Description, ApproachSpec Spec)
{
    /// <summary>The paper the approach comes from (authors, title, venue and year), which <c>retain approaches</c> prints.</summary>
    public string? Paper { get; init; }

    /// <summary>The approach with the options <paramref name="values"/> gives as text, on top of its defaults on <paramref name="backbone"/>.</summary>
    public ApproachSetup Bind(IReadOnlyDictionary<string, string> values, Networks.BackboneArchitecture? backbone = null) =>
        Spec.Bind(values, backbone, Name);
}

/// <summary>
/// The approaches by name: the built-in ones and those registered. Names live only here, at the edge (the command line,
/// studies, reports, result records); the library works with the specs (<see cref="ApproachSpec"/>).
/// </summary>
public static class ApproachRegistry
{
    /// <summary>Replaced, never changed, by <see cref="Register"/>: a reader enumerating it never sees it change.</summary>
    private static ApproachEntry[] _all =
    [
        new("sgd", "Fine-tuning of the whole network on each task in turn (catastrophic forgetting reference).", new SgdSpec())
            { Paper = "the fine-tuning baseline SGD of Serrà et al., \"Overcoming Catastrophic Forgetting with Hard Attention to the Task\", ICML 2018" },
        new("sgd-restart", "Training from scratch for every task (no transfer, no forgetting of the current task).", new SgdRestartSpec())
            { Paper = "the baseline SGD-R of Serrà et al., \"Overcoming Catastrophic Forgetting with Hard Attention to the Task\", ICML 2018" },
        new("sgd-frozen", "Train everything on the first task, then only the heads (feature extraction).", new SgdFrozenSpec())
            { Paper = "feature extraction, Donahue et al., \"DeCAF: A Deep Convolutional Activation Feature for Generic Visual Recognition\", ICML 2014 (the baseline SGD-F of Serrà et al. 2018)" },
        new("joint", "Multitask training on all tasks seen so far, from scratch each time (the upper reference A_J).", new JointSpec())
            { Paper = "multitask learning, Caruana, \"Multitask Learning\", Machine Learning 1997 (the reference A_J of Serrà et al. 2018's forgetting ratio)" },
        new("random", "A random classifier stratified by the training labels (the lower reference A_R).", new RandomGuessSpec())
            { Paper = "the reference A_R of the forgetting ratio, Serrà et al., \"Overcoming Catastrophic Forgetting with Hard Attention to the Task\", ICML 2018" },
        new("ewc", "Elastic Weight Consolidation: a Fisher-weighted quadratic pull towards the previous solution.", new EwcSpec())
            { Paper = "Kirkpatrick et al., \"Overcoming catastrophic forgetting in neural networks\", PNAS 2017" },
        new("hat", "Hard attention to the task: learned per-task unit gates; weights that earlier tasks' units use get no gradient.", new HatSpec())
            { Paper = "Serrà et al., \"Overcoming Catastrophic Forgetting with Hard Attention to the Task\", ICML 2018" },
        new("hat-test", "HAT's compression variant: embeddings start uniform in [0,2) (every unit in use), tested with binary gates, used capacity recorded per epoch (see `retain compress`).", new HatTestSpec())
            { Paper = "Serrà et al., \"Overcoming Catastrophic Forgetting with Hard Attention to the Task\", ICML 2018 (the compression experiment, §4.4)" },
        new("lwf", "Learning without Forgetting: earlier heads are distilled towards the previous model's answers on the new task's inputs.", new LwfSpec())
            { Paper = "Li and Hoiem, \"Learning without Forgetting\", ECCV 2016 (TPAMI 2018)" },
        new("lfl", "Less-Forgetting Learning: the last hidden layer's features are pulled towards the previous model's (L2).", new LflSpec())
            { Paper = "Jung et al., \"Less-forgetting Learning in Deep Neural Networks\", arXiv:1607.00122, 2016" },
        new("imm-mean", "Mean incremental moment matching: L2 transfer from the merged model, then an equal-weight mean of the task solutions.", new ImmMeanSpec())
            { Paper = "Lee et al., \"Overcoming Catastrophic Forgetting by Incremental Moment Matching\", NeurIPS 2017" },
        new("imm-mode", "Mode incremental moment matching: L2 transfer from the merged model, then a Fisher-weighted merge of the task solutions.", new ImmModeSpec())
            { Paper = "Lee et al., \"Overcoming Catastrophic Forgetting by Incremental Moment Matching\", NeurIPS 2017" },
        new("progressive", "Progressive networks: a new column per task with lateral connections from the frozen columns of earlier tasks.", new ProgressiveSpec())
            { Paper = "Rusu et al., \"Progressive Neural Networks\", arXiv:1606.04671, 2016" },
        new("pathnet", "PathNet: an evolutionary search of a path through per-layer modules for each task; earlier tasks' paths are frozen.", new PathNetSpec())
            { Paper = "Fernando et al., \"PathNet: Evolution Channels Gradient Descent in Super Neural Networks\", arXiv:1701.08734, 2017" },
        new("si", "Synaptic Intelligence: each parameter's importance is its path integral of the loss's gradient over its updates, normalised by how far it moved; a quadratic pull towards the previous solution.", new SiSpec())
            { Paper = "Zenke, Poole and Ganguli, \"Continual Learning Through Synaptic Intelligence\", ICML 2017" },
        new("mas", "Memory Aware Synapses: importance is the mean magnitude of the gradient of the output's squared L2 norm on the task's data; a quadratic pull towards the previous solution.", new MasSpec())
            { Paper = "Aljundi et al., \"Memory Aware Synapses: Learning what (not) to forget\", ECCV 2018" },
        new("packnet", "PackNet: after each task, prune its smallest weights per layer and retrain the rest; the kept weights are frozen, and each task sees only its own and earlier tasks' weights.", new PackNetSpec())
            { Paper = "Mallya and Lazebnik, \"PackNet: Adding Multiple Tasks to a Single Network by Iterative Pruning\", CVPR 2018" },
        new("dwa", "Dynamic Weight Allocation: per-sample weight masks generated from a context embedding, shaped by anchor, plasticity and sparsity losses.", new DwaSpec())
            { Paper = "Geilert, \"Pay attention to the Task: Avoid forgetting in sequential learning through dynamic weight allocation\"" },
        new("er", "Experience replay: a reservoir memory of fixed total size; every step trains on the current batch and a replayed one.", new ErSpec())
            { Paper = "Chaudhry et al., \"On Tiny Episodic Memories in Continual Learning\", arXiv:1902.10486, 2019" },
        new("agem", "Averaged GEM: the gradient is projected when it would increase the loss on a batch from the memory of earlier tasks.", new AgemSpec())
            { Paper = "Chaudhry et al., \"Efficient Lifelong Learning with A-GEM\", ICLR 2019" },
        new("der", "Dark Experience Replay: replayed samples' logits are pulled towards the logits stored with them (reservoir memory).", new DerSpec())
            { Paper = "Buzzega et al., \"Dark Experience for General Continual Learning: a Strong, Simple Baseline\", NeurIPS 2020" },
        new("der++", "DER++: Dark Experience Replay plus the cross-entropy of a second replayed batch with its stored labels.", new DerPlusPlusSpec())
            { Paper = "Buzzega et al., \"Dark Experience for General Continual Learning: a Strong, Simple Baseline\", NeurIPS 2020" },
    ];

    private static readonly Lock RegistrationLock = new();

    public static IReadOnlyList<ApproachEntry> All => Volatile.Read(ref _all);

    /// <summary>
    /// Adds an approach (a research project's own, see docs/extending.md): <c>retain run -a NAME</c>, studies and
    /// checkpoints then know it. Its name must be new.
    /// </summary>
    public static void Register(ApproachEntry approach)
    {
        lock (RegistrationLock)
        {
            if (_all.Any(a => a.Name == approach.Name)) throw new RetainException($"--approach: an approach named '{approach.Name}' is already registered");
            Volatile.Write(ref _all, [.. _all, approach]);
        }
    }

    public static ApproachEntry Get(string name) =>
        All.FirstOrDefault(a => a.Name == name)
        ?? throw new RetainException($"--approach: unknown approach '{name}' (known: {string.Join(", ", All.Select(a => a.Name))})");
}
