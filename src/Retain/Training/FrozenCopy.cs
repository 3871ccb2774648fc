using Retain.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace Retain.Training;

/// <summary>
/// θ_old of the distillation approaches (lwf, lfl): a second network of the model's architecture holding a copy of
/// the model's parameters, in eval mode, outside autograd. Built on the first refresh by the run's network factory and
/// refreshed in place after every task.
/// </summary>
public static class FrozenCopy
{
    /// <summary>Copies <paramref name="model"/>'s current parameters into <paramref name="copy"/> (built first when null).</summary>
    public static MultiHeadNetwork Refresh(MultiHeadNetwork? copy, MultiHeadNetwork model, ApproachContext context)
    {
        copy ??= Build(context);
        copy.LoadParameters(model.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter));
        copy.eval();
        return copy;
    }

    private static MultiHeadNetwork Build(ApproachContext context)
    {
        var create = context.CreateNetwork
            ?? throw new InvalidOperationException("a frozen copy of the model needs ApproachContext.CreateNetwork");
        // The copy's own initialisation is overwritten at once; it must not move torch's generator, which also draws
        // the dropout masks (the seed's deepcopy draws nothing).
        using var generator = torch.random.get_rng_state();
        var copy = create();
        torch.random.set_rng_state(generator);
        foreach (var p in copy.parameters()) p.requires_grad = false;
        return copy;
    }
}
