using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Retain.Networks;

/// <summary>
/// The seed's MLP backbone for the MNIST experiments: flatten, then <c>depth</c> blocks of
/// Linear(hidden) -> ReLU -> Dropout(0.5). Layers are named fc1, fc2, ... as in the seed.
/// </summary>
public sealed class Mlp : Backbone
{
    private readonly List<Linear> _layers = [];
    private readonly Dropout _dropout;

    public Mlp(int[] inputSize, int hidden = 800, int depth = 3, double dropout = 0.5) : base("mlp")
    {
        var features = inputSize.Aggregate(1, (a, b) => a * b);
        for (var l = 0; l < depth; l++)
        {
            var layer = Linear(l == 0 ? features : hidden, hidden);
            register_module($"fc{l + 1}", layer);
            _layers.Add(layer);
        }
        _dropout = Dropout(dropout);
        register_module("drop", _dropout);
        FeatureSize = hidden;
    }

    public override int FeatureSize { get; }

    public override Tensor forward(Tensor x)
    {
        var h = x.flatten(1);
        foreach (var layer in _layers) h = _dropout.forward(functional.relu(layer.forward(h)));
        return h;
    }
}
