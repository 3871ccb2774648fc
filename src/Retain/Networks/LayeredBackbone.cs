namespace Retain.Networks;

/// <summary>
/// One block of a backbone declared as a list (<see cref="LayeredBackbone"/>), sized by what reaches it: a 2-D
/// convolution block (conv, stride 1, no padding → ReLU → dropout → 2×2 max-pool) or a linear block
/// (linear → ReLU → dropout; a linear block after convolutions reads the flattened map).
/// </summary>
public sealed record Layer
{
    private Layer(LayerKind kind, int outputs, int kernel, double dropout)
    {
        if (outputs < 1) throw new SettingException(typeof(Layer), kind == LayerKind.Dense ? "Units" : "Channels", $"must be at least 1 (got {outputs})");
        if (kind == LayerKind.Convolution && kernel < 1) throw new SettingException(typeof(Layer), nameof(Kernel), $"must be at least 1 (got {kernel})");
        if (!(dropout is >= 0 and < 1)) throw new SettingException(typeof(Layer), nameof(Dropout), FormattableString.Invariant($"must be in [0, 1) (got {dropout})"));
        (Kind, Outputs, Kernel, Dropout) = (kind, outputs, kernel, dropout);
    }

    public LayerKind Kind { get; }
    /// <summary>Units of a linear block, channels of a convolution block.</summary>
    public int Outputs { get; }
    /// <summary>The side of a convolution's square kernel (0 for a linear block).</summary>
    public int Kernel { get; }
    public double Dropout { get; }

    /// <summary>A linear block of <paramref name="units"/> units.</summary>
    public static Layer Linear(int units, double dropout = 0) => new(LayerKind.Dense, units, 0, dropout);

    /// <summary>A convolution block of <paramref name="channels"/> channels with a <paramref name="kernel"/>×<paramref name="kernel"/> kernel.</summary>
    public static Layer Conv2d(int channels, int kernel, double dropout = 0) => new(LayerKind.Convolution, channels, kernel, dropout);
}

/// <summary>
/// A backbone declared as a list of blocks (<see cref="Layer.Conv2d"/> then <see cref="Layer.Linear"/>): every approach
/// runs on it, the gating strategies included (HAT gates its units, DWA masks its weights, PathNet and progressive
/// build narrowed copies of it). Blocks are named as the seed names them: <c>c1, c2, ...</c> and <c>fc1, fc2, ...</c>
/// (parameters <c>backbone.c1.weight</c>, HAT's embeddings <c>ec1</c>). Convolutions need square inputs
/// <c>[C, S, S]</c>; a list of linear blocks takes inputs of any shape (flattened).
/// </summary>
public sealed class LayeredBackbone : BackboneArchitecture
{
    private readonly Layer[] _layers;

    public LayeredBackbone(string name, params IReadOnlyList<Layer> layers)
    {
        if (layers.Count == 0) throw new SettingException(typeof(LayeredBackbone), "Layers", "must hold at least one block");
        var firstLinear = layers.ToList().FindIndex(l => l.Kind == LayerKind.Dense);
        if (firstLinear >= 0 && layers.Skip(firstLinear).Any(l => l.Kind == LayerKind.Convolution))
            throw new SettingException(typeof(LayeredBackbone), "Layers", "must put every convolution block before the first linear block");
        (Name, _layers) = (name, [.. layers]);
    }

    public override string Name { get; }

    public override string Description => string.Join(", ", _layers.Select(l => l.Kind == LayerKind.Convolution
        ? $"conv {l.Outputs}×{l.Kernel}x{l.Kernel}" : $"linear {l.Outputs}"));

    /// <summary>The declared blocks, as declared.</summary>
    public IReadOnlyList<Layer> Declared => _layers;

    public override IReadOnlyList<LayerSpec> Layers(int[] inputSize, double width = 1)
    {
        // Narrowed copies (PathNet's modules, progressive columns) keep at least one unit per block.
        int Units(int units) => Math.Max(1, (int)(width * units));
        var specs = new List<LayerSpec>();
        var (convolutions, linears) = (0, 0);
        var (channels, side) = (inputSize[0], inputSize.Length > 1 ? inputSize[1] : 0);
        if (_layers[0].Kind == LayerKind.Convolution && (inputSize.Length != 3 || inputSize[1] != inputSize[2]))
            throw new SettingException(typeof(LayeredBackbone), Name, $"starts with a convolution, which needs square images [C, S, S] (got [{string.Join(", ", inputSize)}])");
        var flattened = inputSize.Aggregate(1, (a, b) => a * b);
        foreach (var layer in _layers)
        {
            if (layer.Kind == LayerKind.Convolution)
            {
                var spec = new LayerSpec($"c{++convolutions}", LayerKind.Convolution, channels, Units(layer.Outputs), layer.Kernel, layer.Dropout, side);
                if (spec.OutputSide < 1)
                    throw new SettingException(typeof(LayeredBackbone), Name, $"block {spec.Name} receives maps of {side}x{side}, too small for its {layer.Kernel}x{layer.Kernel} kernel and 2x2 pooling");
                specs.Add(spec);
                (channels, side) = (spec.Outputs, spec.OutputSide);
                flattened = channels * side * side;
            }
            else
            {
                var spec = new LayerSpec($"fc{++linears}", LayerKind.Dense, flattened, Units(layer.Outputs), 0, layer.Dropout);
                specs.Add(spec);
                flattened = spec.Outputs;
            }
        }
        return specs;
    }
}
