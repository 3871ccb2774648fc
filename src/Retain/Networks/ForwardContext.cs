using static TorchSharp.torch;

namespace Retain.Networks;

/// <summary>
/// What one forward pass needs besides the input, and what the gating leaves behind for the approach. Created per
/// batch; tensors it holds belong to the batch's dispose scope. A gating strategy keeps its own settings and outputs
/// in a state object of its own type (<see cref="Get{T}"/>, e.g. <see cref="HatForwardState"/>), so a new strategy
/// adds a class rather than fields here.
/// </summary>
public sealed class ForwardContext(int task)
{
    private readonly Dictionary<Type, object> _states = [];

    /// <summary>The task whose head (and, for a task-dependent gating, whose gates) are used.</summary>
    public int Task { get; } = task;

    /// <summary>
    /// Block outputs a gating strategy keeps for later blocks of the same pass (DWA's context processor reads the
    /// earlier stem outputs with use_concat), by layer name; "input" is the backbone's input.
    /// </summary>
    public Dictionary<string, Tensor> Activations { get; } = [];

    /// <summary>The pass's state of type <typeparamref name="T"/>: the one given with <see cref="With{T}"/>, else a new one (kept for the rest of the pass).</summary>
    public T Get<T>() where T : class, new()
    {
        if (!_states.TryGetValue(typeof(T), out var state)) _states[typeof(T)] = state = new T();
        return (T)state;
    }

    /// <summary>Gives the pass <paramref name="state"/> (a strategy's settings, e.g. HAT's gate sharpness); returns the context.</summary>
    public ForwardContext With<T>(T state) where T : class
    {
        _states[typeof(T)] = state;
        return this;
    }
}
