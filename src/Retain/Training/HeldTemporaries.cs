using TorchSharp;
using static TorchSharp.torch;

namespace Retain.Training;

/// <summary>
/// Runs an operation with every tensor its thread creates outside a dispose scope of its own held until the operation
/// returns, then let go: detached, not disposed, so what the operation keeps (a model, a state) lives on as before.
/// <para>
/// Why: a temporary that nothing references may be finalized while a native call still reads it, once a collection
/// starts on another thread (see <see cref="TorchRandom"/>). The training steps and evaluation batches have scopes of
/// their own; this covers everything around them (loading, the epoch's and the task's bookkeeping, the sinks), in the
/// CLI and in a user's program, whose other threads may allocate at any time. What a run leaves to the finalizer does
/// not grow with its epochs (<c>NativeLifetimeTests</c>), so holding it costs no memory that grows.
/// </para>
/// </summary>
internal static class HeldTemporaries
{
    public static T Run<T>(Func<T> operation)
    {
        var scope = NewDisposeScope();
        try
        {
            return operation();
        }
        finally
        {
            Release(scope);
        }
    }

    /// <summary>Closes a scope that held temporaries: what it holds is detached (left to its owners or the finalizer), not disposed.</summary>
    public static void Release(DisposeScope scope)
    {
        scope.Detach(scope.DisposablesView);
        scope.Dispose();
    }
}
