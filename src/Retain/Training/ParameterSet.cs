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
}
