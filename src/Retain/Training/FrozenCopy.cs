using Retain.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace Retain.Training;

/// <summary>
/// θ_old of the distillation approaches (lwf, lfl): a second network of the model's architecture holding a copy of
/// the model's parameters, in eval mode, outside autograd. Built on the first refresh by the run's network factory and
/// refreshed in place after every task.
/// </summary>
internal static class FrozenCopy
{
    /// <summary>Copies <paramref name="model"/>'s current parameters into <paramref name="copy"/> (built first when null).</summary>
    public static MultiHeadNetwork Refresh(MultiHeadNetwork? copy, MultiHeadNetwork model, ApproachContext context) =>
        Refresh(copy, model.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter), context);

    /// <summary>Copies <paramref name="parameters"/> (by name) into <paramref name="copy"/> (built first when null).</summary>
    public static MultiHeadNetwork Refresh(MultiHeadNetwork? copy, IReadOnlyDictionary<string, Tensor> parameters, ApproachContext context)
    {
        copy ??= Build(context);
        copy.LoadParameters(parameters);
        copy.eval();
        return copy;
    }

    /// <summary>The frozen copy's parameters by name, for a checkpoint (null when there is no copy yet).</summary>
    public static Dictionary<string, Tensor>? Parameters(MultiHeadNetwork? copy) =>
        copy?.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);

    /// <summary>The frozen copy a checkpoint describes (null when it had none).</summary>
    public static MultiHeadNetwork? Restore(StateDict state, string name, ApproachContext context)
    {
        var parameters = state.Tensors(name, context.Device);
        if (parameters is null) return null;
        var copy = Refresh(null, parameters, context);
        ParameterSet.DisposeAll(parameters);
        return copy;
    }

    private static MultiHeadNetwork Build(ApproachContext context)
    {
        var create = context.CreateNetwork
            ?? throw new InvalidOperationException("a frozen copy of the model needs ApproachContext.CreateNetwork");
        // The copy's own initialisation is overwritten at once; it must not move torch's generator, which also draws
        // the dropout masks (the seed's deepcopy draws nothing).
        using var generator = TorchRandom.GetState();
        var copy = create();
        TorchRandom.SetState(generator);
        foreach (var p in copy.parameters()) p.requires_grad = false;
        return copy;
    }
}
