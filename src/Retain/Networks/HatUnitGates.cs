using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Retain.Networks;

/// <summary>How HAT's task embeddings start: N(0,1) (hat), or uniform in [0,2) so every unit starts in use (hat-test's compression runs).</summary>
public enum HatEmbeddingInit { StandardNormal, UniformZeroToTwo }

/// <summary>HAT's part of a forward pass: the gate sharpness to use, and the unit gates the pass used.</summary>
internal sealed class HatForwardState
{
    /// <summary>The gate sharpness s: gates are sigmoid(s * e).</summary>
    public double Scale { get; init; } = 1;
    /// <summary>Each gated layer's unit gates of this pass, by layer name (the regulariser reads them).</summary>
    public Dictionary<string, Tensor> Gates { get; } = [];
}

/// <summary>One gated layer's share of units and weights in use (gate, or weight-mask view, above 0.5).</summary>
public sealed record LayerCapacity(string Layer, int Units, double UsedUnits, long Weights, double UsedWeights);

/// <summary>
/// HAT's hard attention (Serrà et al. 2018): every block's output is multiplied unit by unit by a task gate
/// <c>g_l = sigmoid(s · e_l[t])</c>, where <c>e_l</c> is a learned task-embedding table (tasks × units) of layer l and s
/// the gate sharpness the approach anneals (<see cref="HatForwardState.Scale"/>). The gates of a pass are left in
/// <see cref="HatForwardState.Gates"/> under the layer names for the approach's regulariser.
/// The embedding tables are registered as <c>e&lt;layer&gt;</c> (ec1.., efc1..: the seed's names); they are
/// Embedding modules, so weight initialisation schemes for Linear/Conv2d never touch them.
/// </summary>
public sealed class HatUnitGates(HatEmbeddingInit init = HatEmbeddingInit.StandardNormal) : Gating("hat")
{
    private readonly List<Embedding> _embeddings = [];
    private IReadOnlyList<LayerSpec> _layers = [];

    /// <summary>The gated layers, in order (every block of the backbone).</summary>
    public IReadOnlyList<LayerSpec> Layers => _layers;

    /// <summary>The task-embedding tables (tasks × units), one per gated layer, in layer order.</summary>
    public IReadOnlyList<Parameter> Embeddings => _embeddings.Select(e => e.weight!).ToArray();

    /// <summary>Each task has its own unit gates.</summary>
    public override bool FeaturesDependOnTask => true;

    public override void Attach(Backbone backbone, int taskCount)
    {
        _layers = backbone.Specs;
        foreach (var spec in _layers)
        {
            var table = Embedding(taskCount, spec.Outputs);
            using (no_grad())
            {
                if (init == HatEmbeddingInit.StandardNormal) nn.init.normal_(table.weight!, 0, 1);
                else nn.init.uniform_(table.weight!, 0, 2);
            }
            register_module("e" + spec.Name, table);
            _embeddings.Add(table);
        }
    }

    public override Tensor Block(Backbone backbone, int index, Tensor input, ForwardContext context)
    {
        using var output = base.Block(backbone, index, input, context);
        var state = context.Get<HatForwardState>();
        var gate = Gate(index, context.Task, state.Scale);
        state.Gates[_layers[index].Name] = gate;
        // One gate per unit (channel), the same for every sample and spatial position.
        return _layers[index].IsConvolution ? output * gate.view(-1, 1, 1) : output * gate;
    }

    /// <summary><c>g_l = sigmoid(s · e_l[task])</c>, a vector of layer <paramref name="layer"/>'s units.</summary>
    public Tensor Gate(int layer, int task, double scale) => functional.sigmoid(scale * _embeddings[layer].weight![task]);

    /// <summary>Every layer's gate for <paramref name="task"/> at sharpness <paramref name="scale"/>, by layer name (the seed's <c>mask(t, s)</c>).</summary>
    public Dictionary<string, Tensor> Gates(int task, double scale) =>
        _layers.Select((spec, l) => (spec.Name, Gate: Gate(l, task, scale))).ToDictionary(p => p.Name, p => p.Gate);

    /// <summary>Names (relative to the backbone) of the parameters that have a weight-mask view: every gated layer's weight and bias.</summary>
    public IEnumerable<string> MaskedParameterNames => _layers.SelectMany(s => new[] { $"{s.Name}.weight", $"{s.Name}.bias" });

    /// <summary>
    /// The seed's <c>get_view_for</c>: how much parameter <paramref name="parameterName"/> (backbone-relative, e.g.
    /// <c>fc2.weight</c>) is used by units with gates <paramref name="unitMasks"/> (by layer name), element by element.
    /// A weight connects input unit i of the previous layer to output unit o, so it counts as used as far as both are:
    /// <c>min(g_l[o], g_{l-1}[i])</c>; the first layer's inputs are not gated (<c>g_1[o]</c>). A dense layer after a
    /// convolution reads the flattened (channel-major) map, so each channel's gate covers its side² positions. A bias
    /// belongs to its unit: <c>g_l[o]</c>. Null for parameters without a view (heads, embeddings).
    /// </summary>
    public Tensor? WeightMaskView(string parameterName, IReadOnlyDictionary<string, Tensor> unitMasks)
    {
        var dot = parameterName.LastIndexOf('.');
        if (dot < 0) return null;
        var l = IndexOf(parameterName[..dot]);
        if (l < 0) return null;
        var spec = _layers[l];
        var own = unitMasks[spec.Name].detach();
        switch (parameterName[(dot + 1)..])
        {
            case "bias":
                return own.clone();
            case "weight":
                var shape = spec.WeightShape;
                var post = spec.IsConvolution ? own.view(-1, 1, 1, 1) : own.view(-1, 1);
                if (l == 0) return post.expand(shape).clone();
                var previous = _layers[l - 1];
                var incoming = unitMasks[previous.Name].detach();
                if (previous.IsConvolution && !spec.IsConvolution)
                    incoming = incoming.repeat_interleave((long)previous.OutputSide * previous.OutputSide);
                var pre = spec.IsConvolution ? incoming.view(1, -1, 1, 1) : incoming.view(1, -1);
                return minimum(post.expand(shape), pre.expand(shape));
            default:
                return null;
        }
    }

    /// <summary>
    /// Per layer, the share of units whose gate for <paramref name="task"/> at sharpness <paramref name="scale"/>
    /// exceeds 0.5, and the share of the layer's weights whose weight-mask view exceeds 0.5 (both of its units used).
    /// </summary>
    public IReadOnlyList<LayerCapacity> UsedCapacity(int task, double scale)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var gates = Gates(task, scale);
        return _layers.Select(spec =>
        {
            var view = WeightMaskView($"{spec.Name}.weight", gates)!;
            return new LayerCapacity(spec.Name, spec.Outputs, gates[spec.Name].gt(0.5).to_type(ScalarType.Float64).mean().item<double>(),
                view.numel(), view.gt(0.5).to_type(ScalarType.Float64).mean().item<double>());
        }).ToArray();
    }

    /// <summary>The share of all gated weights in use over <paramref name="layers"/> (the capacity a task uses).</summary>
    public static double UsedWeightShare(IReadOnlyList<LayerCapacity> layers) =>
        layers.Sum(l => l.UsedWeights * l.Weights) / layers.Sum(l => (double)l.Weights);

    private int IndexOf(string layerName)
    {
        for (var l = 0; l < _layers.Count; l++)
            if (_layers[l].Name == layerName) return l;
        return -1;
    }

    /// <summary>
    /// HAT's network on <paramref name="backbone"/>, every block gated, laid out as the backbone sizes it for HAT
    /// (the seed's mlp_hat on the MLP: two dense blocks of 2000 units, input dropout 0.2; alexnet_hat on AlexNet).
    /// </summary>
    public static GatedNetwork<HatUnitGates> CreateNetwork(BackboneArchitecture backbone, int[] inputSize, IReadOnlyList<int> classCounts,
        HatEmbeddingInit init = HatEmbeddingInit.StandardNormal)
    {
        var layout = backbone.HatLayout(inputSize);
        var gates = new HatUnitGates(init);
        return new(new MultiHeadNetwork(new Backbone(layout.Layers, gates, classCounts.Count, layout.InputDropout), classCounts), gates);
    }
}
