namespace Retain.Networks.Backbones;

/// <summary>
/// The seed's MLP (mlp): three dense blocks of 800 units with dropout 0.5, for the MNIST experiments. HAT uses the
/// seed's mlp_hat on it: two blocks of 2000 units and input dropout 0.2.
/// </summary>
internal sealed class MlpBackbone : BackboneArchitecture
{
    private const int Hidden = 800;

    public override string Name => "mlp";
    public override string Description => "three dense blocks of 800 units (HAT: two of 2000), the seed's network for the MNIST experiments";
    public override IReadOnlyCollection<string> DefaultFor => ["mnist2", "pmnist"];

    public override IReadOnlyList<LayerSpec> Layers(int[] inputSize, double width = 1) =>
        Architectures.Mlp(inputSize, hidden: (int)(width * Hidden));

    public override BackboneLayout HatLayout(int[] inputSize) => new(Architectures.Mlp(inputSize, hidden: 2000, depth: 2), InputDropout: 0.2);
}
