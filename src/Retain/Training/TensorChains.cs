using static TorchSharp.torch;

namespace Retain.Training;

/// <summary>
/// TorchSharp's tensors hold their native tensor by a plain handle, freed by a finalizer. In a chain such as
/// <c>t.detach().clone()</c> the temporary from <c>detach()</c> is unreachable once its handle is read, so the GC's
/// finalizer thread may free it while <c>clone()</c> is still reading it: a native crash in one run in about ten
/// where checkpoints were written every epoch. Inside a dispose scope the scope holds every temporary, so tensor code
/// runs in one (each training step and evaluation batch has its own); code outside one holds its temporaries itself.
/// </summary>
internal static class TensorChains
{
    /// <summary><c>t.detach().clone()</c> with the detached view held until the clone is made.</summary>
    public static Tensor DetachedClone(Tensor t)
    {
        using var detached = t.detach();
        return detached.clone();
    }
}
