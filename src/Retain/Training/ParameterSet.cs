using static TorchSharp.torch;

namespace Retain.Training;

/// <summary>Helpers for the per-parameter tensors approaches keep by name (copies of a model, Fisher diagonals, masks).</summary>
public static class ParameterSet
{
    public static void DisposeAll(Dictionary<string, Tensor>? tensors)
    {
        if (tensors is null) return;
        foreach (var t in tensors.Values) t.Dispose();
    }

    /// <summary>Overwrites each tensor of <paramref name="target"/> with the one of the same name in the set <paramref name="name"/> of <paramref name="state"/>.</summary>
    public static void CopyInto(Dictionary<string, Tensor> target, StateDict state, string name)
    {
        using var _ = no_grad();
        foreach (var (key, t) in target) t.copy_(state.Tensor($"{name}/{key}"));
    }

    /// <summary>Σ Ω (θ − θ*)² over every parameter of <paramref name="model"/>, Ω and θ* by name (the quadratic pull of si and mas).</summary>
    public static Tensor WeightedSquaredDistance(TorchSharp.torch.nn.Module model, IReadOnlyDictionary<string, Tensor> importance, IReadOnlyDictionary<string, Tensor> anchor) =>
        stack(model.named_parameters().Select(p => (importance[p.name] * (p.parameter - anchor[p.name]).square()).sum()).ToArray()).sum();

    /// <summary>½ ‖θ − θ_old‖² over every parameter of <paramref name="model"/>, θ_old by name (the IMM approaches' L2 transfer).</summary>
    public static Tensor HalfSquaredDistance(TorchSharp.torch.nn.Module model, IReadOnlyDictionary<string, Tensor> old) =>
        stack(model.named_parameters().Select(p => (p.parameter - old[p.name]).square().sum()).ToArray()).sum() / 2;
}
