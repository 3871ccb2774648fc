using static TorchSharp.torch;

namespace Retain.Training;

/// <summary>
/// torch's default generator's state, through a generator wrapper that stays referenced until the native call returns.
/// <para>
/// Why: TorchSharp's wrappers (tensors, generators, scalars) hold a raw pointer to their native object, and their
/// finalizers delete it. A temporary wrapper is unreachable as soon as a native call has read its pointer, so a garbage
/// collection started by another thread (the console's progress thread, a test runner's) while the call runs may
/// finalize it and free the object under the call: <c>t.detach().cpu()</c> crashed a run now and then with SIGSEGV in
/// <c>at::native::to</c>, and <c>torch.random.get_rng_state()</c> reads a temporary generator the same way. Inside a
/// dispose scope the scope keeps every temporary tensor alive; outside one, keep each temporary in a <c>using</c>
/// variable, whose disposal after the call keeps it referenced until then.
/// </para>
/// </summary>
internal static class TorchRandom
{
    public static Tensor GetState()
    {
        using var generator = Generator.Default;
        return generator.get_state();
    }

    public static void SetState(Tensor state)
    {
        using var generator = Generator.Default;
        generator.set_state(state);
    }
}
