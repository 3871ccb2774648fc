using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Retain.Networks;

/// <summary>
/// Progressive Neural Networks (Rusu et al., 2016; the seed's alexnet_progressive, and the same construction on the
/// MLP): one column per task, each a copy of the backbone narrowed to <c>int(1.117 · units / T)</c> units per block,
/// with lateral connections from all earlier columns into every block after the first and into the head.
/// Column j's block l reads column j's block l-1 and, through an adapter, the scaled block l-1 outputs of columns
/// 0..j-1: <c>h_l,j = act(W_l,j h_l-1,j + U_l,j σ(V_l,j [α_1 h_l-1,1, ..., α_j-1 h_l-1,j-1]))</c>, with V a 1x1 convolution
/// (feature maps) or a linear map reducing the concatenation back to one column's width, U shaped like the column's
/// own block, α one learned scale per earlier column, σ a ReLU (none for the head's adapter).
/// <para>
/// The backbone's blocks run all columns up to the context's task side by side (concatenated along the channel or
/// feature axis); the logits are head t on column t plus head t's lateral. Every column is computed with its own
/// laterals, so column j's features are always the ones it was trained with (the seed recomputed earlier columns
/// without their laterals: a quirk). Parameters: <c>backbone.&lt;block&gt;.&lt;column&gt;.*</c> for the columns,
/// <c>backbone.gating.lateral_&lt;block&gt;.&lt;column-1&gt;.*</c> and <c>backbone.gating.lateral_head.&lt;column-1&gt;.*</c>
/// for the adapters, <c>last.&lt;column&gt;.*</c> for the heads.
/// </para>
/// </summary>
public sealed class ProgressiveColumns : Gating
{
    /// <summary>The seed's width factor: all columns together have about 1.117 times the backbone's units.</summary>
    public const double WidthFactor = 1.117;

    private readonly IReadOnlyList<int> _classCounts;
    private readonly List<ModuleList<Module>> _columns = [];
    private readonly List<ModuleList<LateralAdapter>> _laterals = [];
    private ModuleList<LateralAdapter> _headLaterals = new();
    private IReadOnlyList<LayerSpec> _specs = [];

    public ProgressiveColumns(IReadOnlyList<int> classCounts) : base("progressive") => _classCounts = classCounts;

    public int ColumnCount => _classCounts.Count;

    /// <summary>A progressive network with one column per task, each column a copy of <paramref name="backbone"/> at its progressive width.</summary>
    public static GatedNetwork<ProgressiveColumns> CreateNetwork(BackboneArchitecture backbone, int[] inputSize, IReadOnlyList<int> classCounts)
    {
        var specs = backbone.Layers(inputSize, backbone.ProgressiveColumnWidth(classCounts.Count));
        var columns = new ProgressiveColumns(classCounts);
        return new(new MultiHeadNetwork(new Backbone(specs, columns, classCounts.Count), classCounts), columns);
    }

    /// <summary>Each task reads its own column.</summary>
    public override bool FeaturesDependOnTask => true;

    /// <summary>One block of every column.</summary>
    public override Module CreateLayer(LayerSpec spec)
    {
        var columns = new ModuleList<Module>(Enumerable.Range(0, ColumnCount).Select(_ => base.CreateLayer(spec)).ToArray());
        _columns.Add(columns);
        return columns;
    }

    /// <summary>The lateral adapters into every block after the first, and into the heads, for columns 1..T-1.</summary>
    public override void Attach(Backbone backbone, int taskCount)
    {
        if (taskCount != ColumnCount) throw new ArgumentException($"{ColumnCount} columns for {taskCount} tasks", nameof(taskCount));
        _specs = backbone.Specs;
        for (var l = 1; l < _specs.Count; l++)
        {
            var spec = _specs[l];
            var adapters = new ModuleList<LateralAdapter>(
                Enumerable.Range(1, ColumnCount - 1).Select(c => new LateralAdapter(spec, c, activation: true)).ToArray());
            _laterals.Add(adapters);
            register_module($"lateral_{spec.Name}", adapters);
        }
        var features = _specs[^1].Outputs;
        _headLaterals = new ModuleList<LateralAdapter>(Enumerable.Range(1, ColumnCount - 1)
            .Select(c => new LateralAdapter(new LayerSpec("head", LayerKind.Dense, features, _classCounts[c], 0, 0), c, activation: false))
            .ToArray());
        register_module("lateral_head", _headLaterals);
    }

    /// <summary>The parameters column <paramref name="column"/> owns in the backbone: its blocks and its adapters (not its head).</summary>
    public IEnumerable<Parameter> ColumnParameters(int column)
    {
        var owned = _columns.Select(blocks => blocks[column]).Cast<Module>();
        if (column > 0) owned = owned.Concat(_laterals.Select(l => l[column - 1])).Append(_headLaterals[column - 1]);
        return owned.SelectMany(m => m.parameters());
    }

    /// <summary>Block <paramref name="index"/> of columns 0..task, given their block index-1 outputs side by side.</summary>
    public override Tensor Block(Backbone backbone, int index, Tensor input, ForwardContext context)
    {
        var spec = _specs[index];
        var count = context.Task + 1;
        var inputs = index == 0
            ? Enumerable.Repeat(Backbone.FlattenFor(spec, input), count).ToArray()
            : input.split(_specs[index - 1].Outputs, 1).Select(h => Backbone.FlattenFor(spec, h)).ToArray();
        var outputs = new Tensor[count];
        for (var j = 0; j < count; j++)
        {
            var own = ((Module<Tensor, Tensor>)_columns[index][j]).forward(inputs[j]);
            outputs[j] = backbone.Activate(index, index > 0 && j > 0 ? own + _laterals[index - 1][j - 1].Forward(inputs[..j]) : own);
        }
        return cat(outputs, 1);
    }

    /// <summary>Head t on column t's features, plus the lateral from columns 0..t-1 into that head.</summary>
    public override Tensor Logits(MultiHeadNetwork network, Tensor features, ForwardContext context)
    {
        var columns = features.split(_specs[^1].Outputs, 1);
        var t = context.Task;
        var logits = network.Head(t, columns[t]);
        return t == 0 ? logits : logits + _headLaterals[t - 1].Forward(columns[..t]);
    }
}

/// <summary>
/// The lateral connection into one block (or head) of column c from columns 0..c-1: scale each earlier column's
/// output by its own learned α (standard-normal start, as the seed), reduce their concatenation to one column's width
/// with V, optionally ReLU, then map it like the block itself with U.
/// </summary>
internal sealed class LateralAdapter : Module
{
    private readonly Parameter _scales;
    private readonly Module<Tensor, Tensor> _reduce;
    private readonly Module<Tensor, Tensor> _project;
    private readonly bool _activation;

    public LateralAdapter(LayerSpec spec, int earlierColumns, bool activation) : base("lateral")
    {
        _activation = activation;
        _scales = Parameter(randn(earlierColumns));
        _reduce = spec.IsConvolution
            ? Conv2d(earlierColumns * spec.Inputs, spec.Inputs, 1)
            : Linear(earlierColumns * spec.Inputs, spec.Inputs);
        _project = spec.IsConvolution ? Conv2d(spec.Inputs, spec.Outputs, spec.Kernel) : Linear(spec.Inputs, spec.Outputs);
        register_parameter("alpha", _scales);
        register_module("V", _reduce);
        register_module("U", _project);
    }

    /// <param name="earlier">The outputs of columns 0..c-1 that the receiving block (or head) of column c reads.</param>
    public Tensor Forward(IReadOnlyList<Tensor> earlier)
    {
        var scaled = cat(earlier.Select((h, j) => h * _scales[j]).ToList(), 1);
        var reduced = _reduce.forward(scaled);
        return _project.forward(_activation ? functional.relu(reduced) : reduced);
    }
}
