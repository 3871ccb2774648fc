using Retain.Training;
using static TorchSharp.torch;

namespace Retain.Interop;

/// <summary>
/// The part of an approach's state that someone using the trained model elsewhere needs besides the network's
/// tensors, as named groups of named tensors and a few scalars: HAT's task masks, EWC's Fisher diagonal and anchor.
/// A group keyed by the network's parameter names (EWC's) is written under the parameters' seed names. The tensors
/// belong to this object.
/// </summary>
public sealed class ApproachState : IDisposable
{
    public Dictionary<string, Dictionary<string, Tensor>> Groups { get; } = [];
    public Dictionary<string, double> Scalars { get; } = [];

    public void Dispose()
    {
        foreach (var group in Groups.Values) ParameterSet.DisposeAll(group);
        Groups.Clear();
    }
}

/// <summary>An approach whose state matters beyond the network's parameters, and that can take it back (a round trip).</summary>
public interface IPortableState
{
    /// <summary>Copies of the state after <paramref name="tasksTrained"/> tasks.</summary>
    ApproachState ExportState(int tasksTrained);

    /// <summary>Takes the state <see cref="ExportState"/> gave (copies it), so the approach continues from it.</summary>
    void ImportState(ApproachState state);
}
