using System.Globalization;
using Retain.Approaches;
using Retain.Networks;
using Retain.Training;
using TorchSharp;

namespace Retain.Experiments;

/// <summary>
/// A network too large for this machine (an absurd <c>--emb_size</c>, <c>--processor_feats</c>, ...) is refused
/// before it is allocated: the approach's network is first built on torch's meta device, which records shapes and
/// holds no memory, and its parameters are counted. Without this the allocation fails in native code (exit 70 with a
/// C++ trace) or, with the kernel's overcommit, the process is killed later.
/// </summary>
internal static class NetworkBudget
{
    /// <summary>Parameters, gradients, the best model kept per task and an approach's copy (old model, Fisher): about four times the parameters.</summary>
    public const int CopiesWhileTraining = 4;

    /// <param name="name">the approach's name, for the message.</param>
    public static void Require(ApproachSetup approach, BackboneArchitecture backbone, NetworkShape shape, string name)
    {
        var parameters = CountWithoutAllocating(approach, backbone, shape);
        var bytes = (double)parameters * sizeof(float) * CopiesWhileTraining;
        var available = (double)GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if (bytes <= available) return;
        var defaults = approach.Spec.WithDefaults(backbone).OptionValues.ToDictionary(o => o.Name, o => o.Value);
        var given = string.Join(" ", approach.OptionValues.Where(o => defaults.GetValueOrDefault(o.Name) != o.Value).Select(o => $"--{o.Name} {o.Value}"));
        throw new RetainException(string.Create(CultureInfo.InvariantCulture,
            $"the {name} network {(given.Length > 0 ? $"of {given} " : "")}has {parameters:N0} parameters and needs about {bytes / 1e9:F0} GB to train, more than this machine's {available / 1e9:F0} GB: give smaller sizes"));
    }

    /// <summary>
    /// The parameter count of the network <paramref name="approach"/> builds, built on the meta device. Building it
    /// draws from torch's generator (HAT's embeddings), so the generator is put back as it was: the real network is
    /// initialised as it would be without this count.
    /// </summary>
    public static long CountWithoutAllocating(ApproachSetup approach, BackboneArchitecture backbone, NetworkShape shape)
    {
        var device = torch.get_default_device();
        using var generator = TorchRandom.GetState();
        torch.set_default_device(torch.device("meta"));
        try
        {
            using var network = approach.CreateNetwork(backbone, shape);
            return network.ParameterCount;
        }
        finally
        {
            torch.set_default_device(device);
            TorchRandom.SetState(generator);
        }
    }
}
