namespace Retain.Networks;

/// <summary>
/// A backbone the registry knows (<see cref="BackboneRegistry"/>), under the name <c>--network</c> takes: its blocks for
/// an input size, the experiments it is the default of, and how each gating strategy sizes itself on it. The defaults
/// here suit most backbones; a backbone overrides only what differs (the MLP gives HAT its own, wider layout).
/// </summary>
public abstract class BackboneArchitecture
{
    /// <summary>The name <c>--network</c>, benchmark files and result records use (lower case, no spaces).</summary>
    public abstract string Name { get; }

    /// <summary>One line saying what the backbone is (listed by <c>retain approaches</c>).</summary>
    public abstract string Description { get; }

    /// <summary>
    /// The blocks for inputs of <paramref name="inputSize"/> (<c>[C, H, W]</c>), every block's units scaled by
    /// <paramref name="width"/> (truncated to int): progressive columns and PathNet modules are narrowed copies.
    /// Throws a <see cref="RetainException"/> when the input is too small for the backbone.
    /// </summary>
    public abstract IReadOnlyList<LayerSpec> Layers(int[] inputSize, double width = 1);

    /// <summary>
    /// Whether the backbone is declared as blocks (<see cref="Layers"/>), on which the gating strategies (HAT, DWA,
    /// PathNet, progressive) build their networks. A module of your own (<see cref="ModuleBackbone"/>) is not: it serves
    /// the approaches that train any backbone.
    /// </summary>
    public virtual bool DeclaresLayers => true;

    /// <summary>The backbone without gating, for inputs of <paramref name="inputSize"/>: by default its blocks.</summary>
    public virtual Backbone CreatePlain(int[] inputSize, int taskCount) => new(Layers(inputSize), new Gating(), taskCount);

    /// <summary>The experiments that use this backbone unless <c>--network</c> says otherwise.</summary>
    public virtual IReadOnlyCollection<string> DefaultFor => [];

    /// <summary>HAT's network on this backbone: every block gated; by default the plain blocks, no input dropout.</summary>
    public virtual BackboneLayout HatLayout(int[] inputSize) => new(Layers(inputSize));

    /// <summary>DWA's network on this backbone (the blocks after its stem are masked); by default the plain blocks.</summary>
    public virtual IReadOnlyList<LayerSpec> DwaLayers(int[] inputSize) => Layers(inputSize);

    /// <summary>The width of each of PathNet's modules relative to a block (the seed's 0.258).</summary>
    public virtual double PathNetModuleWidth => PathNetModules.ModuleWidth;

    /// <summary>The width of each progressive column relative to a block, for <paramref name="taskCount"/> columns (the seed's 1.117 / T).</summary>
    public virtual double ProgressiveColumnWidth(int taskCount) => ProgressiveColumns.WidthFactor / taskCount;

    public override string ToString() => Name;
}

/// <summary>A backbone's blocks and the dropout on its (flattened) input.</summary>
public sealed record BackboneLayout(IReadOnlyList<LayerSpec> Layers, double InputDropout = 0);
