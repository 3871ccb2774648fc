using Retain.Networks;

namespace Retain.Tests.Extending;

/// <summary>
/// The extension guide's worked example of a new backbone (docs/extending.md, "Add a backbone"): a widened LeNet-5, two
/// convolution blocks (32 and 64 channels, 5x5 kernels) and two dense blocks (256 and 128 units), no dropout. Every
/// gating strategy sizes itself on it through <see cref="BackboneArchitecture"/>'s defaults: HAT and DWA use these
/// blocks, PathNet's modules and the progressive columns narrowed copies of them.
/// </summary>
public sealed class LeNetBackbone : BackboneArchitecture
{
    public override string Name => "lenet";
    public override string Description => "two convolution blocks (32, 64 channels, 5x5) and two dense blocks (256, 128 units), a widened LeNet-5";

    public override IReadOnlyList<LayerSpec> Layers(int[] inputSize, double width = 1)
    {
        var (channels, side) = (inputSize[0], inputSize[1]);
        // Narrowed copies keep at least one unit per block.
        int Units(int units) => Math.Max(1, (int)(width * units));
        var c1 = new LayerSpec("c1", LayerKind.Convolution, channels, Units(32), Kernel: 5, Dropout: 0, InputSide: side);
        var c2 = new LayerSpec("c2", LayerKind.Convolution, c1.Outputs, Units(64), Kernel: 5, Dropout: 0, InputSide: c1.OutputSide);
        if (c2.OutputSide < 1) throw new RetainException($"lenet needs inputs of at least 16x16 pixels (got {side}x{side})");
        var fc1 = new LayerSpec("fc1", LayerKind.Dense, c2.Outputs * c2.OutputSide * c2.OutputSide, Units(256), Kernel: 0, Dropout: 0);
        var fc2 = new LayerSpec("fc2", LayerKind.Dense, fc1.Outputs, Units(128), Kernel: 0, Dropout: 0);
        return [c1, c2, fc1, fc2];
    }
}
