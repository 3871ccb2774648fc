using TorchSharp;
using static TorchSharp.torch;

namespace Retain.Networks;

/// <summary>
/// A backbone that is a TorchSharp module of your own: <paramref name="create"/> builds it, and its output for a batch
/// (<c>N × F</c>) is what the heads read (one linear head per task is added on top). Every approach that trains any
/// backbone runs on it (sgd and its variants, joint, ewc, imm, lwf, lfl, ...); the gating strategies (HAT, DWA,
/// PathNet, progressive) need a backbone declared as blocks instead (<see cref="LayeredBackbone"/>).
/// <para>
/// A function rather than a module, because a run may need more than one copy of the architecture: lwf and lfl keep a
/// frozen copy of the model (into which the trained parameters are copied). Each call must build a new module.
/// </para>
/// </summary>
/// <param name="create">builds a new module of the architecture, with its own parameters.</param>
/// <param name="name">the name the run's record gives the backbone.</param>
public sealed class ModuleBackbone(Func<nn.Module<Tensor, Tensor>> create, string name = "module") : BackboneArchitecture
{
    public override string Name => name;
    public override string Description => "a module of your own";
    public override bool DeclaresLayers => false;

    /// <summary>A module declares no blocks: an approach that gates the backbone cannot use it (checked before any network is built).</summary>
    public override IReadOnlyList<LayerSpec> Layers(int[] inputSize, double width = 1) =>
        throw new SettingException(typeof(ModuleBackbone), nameof(Layers),
            "do not exist: a module of your own declares no blocks for a gating strategy (declare the backbone as a LayeredBackbone)");

    /// <summary>A new module, whose feature size is measured on one zero input (in evaluation mode, so no dropout draws and no statistics change).</summary>
    public override Backbone CreatePlain(int[] inputSize, int taskCount)
    {
        var module = create();
        return new Backbone(module, FeatureSize(module, inputSize));
    }

    private int FeatureSize(nn.Module<Tensor, Tensor> module, int[] inputSize)
    {
        var training = module.training;
        module.eval();
        try
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var device = module.parameters().FirstOrDefault()?.device ?? CPU;
            var output = module.forward(zeros([1, .. inputSize.Select(d => (long)d)], device: device));
            if (output.dim() != 2 || output.shape[1] < 1)
                throw new SettingException(typeof(ModuleBackbone), Name,
                    $"must map a batch of inputs [N, {string.Join(", ", inputSize)}] to features [N, F]; it gives [{string.Join(", ", output.shape)}]");
            return (int)output.shape[1];
        }
        finally
        {
            module.train(training);
        }
    }
}
