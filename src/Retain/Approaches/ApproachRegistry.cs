namespace Retain.Approaches;

/// <summary>An approach as the command line, studies and reports know it: its name, what it does, and its spec.</summary>
public sealed record ApproachEntry(string Name, string Description, ApproachSpec Spec)
{
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
        new("sgd", "Fine-tuning of the whole network on each task in turn (catastrophic forgetting reference).", new SgdSpec()),
        new("sgd-restart", "Training from scratch for every task (no transfer, no forgetting of the current task).", new SgdRestartSpec()),
        new("sgd-frozen", "Train everything on the first task, then only the heads (feature extraction).", new SgdFrozenSpec()),
        new("joint", "Multitask training on all tasks seen so far, from scratch each time (the upper reference A_J).", new JointSpec()),
        new("random", "A random classifier stratified by the training labels (the lower reference A_R).", new RandomGuessSpec()),
        new("ewc", "Elastic Weight Consolidation: a Fisher-weighted quadratic pull towards the previous solution.", new EwcSpec()),
        new("hat", "Hard attention to the task: learned per-task unit gates; weights that earlier tasks' units use get no gradient.", new HatSpec()),
        new("hat-test", "HAT's compression variant: embeddings start uniform in [0,2) (every unit in use), tested with binary gates, used capacity recorded per epoch (see `retain compress`).", new HatTestSpec()),
        new("lwf", "Learning without Forgetting: earlier heads are distilled towards the previous model's answers on the new task's inputs.", new LwfSpec()),
        new("lfl", "Less-Forgetting Learning: the last hidden layer's features are pulled towards the previous model's (L2).", new LflSpec()),
        new("imm-mean", "Mean incremental moment matching: L2 transfer from the merged model, then an equal-weight mean of the task solutions.", new ImmMeanSpec()),
        new("imm-mode", "Mode incremental moment matching: L2 transfer from the merged model, then a Fisher-weighted merge of the task solutions.", new ImmModeSpec()),
        new("progressive", "Progressive networks: a new column per task with lateral connections from the frozen columns of earlier tasks.", new ProgressiveSpec()),
        new("pathnet", "PathNet: an evolutionary search of a path through per-layer modules for each task; earlier tasks' paths are frozen.", new PathNetSpec()),
        new("si", "Synaptic Intelligence: each parameter's importance is its path integral of the loss's gradient over its updates, normalised by how far it moved; a quadratic pull towards the previous solution.", new SiSpec()),
        new("mas", "Memory Aware Synapses: importance is the mean magnitude of the gradient of the output's squared L2 norm on the task's data; a quadratic pull towards the previous solution.", new MasSpec()),
        new("packnet", "PackNet: after each task, prune its smallest weights per layer and retrain the rest; the kept weights are frozen, and each task sees only its own and earlier tasks' weights.", new PackNetSpec()),
        new("dwa", "Dynamic Weight Allocation: per-sample weight masks generated from a context embedding, shaped by anchor, plasticity and sparsity losses.", new DwaSpec()),
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
