namespace Retain.Networks;

public enum LayerKind { Convolution, Dense }

/// <summary>
/// One block of a backbone. A convolution block is conv -> ReLU -> dropout -> max-pool(2); a dense block is
/// linear -> ReLU -> dropout (the seed's order: dropout before pooling). <see cref="Inputs"/> of a dense block is
/// the flattened size (channel-major) of what reaches it; <see cref="InputSide"/> is the spatial side a convolution
/// block receives (0 for dense blocks).
/// </summary>
public sealed record LayerSpec(string Name, LayerKind Kind, int Inputs, int Outputs, int Kernel, double Dropout, int InputSide = 0)
{
    public bool IsConvolution => Kind == LayerKind.Convolution;
    /// <summary>Side of the feature map after convolution and pooling (conv: stride 1, no padding).</summary>
    public int OutputSide => IsConvolution ? (InputSide - Kernel + 1) / 2 : 0;
    public long[] WeightShape => IsConvolution ? [Outputs, Inputs, Kernel, Kernel] : [Outputs, Inputs];
}

/// <summary>The seed's two backbone architectures as lists of blocks.</summary>
internal static class Architectures
{
    /// <summary>
    /// The seed's MLP: <paramref name="depth"/> dense blocks of <paramref name="hidden"/> units. mlp: 800 x 3, dropout
    /// 0.5; mlp_hat: 2000 x 2 (its input dropout 0.2 is a backbone option).
    /// </summary>
    public static IReadOnlyList<LayerSpec> Mlp(int[] inputSize, int hidden = 800, int depth = 3, double dropout = 0.5)
    {
        var inputs = inputSize.Aggregate(1, (a, b) => a * b);
        return Enumerable.Range(0, depth)
            .Select(l => new LayerSpec($"fc{l + 1}", LayerKind.Dense, l == 0 ? inputs : hidden, hidden, 0, dropout))
            .ToArray();
    }

    /// <summary>
    /// The seed's AlexNet: conv kernels size/8, size/10 and 2 with 64, 128, 256 channels, then two dense blocks of
    /// 2048. <paramref name="width"/> scales every block (PathNet's modules use 0.258, truncated to int).
    /// <paramref name="lastDropout"/> is the dropout of fc2 (alexnet_lfl has none).
    /// </summary>
    public static IReadOnlyList<LayerSpec> AlexNet(int[] inputSize, double width = 1, double lastDropout = 0.5)
    {
        var (channels, side) = (inputSize[0], inputSize[1]);
        int W(int units) => (int)(width * units);
        var c1 = new LayerSpec("c1", LayerKind.Convolution, channels, W(64), side / 8, 0.2, side);
        var c2 = new LayerSpec("c2", LayerKind.Convolution, c1.Outputs, W(128), side / 10, 0.2, c1.OutputSide);
        var c3 = new LayerSpec("c3", LayerKind.Convolution, c2.Outputs, W(256), 2, 0.5, c2.OutputSide);
        var fc1 = new LayerSpec("fc1", LayerKind.Dense, c3.Outputs * c3.OutputSide * c3.OutputSide, W(2048), 0, 0.5);
        var fc2 = new LayerSpec("fc2", LayerKind.Dense, fc1.Outputs, W(2048), 0, lastDropout);
        if (c3.OutputSide < 1)
            throw new RetainException($"AlexNet needs inputs of at least 28x28 pixels (got {side}x{side})");
        return [c1, c2, c3, fc1, fc2];
    }
}
