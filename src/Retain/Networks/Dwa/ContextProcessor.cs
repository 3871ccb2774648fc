using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Retain.Networks.Dwa;

/// <summary>
/// DWA's context processor: a small network that reads the stem's output and produces the context embedding
/// (B x E) from which every masked layer's masks are generated. The gate bounds the embedding to (0,1) (sigmoid) or
/// (-1,1) (tanh).
/// </summary>
internal abstract class ContextProcessor(string name) : Module<Tensor, Tensor>(name)
{
    /// <summary>
    /// What the processor's first layer reads of its input, one row per sample (B x n): the maps as the processor pools
    /// them, flattened; a vector as it is. DWA's task classifier reads this (docs/task-agnostic.md).
    /// </summary>
    public abstract Tensor Reads(Tensor input);

    /// <summary>Builds the processor the seed uses for an input of <paramref name="channels"/> maps of side <paramref name="side"/> (side 0: a vector).</summary>
    public static ContextProcessor Create(long channels, long side, int bottleneck, int features, int embedding, MaskGate gate) =>
        side > 0
            ? new ConvContextProcessor(channels, side, bottleneck, features, embedding, gate)
            : new LinearContextProcessor(channels, bottleneck, features, embedding, gate);
}

/// <summary>
/// For feature maps: [MaxPool2 if side >= 14] -> pc1 Conv1x1(C -> F_B) -> ReLU -> pc2 Conv3x3(F_B -> F_E, stride 2,
/// pad 1) -> ReLU -> flatten -> pfc1 Linear(ceil(S/2)² F_E -> E) -> gate.
/// </summary>
internal sealed class ConvContextProcessor : ContextProcessor
{
    /// <summary>Maps at least this wide are max-pooled once before the processor's convolutions.</summary>
    public const int PoolFromSide = 14;

    private readonly Conv2d pc1;
    private readonly Conv2d pc2;
    private readonly Linear pfc1;
    private readonly bool _pool;
    private readonly MaskGate _gate;

    public ConvContextProcessor(long channels, long side, int bottleneck, int features, int embedding, MaskGate gate) : base("processor")
    {
        _pool = side >= PoolFromSide;
        _gate = gate;
        var pooled = _pool ? side / 2 : side;
        var reduced = (pooled + 1) / 2;
        pc1 = Conv2d(channels, bottleneck, 1);
        pc2 = Conv2d(bottleneck, features, 3, stride: 2, padding: 1);
        pfc1 = Linear(reduced * reduced * features, embedding);
        RegisterComponents();
    }

    public override Tensor Reads(Tensor maps)
    {
        using var pooled = Pool(maps);
        return pooled.flatten(1);
    }

    private Tensor Pool(Tensor maps) => _pool ? functional.max_pool2d(maps, 2) : maps.alias();

    public override Tensor forward(Tensor maps)
    {
        using var pooled = Pool(maps);
        using var a = pc1.forward(pooled);
        using var b = functional.relu(a);
        using var c = pc2.forward(b);
        using var d = functional.relu(c);
        using var flat = d.flatten(1);
        using var raw = pfc1.forward(flat);
        return _gate.Apply(raw);
    }
}

/// <summary>For a feature vector (use_stem = 4, and the MLP): pfc1 (n -> F_B) -> ReLU -> pfc2 (F_B -> F_E) -> ReLU -> pfc3 (F_E -> E) -> gate.</summary>
internal sealed class LinearContextProcessor : ContextProcessor
{
    private readonly Linear pfc1;
    private readonly Linear pfc2;
    private readonly Linear pfc3;
    private readonly MaskGate _gate;

    public LinearContextProcessor(long inputs, int bottleneck, int features, int embedding, MaskGate gate) : base("processor")
    {
        _gate = gate;
        pfc1 = Linear(inputs, bottleneck);
        pfc2 = Linear(bottleneck, features);
        pfc3 = Linear(features, embedding);
        RegisterComponents();
    }

    public override Tensor Reads(Tensor input) => input.flatten(1);

    public override Tensor forward(Tensor input)
    {
        using var flat = input.flatten(1);
        using var a = pfc1.forward(flat);
        using var b = functional.relu(a);
        using var c = pfc2.forward(b);
        using var d = functional.relu(c);
        using var raw = pfc3.forward(d);
        return _gate.Apply(raw);
    }
}

/// <summary>
/// The mask generator of a dense layer with use_combination: two linear maps A: E -> f1 and Bm: E -> f2 whose outer
/// product is the raw mask, <c>raw[p·f1 + q] = Bm(e)[p] · A(e)[q]</c>, with f1 the largest divisor of n = out·in not
/// exceeding floor(sqrt(n)) + 1 and f2 = n / f1 (fc1 [2048,1024]: f1 = 1024, f2 = 2048, so raw[o,i] = Bm_o A_i).
/// </summary>
public sealed class FactorisedMaskGenerator : Module
{
    private readonly Linear rows;
    private readonly Linear columns;

    public FactorisedMaskGenerator(int embedding, long elements) : base("factorised_mask")
    {
        (ColumnCount, RowCount) = Factorise(elements);
        columns = Linear(embedding, ColumnCount);
        rows = Linear(embedding, RowCount);
        RegisterComponents();
    }

    /// <summary>f1: the length of A's output, the inner (fastest-varying) factor.</summary>
    public long ColumnCount { get; }
    /// <summary>f2 = n / f1: the length of Bm's output.</summary>
    public long RowCount { get; }

    /// <summary>The two factors for each embedding row: (Bm(e): R x f2, A(e): R x f1).</summary>
    public (Tensor Rows, Tensor Columns) Factors(Tensor embedding) => (rows.forward(embedding), columns.forward(embedding));

    /// <summary>The seed's divisor rule: f1 = the largest divisor of n not exceeding floor(sqrt(n)) + 1; f2 = n / f1.</summary>
    public static (long F1, long F2) Factorise(long n)
    {
        if (n < 1) throw new ArgumentOutOfRangeException(nameof(n), n, "a mask needs at least one element");
        var limit = (long)Math.Floor(Math.Sqrt(n)) + 1;
        for (var f1 = Math.Min(limit, n); f1 >= 1; f1--)
            if (n % f1 == 0) return (f1, n / f1);
        return (1, n);
    }
}
