using Retain.Approaches;
using Retain.Networks;
using static TorchSharp.torch;

namespace Retain.Tests;

/// <summary>The baselines' networks: parameter counts of the seed (docs/baselines.md) and shapes on both backbones.</summary>
public class BaselinesNetworkTests
{
    private static readonly int[] Mixture = [10, 100, 10, 10, 10, 43, 100, 10]; // 293 classes
    private static readonly int[] Cifar = [2, 2, 2, 2, 2, 20, 20, 20, 20, 20];    // 110 classes

    [Fact]
    public void ProgressiveAlexNetHasTheSeedsParameterCounts()
    {
        Assert.Equal(7160706L, ProgressiveColumns.CreateNetwork(BackboneRegistry.AlexNet, [3, 32, 32], Mixture).Network.ParameterCount);
        Assert.Equal(6841835L, ProgressiveColumns.CreateNetwork(BackboneRegistry.AlexNet, [3, 32, 32], Cifar).Network.ParameterCount);
    }

    [Fact]
    public void PathNetAlexNetHasTheSeedsParameterCounts()
    {
        Assert.Equal(7092261L, PathNetModules.CreateNetwork(BackboneRegistry.AlexNet, [3, 32, 32], Mixture, 16, 3).Network.ParameterCount);
        Assert.Equal(6995454L, PathNetModules.CreateNetwork(BackboneRegistry.AlexNet, [3, 32, 32], Cifar, 16, 3).Network.ParameterCount);
    }

    [Fact]
    public void ColumnsAndModulesAreNarrowedCopiesOfTheBackbone()
    {
        // Progressive, T = 10: int(1.117 · {64, 128, 256, 2048, 2048} / 10); PathNet: int(0.258 · ...).
        var progressive = ProgressiveColumns.CreateNetwork(BackboneRegistry.AlexNet, [3, 32, 32], Cifar).Network;
        Assert.Equal([7, 14, 28, 228, 228], progressive.Backbone.Specs.Select(s => s.Outputs));
        var pathnet = PathNetModules.CreateNetwork(BackboneRegistry.AlexNet, [3, 32, 32], Cifar, 16, 3).Network;
        Assert.Equal([16, 33, 66, 528, 528], pathnet.Backbone.Specs.Select(s => s.Outputs));
        // The MLP: mnist2's two columns of int(1.117 · 800 / 2) = 446 units, PathNet modules of int(0.258 · 800) = 206.
        Assert.All(ProgressiveColumns.CreateNetwork(BackboneRegistry.Mlp, [1, 28, 28], [5, 5]).Network.Backbone.Specs, s => Assert.Equal(446, s.Outputs));
        Assert.All(PathNetModules.CreateNetwork(BackboneRegistry.Mlp, [1, 28, 28], [5, 5], 16, 3).Network.Backbone.Specs, s => Assert.Equal(206, s.Outputs));
    }

    [Fact]
    public void LflNetworkIsTheBackboneWithoutDropoutOnItsLastLayer()
    {
        var lfl = Lfl.CreateNetwork(BackboneRegistry.Mlp, new NetworkShape([1, 28, 28], [5, 5]));
        Assert.Equal([0.5, 0.5, 0.0], lfl.Backbone.Specs.Select(s => s.Dropout));
        Assert.Equal(1917610L, lfl.ParameterCount); // the seed's mlp on mnist2
        Assert.Equal(0.0, Lfl.CreateNetwork(BackboneRegistry.AlexNet, new NetworkShape([3, 32, 32], Mixture)).Backbone.Specs[^1].Dropout);
    }

    [Theory]
    [InlineData("mlp", new[] { 1, 28, 28 })]
    [InlineData("alexnet", new[] { 3, 32, 32 })]
    [InlineData("alexnet", new[] { 1, 28, 28 })] // split-fashion
    public void EveryTaskHasItsHeadOnBothBackbones(string backbone, int[] input)
    {
        var kind = BackboneRegistry.Get(backbone);
        manual_seed(0);
        int[] classes = [3, 4, 5];
        using var x = randn(2, input[0], input[1], input[2]);
        foreach (var network in new[]
                 {
                     ProgressiveColumns.CreateNetwork(kind, input, classes).Network,
                     PathNetModules.CreateNetwork(kind, input, classes, 4, 2).Network,
                 })
        {
            network.eval();
            if (network.Backbone.Gating is PathNetModules modules)
                for (var t = 0; t < classes.Length; t++) modules.SetPath(t, Enumerable.Range(0, modules.LayerCount).Select(l => new[] { t, (t + l) % 4 }).ToArray());
            for (var t = 0; t < classes.Length; t++)
                Assert.Equal([2L, classes[t]], network.Forward(x, t).shape);
        }
    }
}
