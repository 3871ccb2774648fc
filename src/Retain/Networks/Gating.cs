using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Retain.Networks;

/// <summary>
/// How a backbone's blocks are computed. This base class is "no gating": every block is the plain
/// conv/linear -> ReLU -> dropout (-> pool). Strategies override the steps they change and own the parameters
/// they add (HAT's task embeddings, DWA's mask generators and context processor, PathNet's module sets):
/// <list type="bullet">
/// <item><see cref="CreateLayer"/>: the module that holds a block's weights;</item>
/// <item><see cref="Block"/>: a block's forward computation;</item>
/// <item><see cref="Attach"/>: build the strategy's own parameters once the backbone's layers exist;</item>
/// <item><see cref="Logits"/>: the task head's output from the backbone's features.</item>
/// </list>
/// </summary>
public class Gating(string name = "none") : Module(name)
{
    /// <summary>
    /// Whether a block's output depends on the task as well as the input (HAT's task gates, PathNet's paths,
    /// progressive columns, DWA's task codes): then a batch that mixes tasks runs through the backbone task by task.
    /// </summary>
    public virtual bool FeaturesDependOnTask => false;

    /// <summary>Builds the strategy's own parameters; called once by the backbone after creating its layers.</summary>
    public virtual void Attach(Backbone backbone, int taskCount) { }

    /// <summary>The module holding block <paramref name="spec"/>'s weight and bias (a plain Conv2d or Linear here).</summary>
    public virtual Module CreateLayer(LayerSpec spec) => spec.IsConvolution
        ? Conv2d(spec.Inputs, spec.Outputs, spec.Kernel)
        : Linear(spec.Inputs, spec.Outputs);

    /// <summary>Block <paramref name="index"/> applied to <paramref name="input"/>.</summary>
    public virtual Tensor Block(Backbone backbone, int index, Tensor input, ForwardContext context) =>
        backbone.Activate(index, backbone.Transform(index, input));

    /// <summary>
    /// The logits of the context's task from the backbone's output: its head applied to the features here;
    /// progressive networks pick the task's column and add the lateral connection into its head.
    /// </summary>
    public virtual Tensor Logits(MultiHeadNetwork network, Tensor features, ForwardContext context) =>
        network.Head(context.Task, features);
}

/// <summary>
/// A feature extractor: a list of blocks (<see cref="LayerSpec"/>) computed through a <see cref="Gating"/> strategy,
/// or a module of the user's own (<see cref="ModuleBackbone"/>), which no strategy gates. Block weights are registered
/// under the seed's layer names (c1..c3, fc1..fc3), a user's module under <see cref="ModuleName"/>, the strategy under
/// "gating".
/// </summary>
public sealed class Backbone : Module
{
    /// <summary>The name a user's module is registered under (its parameters are <c>backbone.module.*</c>).</summary>
    public const string ModuleName = "module";

    private readonly List<Module> _layers = [];
    private readonly List<UniformDropout> _dropouts = [];
    private readonly UniformDropout? _inputDropout;
    private readonly Module<Tensor, Tensor>? _module;
    private readonly int _moduleFeatures;

    public Backbone(IReadOnlyList<LayerSpec> specs, Gating gating, int taskCount, double inputDropout = 0) : base("backbone")
    {
        Specs = specs;
        Gating = gating;
        foreach (var spec in specs)
        {
            var layer = gating.CreateLayer(spec);
            register_module(spec.Name, layer);
            _layers.Add(layer);
            _dropouts.Add(new UniformDropout(spec.Dropout));
        }
        if (inputDropout > 0)
        {
            _inputDropout = new UniformDropout(inputDropout);
            register_module("input_dropout", _inputDropout);
        }
        for (var i = 0; i < _dropouts.Count; i++) register_module($"dropout{i + 1}", _dropouts[i]);
        gating.Attach(this, taskCount);
        register_module("gating", gating);
    }

    /// <summary>
    /// A user's module as the backbone: its output for a batch (<c>N × <paramref name="featureSize"/></c>) is what the
    /// heads read. Without blocks there is nothing to gate: the strategy is "none".
    /// </summary>
    public Backbone(Module<Tensor, Tensor> module, int featureSize) : base("backbone")
    {
        Specs = [];
        Gating = new Gating();
        (_module, _moduleFeatures) = (module, featureSize);
        register_module(ModuleName, module);
        register_module("gating", Gating);
    }

    /// <summary>The blocks (empty for a user's module).</summary>
    public IReadOnlyList<LayerSpec> Specs { get; }
    public Gating Gating { get; }
    public int FeatureSize => _module is null ? Specs[^1].Outputs : _moduleFeatures;

    /// <summary>Whether the backbone is a user's module rather than blocks.</summary>
    public bool IsModule => _module is not null;

    /// <summary>The module that holds block <paramref name="index"/>'s weights.</summary>
    public Module Layer(int index) => _layers[index];

    public Tensor Forward(Tensor x, ForwardContext context) => Forward(x, context, Specs.Count);

    /// <summary>The output of the first <paramref name="blocks"/> blocks (DWA's stem, whose output alone gives the context embedding).</summary>
    public Tensor Forward(Tensor x, ForwardContext context, int blocks)
    {
        if (_module is not null) return _module.forward(x);
        var h = _inputDropout is null ? x.alias() : _inputDropout.forward(x.flatten(1));
        for (var i = 0; i < blocks; i++) h = Gating.Block(this, i, h, context);
        return h;
    }

    /// <summary>Dense blocks read the flattened (channel-major) output of what precedes them.</summary>
    public static Tensor FlattenFor(LayerSpec spec, Tensor input) =>
        !spec.IsConvolution && input.dim() > 2 ? input.flatten(1) : input;

    /// <summary>Block <paramref name="index"/>'s own conv or linear map (the pre-activation).</summary>
    public Tensor Transform(int index, Tensor input)
    {
        var spec = Specs[index];
        return ((Module<Tensor, Tensor>)_layers[index]).forward(FlattenFor(spec, input));
    }

    /// <summary>ReLU -> dropout (-> max-pool 2 for convolutions), the part of a block after its linear map.</summary>
    public Tensor Activate(int index, Tensor preActivation)
    {
        var h = _dropouts[index].forward(functional.relu(preActivation));
        return Specs[index].IsConvolution ? functional.max_pool2d(h, 2) : h;
    }
}
