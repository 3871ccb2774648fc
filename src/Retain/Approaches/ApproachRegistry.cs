using Retain.Networks;
using Retain.Networks.Dwa;
using Retain.Training;

namespace Retain.Approaches;

/// <summary>What an approach needs to build its network: the backbone the experiment uses, the data's shape, the options.</summary>
public sealed record NetworkRequest(BackboneArchitecture Backbone, int[] InputSize, IReadOnlyList<int> ClassCounts, object? Options);

/// <summary>An approach the CLI can run: its name, what it does, its options and how to build it.</summary>
public sealed record ApproachInfo(string Name, string Description)
{
    /// <summary>The approach's base-loop defaults on any backbone without a row of its own (<see cref="ApproachDefaults"/>).</summary>
    public TrainingOptions Defaults => ApproachDefaults.Training(Name, ApproachDefaults.AnyBackbone);
    /// <summary>
    /// Whether the approach learns its tasks (false for a reference that does not, such as the random classifier):
    /// every approach that does must learn each task of a short run above chance on every backbone, with its defaults.
    /// </summary>
    public bool LearnsTasks { get; init; } = true;
    /// <summary>The approach's own options record (properties marked with <see cref="OptionAttribute"/>), if any.</summary>
    public Type? OptionsType { get; init; }
    public required Func<ApproachContext, object?, Approach> Create { get; init; }
    /// <summary>The network the approach trains; by default the experiment's backbone without gating.</summary>
    public Func<NetworkRequest, MultiHeadNetwork> CreateNetwork { get; init; } =
        r => NetworkFactory.Create(r.Backbone, r.InputSize, r.ClassCounts);

    /// <summary>
    /// The base-loop defaults on <paramref name="backbone"/> (<see cref="ApproachDefaults"/>), as the bound
    /// <paramref name="options"/> adjust them (<see cref="IAdjustsTrainingDefaults"/>); options given on the command
    /// line are applied on top.
    /// </summary>
    public TrainingOptions DefaultsFor(BackboneArchitecture backbone, object? options = null)
    {
        var defaults = ApproachDefaults.Training(Name, backbone.Name);
        return options is IAdjustsTrainingDefaults adjusts ? adjusts.AdjustDefaults(defaults) : defaults;
    }

    /// <summary>The approach's option values on <paramref name="backbone"/> that differ from its options record's defaults.</summary>
    public IReadOnlyDictionary<string, string> OptionDefaultsFor(BackboneArchitecture backbone) => ApproachDefaults.Options(Name, backbone.Name);

    /// <summary>The approach's options with their defaults, or with the values of a bound <paramref name="options"/> record.</summary>
    public IReadOnlyList<OptionInfo> Options(object? options = null) =>
        OptionsType is null ? [] : ApproachOptions.Describe(OptionsType, options);

    /// <summary>
    /// The approach's options from <paramref name="values"/> (as on the command line), on top of the table's values
    /// for <paramref name="backbone"/> (<see cref="OptionDefaultsFor"/>) when one is given.
    /// </summary>
    public object? BindOptions(IReadOnlyDictionary<string, string> values, BackboneArchitecture? backbone = null)
    {
        if (backbone is not null)
        {
            var merged = OptionDefaultsFor(backbone).ToDictionary();
            foreach (var (name, value) in values) merged[name] = value;
            values = merged;
        }
        if (OptionsType is not null) return ApproachOptions.Bind(OptionsType, values, Name);
        if (values.Count > 0) ApproachOptions.Bind(typeof(object), values, Name); // throws: no options
        return null;
    }
}

/// <summary>The approaches by name, as the command line knows them: the built-in ones and those registered.</summary>
public static class ApproachRegistry
{
    /// <summary>Replaced, never changed, by <see cref="Register"/>: a reader enumerating it never sees it change.</summary>
    private static ApproachInfo[] _all =
    [
        new("sgd", "Fine-tuning of the whole network on each task in turn (catastrophic forgetting reference).")
        {
            Create = (c, _) => new Sgd(c),
        },
        new("sgd-restart", "Training from scratch for every task (no transfer, no forgetting of the current task).")
        {
            Create = (c, _) => new SgdRestart(c),
        },
        new("sgd-frozen", "Train everything on the first task, then only the heads (feature extraction).")
        {
            Create = (c, _) => new SgdFrozen(c),
        },
        new("joint", "Multitask training on all tasks seen so far, from scratch each time (the upper reference A_J).")
        {
            Create = (c, _) => new Joint(c),
        },
        new("random", "A random classifier stratified by the training labels (the lower reference A_R).")
        {
            LearnsTasks = false,
            Create = (c, _) => new RandomGuess(c),
        },
        new("ewc", "Elastic Weight Consolidation: a Fisher-weighted quadratic pull towards the previous solution.")
        {
            OptionsType = typeof(EwcOptions), Create = (c, o) => new Ewc(c, (EwcOptions)o!),
        },
        new("hat", "Hard attention to the task: learned per-task unit gates; weights that earlier tasks' units use get no gradient.")
        {
            OptionsType = typeof(HatOptions),
            Create = (c, o) => new Hat(c, (HatOptions)o!),
            CreateNetwork = r => HatUnitGates.CreateNetwork(r.Backbone, r.InputSize, r.ClassCounts),
        },
        new("hat-test", "HAT's compression variant: embeddings start uniform in [0,2) (every unit in use), tested with binary gates, used capacity recorded per epoch (see `retain compress`).")
        {
            OptionsType = typeof(HatTestOptions),
            Create = (c, o) => new HatTest(c, (HatTestOptions)o!),
            CreateNetwork = r => HatTest.CreateNetwork(r.Backbone, r.InputSize, r.ClassCounts),
        },
        new("lwf", "Learning without Forgetting: earlier heads are distilled towards the previous model's answers on the new task's inputs.")
        {
            OptionsType = typeof(LwfOptions),
            Create = (c, o) => new Lwf(c, (LwfOptions)o!),
        },
        new("lfl", "Less-Forgetting Learning: the last hidden layer's features are pulled towards the previous model's (L2).")
        {
            OptionsType = typeof(LflOptions),
            Create = (c, o) => new Lfl(c, (LflOptions)o!),
            CreateNetwork = r => Lfl.CreateNetwork(r.Backbone, r.InputSize, r.ClassCounts),
        },
        new("imm-mean", "Mean incremental moment matching: L2 transfer from the merged model, then an equal-weight mean of the task solutions.")
        {
            OptionsType = typeof(ImmMeanOptions),
            Create = (c, o) => new ImmMean(c, (ImmMeanOptions)o!),
        },
        new("imm-mode", "Mode incremental moment matching: L2 transfer from the merged model, then a Fisher-weighted merge of the task solutions.")
        {
            OptionsType = typeof(ImmModeOptions),
            Create = (c, o) => new ImmMode(c, (ImmModeOptions)o!),
        },
        new("progressive", "Progressive networks: a new column per task with lateral connections from the frozen columns of earlier tasks.")
        {
            Create = (c, _) => new Progressive(c),
            CreateNetwork = r => ProgressiveColumns.CreateNetwork(r.Backbone, r.InputSize, r.ClassCounts),
        },
        new("pathnet", "PathNet: an evolutionary search of a path through per-layer modules for each task; earlier tasks' paths are frozen.")
        {
            OptionsType = typeof(PathNetOptions),
            Create = (c, o) => new PathNet(c, (PathNetOptions)o!),
            CreateNetwork = r => r.Options is PathNetOptions o
                ? PathNetModules.CreateNetwork(r.Backbone, r.InputSize, r.ClassCounts, o.Modules, o.Active)
                : throw new ArgumentException("pathnet's network needs its options", nameof(r)),
        },
        new("dwa", "Dynamic Weight Allocation: per-sample weight masks generated from a context embedding, shaped by anchor, plasticity and sparsity losses.")
        {
            OptionsType = typeof(DwaOptions),
            Create = (c, o) => new Dwa(c, (DwaOptions)o!),
            CreateNetwork = r => CreateDwaNetwork(r, (DwaOptions?)r.Options ?? new DwaOptions()),
        },
    ];

    /// <summary>
    /// DWA's network (alexnet_dwa on AlexNet, an extension of the seed on the others), initialised as every published run
    /// was (kaiming:xavier; the seed left the masked layers uninitialised); --weight-init, applied afterwards, overrides it.
    /// </summary>
    private static MultiHeadNetwork CreateDwaNetwork(NetworkRequest request, DwaOptions options)
    {
        var network = DwaNetworkFactory.Create(request.Backbone, request.InputSize, request.ClassCounts, options.Network);
        Dwa.Initialisation.Apply(network);
        return network;
    }

    private static readonly Lock RegistrationLock = new();

    public static IReadOnlyList<ApproachInfo> All => Volatile.Read(ref _all);

    /// <summary>
    /// Adds an approach (a research project's own, see docs/extending.md): <c>retain run -a NAME</c>, studies and
    /// checkpoints then know it. Its name must be new.
    /// </summary>
    public static void Register(ApproachInfo approach)
    {
        lock (RegistrationLock)
        {
            if (_all.Any(a => a.Name == approach.Name)) throw new RetainException($"--approach: an approach named '{approach.Name}' is already registered");
            Volatile.Write(ref _all, [.. _all, approach]);
        }
    }

    public static ApproachInfo Get(string name) =>
        All.FirstOrDefault(a => a.Name == name)
        ?? throw new RetainException($"--approach: unknown approach '{name}' (known: {string.Join(", ", All.Select(a => a.Name))})");
}
