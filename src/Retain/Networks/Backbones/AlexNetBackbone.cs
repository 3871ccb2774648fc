namespace Retain.Networks.Backbones;

/// <summary>
/// The seed's AlexNet: three convolution blocks (64, 128, 256 channels) and two dense blocks of 2048 units, for the
/// image experiments (inputs of at least 28x28 pixels). Every gating strategy uses the plain blocks.
/// </summary>
internal sealed class AlexNetBackbone : BackboneArchitecture
{
    public override string Name => "alexnet";
    public override string Description => "three convolution blocks (64, 128, 256 channels) and two dense blocks of 2048 units, the seed's network for the image experiments";
    public override IReadOnlyCollection<string> DefaultFor => ["split-fashion", "cifar", "mixture"];

    public override IReadOnlyList<LayerSpec> Layers(int[] inputSize, double width = 1) => Architectures.AlexNet(inputSize, width);
}
