using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Retain.Networks;

/// <summary>A feature extractor shared by all tasks; <see cref="FeatureSize"/> is the width the heads read.</summary>
public abstract class Backbone(string name) : Module<Tensor, Tensor>(name)
{
    public abstract int FeatureSize { get; }
}

/// <summary>
/// A backbone plus one linear output head per task (task-incremental setting: the task id picks the head).
/// Parameters are named <c>backbone.*</c> and <c>last.&lt;task&gt;.*</c> (the seed's name for the heads).
/// </summary>
public sealed class MultiHeadNetwork : Module
{
    public const string HeadPrefix = "last.";

    public Backbone Backbone { get; }
    private readonly ModuleList<Linear> _heads = new();

    public MultiHeadNetwork(Backbone backbone, IReadOnlyList<int> classCounts) : base("network")
    {
        Backbone = backbone;
        foreach (var n in classCounts) _heads.Add(Linear(backbone.FeatureSize, n));
        register_module("backbone", backbone);
        register_module("last", _heads);
    }

    public int TaskCount => _heads.Count;

    /// <summary>Logits of task <paramref name="task"/>'s head. Other heads do not affect them, so they are not computed.</summary>
    public Tensor Forward(Tensor x, int task)
    {
        using var features = Backbone.forward(x);
        return _heads[task].forward(features);
    }

    /// <summary>A copy of every parameter's current value, by name (detached, same device).</summary>
    public Dictionary<string, Tensor> CopyParameters()
    {
        using var _ = no_grad();
        return named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());
    }

    /// <summary>Overwrites every parameter with the value of the same name in <paramref name="values"/>.</summary>
    public void LoadParameters(IReadOnlyDictionary<string, Tensor> values)
    {
        using var _ = no_grad();
        foreach (var (name, p) in named_parameters()) p.copy_(values[name]);
    }

    public long ParameterCount => parameters().Sum(p => p.numel());
}

/// <summary>Builds the seed's network for an experiment: the MLP for the MNIST experiments.</summary>
public static class NetworkFactory
{
    public static MultiHeadNetwork Create(int[] inputSize, IReadOnlyList<int> classCounts) =>
        new(new Mlp(inputSize), classCounts);
}
