using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Retain.Networks.Dwa;

/// <summary>The DWA network's own options (docs/dwa.md, "Options"), defaults as in the seed.</summary>
public sealed record DwaNetworkOptions
{
    /// <summary>Compute the embedding from the input with the context processor; otherwise the task's one-hot row eye(T)[t].</summary>
    public bool UseProcessor { get; init; } = true;
    /// <summary>F_B: channels (units) of the processor's first layer.</summary>
    public int BottleneckFeatures { get; init; } = 32;
    /// <summary>F_E: channels (units) of the processor's second layer.</summary>
    public int ProcessorFeatures { get; init; } = 128;
    /// <summary>E; null: the number of tasks. Without the processor E is always the number of tasks.</summary>
    public int? EmbeddingSize { get; init; } = 100;
    /// <summary>use_stem: the first N blocks are ordinary (unmasked) layers whose output feeds the processor.</summary>
    public int StemLayers { get; init; } = 1;
    /// <summary>use_concat: the processor reads the input and every stem output, pooled to the last one's size and concatenated.</summary>
    public bool ConcatenateStem { get; init; }
    /// <summary>use_combination: dense masks as the gated outer product of two small generators.</summary>
    public bool CombineMaskFactors { get; init; } = true;
    /// <summary>use_dropout: the backbone's dropout after each block (off in the seed's and the paper's runs).</summary>
    public bool UseDropout { get; init; }
    public MaskGate Gate { get; init; } = MaskGate.Sigmoid;
}

/// <summary>
/// DWA's gating (docs/dwa.md): the first <c>use_stem</c> blocks are ordinary layers; the context processor turns
/// their output into an embedding e_b per sample; every later block is a masked layer whose weight is multiplied by
/// the mask M_b = gate(G_ℓ(e_b)) that its own generator G_ℓ produces from the embedding. Convolution masks come from one
/// linear map E -> numel(W); dense masks from the factorised generator (<see cref="FactorisedMaskGenerator"/>) or, without
/// use_combination, from one linear map.
/// The forward pass leaves the embedding (<see cref="DwaForwardState.EmbeddingOut"/>) and per masked layer a
/// <see cref="MaskSummary"/> for the approach's regularisers; an embedding given in <see cref="DwaForwardState.Embedding"/>
/// replaces the processor's (the anchor search). A single embedding row (one-hot task code, a given vector) is shared
/// by the whole batch, which then uses one mask per layer instead of one per sample.
/// </summary>
public sealed class DwaWeightMasks : Gating
{
    private const string InputKey = "input";
    private const string MaskEmbeddingKey = "dwa.embedding";

    private readonly IReadOnlyList<LayerSpec> _specs;
    private readonly Dictionary<string, Module> _generators = [];
    private ContextProcessor? _processor;
    private int _taskCount;

    public DwaWeightMasks(IReadOnlyList<LayerSpec> specs, DwaNetworkOptions options) : base("dwa")
    {
        if (options.StemLayers < 0 || options.StemLayers >= specs.Count)
            throw new SettingException(typeof(DwaNetworkOptions), nameof(options.StemLayers), $"must be between 0 and {specs.Count - 1} for this backbone of {specs.Count} layers (at least one layer must be masked; got {options.StemLayers})");
        if (options.BottleneckFeatures < 1)
            throw new SettingException(typeof(DwaNetworkOptions), nameof(options.BottleneckFeatures), $"must be positive (got {options.BottleneckFeatures})");
        if (options.ProcessorFeatures < 1)
            throw new SettingException(typeof(DwaNetworkOptions), nameof(options.ProcessorFeatures), $"must be positive (got {options.ProcessorFeatures})");
        if (options.EmbeddingSize is < 1)
            throw new SettingException(typeof(DwaNetworkOptions), nameof(options.EmbeddingSize), $"must be positive (got {options.EmbeddingSize})");
        _specs = specs;
        Options = options;
    }

    public DwaNetworkOptions Options { get; }
    /// <summary>E, the embedding size.</summary>
    public int EmbeddingSize { get; private set; }
    /// <summary>The masked layers' names, in order (their weights are <c>backbone.&lt;name&gt;.weight</c>).</summary>
    public IReadOnlyList<string> MaskedLayers => _specs.Skip(Options.StemLayers).Select(s => s.Name).ToArray();
    public bool HasProcessor => _processor is not null;
    public LayerSpec Spec(string layer) => _specs.First(s => s.Name == layer);
    /// <summary>The factorised generator of a dense masked layer, or null (convolutions, or no use_combination).</summary>
    public FactorisedMaskGenerator? FactorisedGenerator(string layer) => _generators[layer] as FactorisedMaskGenerator;

    /// <summary>Without the context processor the masks come from the task's one-hot code.</summary>
    public override bool FeaturesDependOnTask => !Options.UseProcessor;

    public override Module CreateLayer(LayerSpec spec)
    {
        if (_specs.TakeWhile(s => s.Name != spec.Name).Count() < Options.StemLayers) return base.CreateLayer(spec);
        return spec.IsConvolution
            ? new MaskedConv2d(spec.Inputs, spec.Outputs, spec.Kernel)
            : new MaskedLinear(spec.Inputs, spec.Outputs);
    }

    public override void Attach(Backbone backbone, int taskCount)
    {
        _taskCount = taskCount;
        EmbeddingSize = Options.UseProcessor ? Options.EmbeddingSize ?? taskCount : taskCount;
        if (Options.UseProcessor)
        {
            var (channels, side) = ProcessorInputShape();
            _processor = ContextProcessor.Create(channels, side, Options.BottleneckFeatures, Options.ProcessorFeatures, EmbeddingSize, Options.Gate);
            register_module("processor", _processor);
        }
        foreach (var spec in _specs.Skip(Options.StemLayers))
        {
            var elements = spec.WeightShape.Aggregate(1L, (a, b) => a * b);
            Module generator = !spec.IsConvolution && Options.CombineMaskFactors
                ? new FactorisedMaskGenerator(EmbeddingSize, elements)
                : Linear(EmbeddingSize, elements);
            _generators[spec.Name] = generator;
            register_module($"mask_{spec.Name}", generator);
        }
    }

    public override Tensor Block(Backbone backbone, int index, Tensor input, ForwardContext context)
    {
        var spec = backbone.Specs[index];
        if (index < Options.StemLayers)
        {
            if (index == 0 && Options.ConcatenateStem) context.Activations[InputKey] = input;
            var h = base.Block(backbone, index, input, context);
            if (Options.ConcatenateStem) context.Activations[spec.Name] = h;
            return h;
        }
        if (index == Options.StemLayers) Embed(input, context);
        var y = MaskedTransform(backbone, index, input, context);
        return backbone.Activate(index, y);
    }

    /// <summary>
    /// The context embedding of each input (B x E) without the masked layers: the stem blocks and the processor (or the
    /// task's one-hot row), a small part of a forward pass. Equal to the <see cref="DwaForwardState.EmbeddingOut"/> of a
    /// full pass in the same mode; the anchor search and the task predictors need nothing else.
    /// </summary>
    public Tensor Embedding(Backbone backbone, Tensor x, ForwardContext context)
    {
        using var stem = backbone.Forward(x, context, Options.StemLayers);
        Embed(stem, context);
        return context.Get<DwaForwardState>().EmbeddingOut!;
    }

    /// <summary>
    /// What the context processor reads of each input (B x n, see <see cref="ContextProcessor.Reads"/>): the stem blocks'
    /// output (with use_concat, the input and every stem output), before the processor's own layers. Needs a processor.
    /// </summary>
    public Tensor StemFeatures(Backbone backbone, Tensor x, ForwardContext context) => EmbeddingAndStemFeatures(backbone, x, context).StemFeatures;

    /// <summary><see cref="Embedding"/> and <see cref="StemFeatures"/> from one pass of the stem (the task predictors read both).</summary>
    public (Tensor Embedding, Tensor StemFeatures) EmbeddingAndStemFeatures(Backbone backbone, Tensor x, ForwardContext context)
    {
        if (_processor is null) throw new InvalidOperationException("no context processor (use_processor false)");
        using var stem = backbone.Forward(x, context, Options.StemLayers);
        var features = _processor.Reads(ProcessorInput(stem, context));
        Embed(stem, context);
        return (context.Get<DwaForwardState>().EmbeddingOut!, features);
    }

    /// <summary>
    /// The embedding of this pass: the given one, the processor's, or the task's one-hot row. One row is shared by
    /// every sample for the masks; <see cref="DwaForwardState.EmbeddingOut"/> always has one row per sample.
    /// </summary>
    private void Embed(Tensor input, ForwardContext context)
    {
        var batch = input.shape[0];
        var state = context.Get<DwaForwardState>();
        Tensor embedding;
        if (state.Embedding is { } given)
        {
            embedding = given.dim() == 1 ? given.unsqueeze(0) : given.alias();
            if (embedding.shape[1] != EmbeddingSize || (embedding.shape[0] != 1 && embedding.shape[0] != batch))
                throw new ArgumentException($"a given embedding must be a vector of {EmbeddingSize} or a 1 x {EmbeddingSize} or {batch} x {EmbeddingSize} matrix (got [{string.Join(",", given.shape)}])");
        }
        else if (_processor is not null)
        {
            embedding = _processor.forward(ProcessorInput(input, context));
        }
        else
        {
            using var codes = eye(_taskCount, device: input.device);
            embedding = codes.narrow(0, context.Task, 1).clone();
        }
        context.Activations[MaskEmbeddingKey] = embedding;
        state.EmbeddingOut = embedding.shape[0] == batch ? embedding : embedding.expand(batch, -1);
    }

    /// <summary>The masked layer's map <c>(W ⊙ M_b) x_b + bias</c>, leaving its masks' summary (and, if asked, the masks) in the context.</summary>
    private Tensor MaskedTransform(Backbone backbone, int index, Tensor input, ForwardContext context)
    {
        var spec = backbone.Specs[index];
        var x = Backbone.FlattenFor(spec, input);
        var batch = x.shape[0];
        var embedding = context.Activations[MaskEmbeddingKey];
        var state = context.Get<DwaForwardState>();
        var shared = embedding.shape[0] == 1;
        var importance = state.MaskImportance?.GetValueOrDefault(spec.Name);
        var gate = Options.Gate;

        // One mask per sample: the layers build each sample's mask themselves, one at a time.
        if (!shared && _generators[spec.Name] is FactorisedMaskGenerator factorised)
        {
            var (rows, columns) = factorised.Factors(embedding);
            var (output, summary) = ((MaskedLinear)backbone.Layer(index)).ForwardFactorised(x, rows, columns, gate, importance, state.CountActiveMaskEntries);
            state.MaskSummaries[spec.Name] = summary;
            if (state.KeepMasks) state.Masks[spec.Name] = MaskedLayerReference.FactorisedMasks(rows, columns, gate, spec.WeightShape);
            return output;
        }
        if (!shared && backbone.Layer(index) is MaskedConv2d convolution)
        {
            var raw = ((Linear)_generators[spec.Name]).forward(embedding);               // B x numel(W)
            var (output, summary) = convolution.ForwardGated(x, raw, gate, importance, state.CountActiveMaskEntries);
            state.MaskSummaries[spec.Name] = summary;
            if (state.KeepMasks) state.Masks[spec.Name] = gate.Apply(raw).view([batch, .. spec.WeightShape]);
            return output;
        }

        // Masks materialised: one shared by the batch, or dense masks from a single generator (no use_combination).
        var masks = Masks(spec.Name, embedding, spec.WeightShape);                       // R x weight shape
        var maskSummary = MaskMath.Summarise(masks, importance, gate, state.CountActiveMaskEntries);
        state.MaskSummaries[spec.Name] = shared ? MaskMath.Expand(maskSummary, batch) : maskSummary;
        if (state.KeepMasks) state.Masks[spec.Name] = shared ? masks.expand([batch, .. spec.WeightShape]) : masks;
        var perLayer = shared ? masks[0] : masks;
        return backbone.Layer(index) switch
        {
            MaskedConv2d conv => conv.forward(x, perLayer),
            MaskedLinear dense => dense.forward(x, perLayer),
            var other => throw new InvalidOperationException($"layer {spec.Name} is a {other.GetType().Name}, not a masked layer"),
        };
    }

    /// <summary>Masks of layer <paramref name="layer"/> for each embedding row, materialised: R x weight shape.</summary>
    public Tensor Masks(string layer, Tensor embedding, long[] weightShape)
    {
        if (_generators[layer] is FactorisedMaskGenerator factorised)
        {
            var (rows, columns) = factorised.Factors(embedding);
            return MaskedLayerReference.FactorisedMasks(rows, columns, Options.Gate, weightShape);
        }
        using var raw = ((Linear)_generators[layer]).forward(embedding);
        return Options.Gate.Apply(raw).view([embedding.shape[0], .. weightShape]);
    }

    /// <summary>
    /// The processor's input: the last stem output (the input itself without a stem), or with use_concat the input
    /// and all stem outputs concatenated along channels after pooling each earlier map to the last one's size (the
    /// seed concatenated maps of different sizes and crashed). When the last stem output is a vector (AlexNet's fc1),
    /// earlier maps are max-pooled to one value per channel; an MLP's image is flattened, as the MLP reads it.
    /// </summary>
    private Tensor ProcessorInput(Tensor input, ForwardContext context)
    {
        if (!Options.ConcatenateStem || Options.StemLayers == 0) return input;
        var parts = new List<Tensor>();
        var earlier = new[] { context.Activations[InputKey] }
            .Concat(_specs.Take(Options.StemLayers - 1).Select(s => context.Activations[s.Name]));
        foreach (var map in earlier)
        {
            if (input.dim() == 4) parts.Add(functional.adaptive_max_pool2d(map, [input.shape[2], input.shape[3]]));
            else if (map.dim() == 4 && _specs[0].IsConvolution) parts.Add(functional.adaptive_max_pool2d(map, [1, 1]).flatten(1));
            else parts.Add(map.flatten(1));
        }
        parts.Add(input);
        return cat(parts, 1);
    }

    /// <summary>Channels and side (0: a vector of that many features) of what the processor reads, from the layer specs.</summary>
    private (long Channels, long Side) ProcessorInputShape()
    {
        var first = _specs[0];
        var input = first.IsConvolution ? (Channels: (long)first.Inputs, Side: (long)first.InputSide) : (Channels: (long)first.Inputs, Side: 0L);
        var outputs = _specs.Take(Options.StemLayers)
            .Select(s => s.IsConvolution ? (Channels: (long)s.Outputs, Side: (long)s.OutputSide) : (Channels: (long)s.Outputs, Side: 0L))
            .ToList();
        var all = new[] { input }.Concat(outputs).ToList();
        var last = all[^1];
        if (!Options.ConcatenateStem || Options.StemLayers == 0) return last;
        if (last.Side > 0) return (all.Sum(e => e.Channels), last.Side);
        // A vector: earlier maps contribute one value per channel (conv backbone), vectors their features (MLP).
        return (all.Sum(e => e.Channels), 0);
    }
}

/// <summary>Builds DWA's networks: the seed's alexnet_dwa, and an MLP variant (an extension: the seed's mlp_dwa has no masks).</summary>
internal static class DwaNetworkFactory
{
    public static GatedNetwork<DwaWeightMasks> Create(BackboneArchitecture backbone, int[] inputSize, IReadOnlyList<int> classCounts, DwaNetworkOptions options) =>
        Create(backbone.DwaLayers(inputSize), classCounts, options);

    /// <summary>DWA on any list of blocks (tests use narrow ones); without use_dropout the blocks' dropout is removed.</summary>
    public static GatedNetwork<DwaWeightMasks> Create(IReadOnlyList<LayerSpec> specs, IReadOnlyList<int> classCounts, DwaNetworkOptions options)
    {
        if (!options.UseDropout) specs = specs.Select(s => s with { Dropout = 0 }).ToArray();
        var masks = new DwaWeightMasks(specs, options);
        return new(new MultiHeadNetwork(new Backbone(specs, masks, classCounts.Count), classCounts), masks);
    }
}
