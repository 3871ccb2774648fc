using Retain.Networks;
using Retain.Training;

namespace Retain.Approaches;

/// <summary>The options record of an approach that has no options of its own.</summary>
public sealed record NoOptions;

/// <summary>
/// What an approach needs of the network it trains. <see cref="AnyBackbone"/>: it reads only the network's outputs
/// (heads, features), so any backbone will do. <see cref="Gated{TGating}"/>: it trains through a gating strategy of its
/// own (HAT's unit gates, DWA's weight masks, PathNet's modules, progressive columns) that its spec builds on a
/// backbone declared as a list of layers, and the approach receives that strategy, typed.
/// </summary>
public sealed record NetworkRequirement
{
    private NetworkRequirement(Type? gating) => Gating = gating;

    /// <summary>The gating strategy the approach trains through; null for any backbone.</summary>
    public Type? Gating { get; }

    public static NetworkRequirement AnyBackbone { get; } = new((Type?)null);

    public static NetworkRequirement Gated<TGating>() where TGating : Gating => new(typeof(TGating));

    public override string ToString() => Gating is null ? "any backbone" : $"{Gating.Name} on a backbone of layers";
}

/// <summary>
/// One approach, described once: its options record, its defaults per backbone (its own options and the base loop's),
/// what it needs of the network, how it changes or restricts the base loop, and how it is built. A spec has no name:
/// the command line, studies and reports know approaches by the names <see cref="ApproachRegistry"/> gives the specs.
/// <see cref="ApproachSpec{TOptions}.With"/> pairs a spec with its options (<see cref="ApproachSetup"/>), which is
/// what a run is resolved from (<see cref="Experiments.RunSetup"/>).
/// <para>
/// An approach derives from <see cref="PlainApproachSpec{TOptions}"/> (any backbone) or
/// <see cref="GatedApproachSpec{TOptions, TGating}"/> (a gating strategy of its own).
/// </para>
/// </summary>
public abstract class ApproachSpec
{
    private protected ApproachSpec() { }

    /// <summary>The approach's options record (<see cref="NoOptions"/> for none): properties marked with <see cref="OptionAttribute"/>.</summary>
    public abstract Type OptionsType { get; }

    public abstract NetworkRequirement Network { get; }

    /// <summary>
    /// Whether the approach learns its tasks (false for a reference that does not, such as the random classifier):
    /// every approach that does must learn each task of a short run above chance on every backbone, with its defaults.
    /// </summary>
    public virtual bool LearnsTasks => true;

    /// <summary>
    /// Whether the approach needs each test sample's task: its own gates, masks, columns or heads per task (hat, dwa,
    /// pathnet, progressive, sgd-frozen), or the task's labels (the random reference). Without the task id (the
    /// domain and class scenarios) such an approach keeps one head per task and is tested through its task predictor
    /// (<see cref="Approach.DefaultTaskPredictor"/>, as task-agnostic evaluation does): the task it predicts for a
    /// sample chooses the head that answers. Every other approach trains the scenario's own heads
    /// (<see cref="HeadsIn"/>).
    /// </summary>
    public virtual bool NeedsTaskId => false;

    /// <summary>The heads the approach trains in <paramref name="scenario"/> on tasks of <paramref name="classCounts"/> classes.</summary>
    public HeadLayout HeadsIn(Scenario scenario, IReadOnlyList<int> classCounts) =>
        HeadLayout.For(NeedsTaskId ? Scenario.Task : scenario, classCounts);

    /// <summary>The declared options with the options record's own defaults.</summary>
    public IReadOnlyList<OptionInfo> Options() => ApproachOptions.Describe(OptionsType);

    /// <summary>The approach with its default options on <paramref name="backbone"/>.</summary>
    public abstract ApproachSetup WithDefaults(BackboneArchitecture backbone);

    /// <summary>
    /// The approach with the options <paramref name="values"/> gives as text (as on the command line: <c>lamb</c> →
    /// <c>5000</c>), on top of its defaults on <paramref name="backbone"/> when one is given. An unknown or ill-typed
    /// option, or one out of its range, is an error naming it; <paramref name="approach"/> is the approach as the user
    /// knows it (its registry name), for those errors.
    /// </summary>
    public abstract ApproachSetup Bind(IReadOnlyDictionary<string, string> values, BackboneArchitecture? backbone, string approach);
}

/// <summary>An approach whose options are a <typeparamref name="TOptions"/> record (see <see cref="ApproachSpec"/>).</summary>
public abstract class ApproachSpec<TOptions> : ApproachSpec where TOptions : class, new()
{
    private protected ApproachSpec() { }

    public sealed override Type OptionsType => typeof(TOptions);

    /// <summary>The approach's options on <paramref name="backbone"/>: by default the options record's own defaults.</summary>
    public virtual TOptions DefaultOptions(BackboneArchitecture backbone) => new();

    /// <summary>
    /// The base loop's defaults on <paramref name="backbone"/> with <paramref name="options"/>: by default the seed's
    /// (<see cref="TrainingOptions"/>' own). What the user gives explicitly (<c>--lr</c>) is applied on top.
    /// </summary>
    public virtual TrainingOptions TrainingDefaults(BackboneArchitecture backbone, TOptions options) => new();

    /// <summary>The fewest epochs per task the approach can train with <paramref name="options"/> (PathNet: one per generation).</summary>
    public virtual int FewestEpochs(TOptions options) => 1;

    /// <summary>Why the approach needs <see cref="FewestEpochs"/>, for the error when a run has fewer.</summary>
    protected virtual string FewestEpochsReason(TOptions options) => "the approach needs them";

    /// <summary>
    /// The base loop as the approach runs it, given the loop the user asked for (validated, and with at least
    /// <see cref="FewestEpochs"/> epochs): joint trains without a warm-up or a curriculum, DWA always with a curriculum.
    /// The run's record stores what this returns, so it says what ran.
    /// </summary>
    protected virtual TrainingOptions Adapt(TrainingOptions training, TOptions options) => training;

    /// <summary>How <see cref="Adapt"/> changes the loop asked for, in a sentence for <c>retain approaches</c> (null: it does not).</summary>
    protected virtual string? TrainingRule(TOptions options) => null;

    /// <summary>
    /// What a user should know before a run of the loop <paramref name="training"/> (as adapted) starts: a schedule with
    /// which the approach is known not to learn, for example. The run is valid; the notes are printed before it.
    /// </summary>
    protected virtual IEnumerable<string> Notes(TrainingOptions training, TOptions options) => [];

    /// <summary>The approach with <paramref name="options"/> (checked: <see cref="IValidatedOptions"/>).</summary>
    public ApproachSetup<TOptions> With(TOptions options)
    {
        (options as IValidatedOptions)?.Validate();
        return new ApproachSetup<TOptions>(this, options);
    }

    public sealed override ApproachSetup<TOptions> WithDefaults(BackboneArchitecture backbone) => With(DefaultOptions(backbone));

    public sealed override ApproachSetup<TOptions> Bind(IReadOnlyDictionary<string, string> values, BackboneArchitecture? backbone, string approach) =>
        With(ApproachOptions.Bind(values, approach, backbone is null ? null : DefaultOptions(backbone)));

    internal TrainingOptions Resolve(TrainingOptions training, TOptions options)
    {
        training.Validate();
        var fewest = FewestEpochs(options);
        if (training.Epochs < fewest)
            throw new SettingException(typeof(TrainingOptions), nameof(TrainingOptions.Epochs),
                $"must be at least {fewest} (got {training.Epochs}): {FewestEpochsReason(options)}");
        return Adapt(training, options);
    }

    internal string? RuleOf(TOptions options) => TrainingRule(options);

    internal IReadOnlyList<string> NotesOn(TrainingOptions training, TOptions options) => Notes(training, options).ToArray();

    /// <summary>Builds the approach's network and the approach on it, typed (<see cref="ApproachSetup.Prepare"/>).</summary>
    internal abstract PreparedApproach Prepare(BackboneArchitecture backbone, NetworkShape shape, TOptions options);
}

/// <summary>
/// An approach that trains any backbone: the network is the backbone without gating (or the spec's own variant of
/// it, as LFL's without dropout on the distilled layer), one head per task.
/// </summary>
public abstract class PlainApproachSpec<TOptions> : ApproachSpec<TOptions> where TOptions : class, new()
{
    public sealed override NetworkRequirement Network => NetworkRequirement.AnyBackbone;

    /// <summary>The network the approach trains on <paramref name="backbone"/>: by default its plain blocks.</summary>
    public virtual MultiHeadNetwork CreateNetwork(BackboneArchitecture backbone, NetworkShape shape, TOptions options) =>
        NetworkFactory.Create(backbone, shape);

    /// <summary>The approach on the network in <paramref name="context"/>.</summary>
    public abstract Approach Create(ApproachContext context, TOptions options);

    internal sealed override PreparedApproach Prepare(BackboneArchitecture backbone, NetworkShape shape, TOptions options) =>
        new(CreateNetwork(backbone, shape, options), context => Create(context, options));
}

/// <summary>
/// An approach that trains through a gating strategy of its own: its spec builds the network with a
/// <typeparamref name="TGating"/> on a backbone of layers, and the approach is handed that strategy, typed.
/// </summary>
public abstract class GatedApproachSpec<TOptions, TGating> : ApproachSpec<TOptions> where TOptions : class, new() where TGating : Gating
{
    public sealed override NetworkRequirement Network => NetworkRequirement.Gated<TGating>();

    /// <summary>Its gating is per task, and so are its heads: without the task id it predicts the task.</summary>
    public sealed override bool NeedsTaskId => true;

    /// <summary>The approach's network on <paramref name="backbone"/>, and its gating strategy.</summary>
    public abstract GatedNetwork<TGating> CreateNetwork(BackboneArchitecture backbone, NetworkShape shape, TOptions options);

    /// <summary>The approach on the network in <paramref name="context"/>, which <paramref name="gating"/> gates.</summary>
    public abstract Approach Create(ApproachContext context, TOptions options, TGating gating);

    internal sealed override PreparedApproach Prepare(BackboneArchitecture backbone, NetworkShape shape, TOptions options)
    {
        if (shape.Heads.Shared) throw new ArgumentException("an approach that gates its backbone per task has one head per task", nameof(shape));
        var (network, gating) = CreateNetwork(backbone, shape, options);
        return new PreparedApproach(network, context => Create(context, options, gating));
    }
}

/// <summary>
/// A network built for an approach, and how to create the approach on it once it is where it trains (initialised, on
/// its device): what <see cref="Experiments.ExperimentRunner"/> does between the two.
/// </summary>
public sealed class PreparedApproach(MultiHeadNetwork network, Func<ApproachContext, Approach> create)
{
    public MultiHeadNetwork Network { get; } = network;

    /// <summary>The approach, on <see cref="Network"/> (which <paramref name="context"/> must hold).</summary>
    public Approach Create(ApproachContext context) => ReferenceEquals(context.Network, Network)
        ? create(context)
        : throw new ArgumentException("the context holds another network than the one prepared for the approach", nameof(context));
}

/// <summary>
/// An approach with its options: what a run trains (<see cref="Experiments.RunSetup"/>). Built by a spec
/// (<see cref="ApproachSpec{TOptions}.With"/>, <see cref="ApproachSpec.Bind"/>); the options stay typed in
/// <see cref="ApproachSetup{TOptions}"/>, and everything a run needs of them is asked here.
/// </summary>
public abstract class ApproachSetup
{
    private protected ApproachSetup() { }

    public abstract ApproachSpec Spec { get; }

    /// <summary>The approach's options with their values (defaults included), as text: what a run's record stores.</summary>
    public abstract IReadOnlyList<OptionInfo> OptionValues { get; }

    /// <summary>The base loop's defaults on <paramref name="backbone"/> with these options.</summary>
    public abstract TrainingOptions TrainingDefaults(BackboneArchitecture backbone);

    /// <summary>The fewest epochs per task these options allow.</summary>
    public abstract int FewestEpochs { get; }

    /// <summary>
    /// The base loop as the approach runs it, from the loop asked for: validated (a value out of range is a
    /// <see cref="SettingException"/>), at least <see cref="FewestEpochs"/> epochs, and as the approach changes it.
    /// </summary>
    public abstract TrainingOptions ResolveTraining(TrainingOptions requested);

    /// <summary>How the approach changes the loop it is given (its spec's rule in a sentence; null: it runs it as given).</summary>
    public abstract string? TrainingRule { get; }

    /// <summary>What the user should know before a run of <paramref name="training"/> (the resolved loop) starts.</summary>
    public abstract IReadOnlyList<string> Notes(TrainingOptions training);

    /// <summary>The approach's network for <paramref name="shape"/> on <paramref name="backbone"/> (as trained; to load saved weights into).</summary>
    public MultiHeadNetwork CreateNetwork(BackboneArchitecture backbone, NetworkShape shape) => Prepare(backbone, shape).Network;

    /// <summary>The approach's network, and how to create the approach on it.</summary>
    public abstract PreparedApproach Prepare(BackboneArchitecture backbone, NetworkShape shape);
}

/// <summary>An approach with its options record, typed.</summary>
public sealed class ApproachSetup<TOptions> : ApproachSetup where TOptions : class, new()
{
    private readonly ApproachSpec<TOptions> _spec;

    internal ApproachSetup(ApproachSpec<TOptions> spec, TOptions options) => (_spec, Options) = (spec, options);

    public override ApproachSpec Spec => _spec;
    public TOptions Options { get; }
    public override IReadOnlyList<OptionInfo> OptionValues => ApproachOptions.Describe(Options);
    public override TrainingOptions TrainingDefaults(BackboneArchitecture backbone) => _spec.TrainingDefaults(backbone, Options);
    public override int FewestEpochs => _spec.FewestEpochs(Options);
    public override TrainingOptions ResolveTraining(TrainingOptions requested) => _spec.Resolve(requested, Options);
    public override string? TrainingRule => _spec.RuleOf(Options);
    public override IReadOnlyList<string> Notes(TrainingOptions training) => _spec.NotesOn(training, Options);
    public override PreparedApproach Prepare(BackboneArchitecture backbone, NetworkShape shape) => _spec.Prepare(backbone, shape, Options);
}
