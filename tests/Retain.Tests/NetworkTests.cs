using Retain.Networks;
using static TorchSharp.torch;

namespace Retain.Tests;

/// <summary>Shapes and parameter counts of the seed's networks (docs/hat.md, docs/baselines.md).</summary>
public class NetworkTests
{
    private static readonly int[] Mixture = [10, 100, 10, 10, 10, 43, 100, 10]; // 293 classes
    private static readonly int[] Cifar = [2, 2, 2, 2, 2, 20, 20, 20, 20, 20];    // 110 classes

    [Theory]
    [InlineData(new[] { 1, 28, 28 }, new[] { 5, 5 }, 1917610L)]
    [InlineData(new[] { 1, 28, 28 }, new[] { 10, 10, 10, 10, 10, 10, 10, 10, 10, 10 }, 1989700L)]
    public void MlpParameterCountsMatchTheSeed(int[] input, int[] classes, long expected) =>
        Assert.Equal(expected, NetworkFactory.Create(BackboneRegistry.Mlp, input, classes).ParameterCount);

    [Fact]
    public void AlexNetParameterCountsMatchTheSeed()
    {
        Assert.Equal(7104229L, NetworkFactory.Create(BackboneRegistry.AlexNet, [3, 32, 32], Mixture).ParameterCount);
        Assert.Equal(6729262L, NetworkFactory.Create(BackboneRegistry.AlexNet, [3, 32, 32], Cifar).ParameterCount);
        var gray = NetworkFactory.Create(BackboneRegistry.AlexNet, [1, 28, 28], [10]);
        Assert.Equal(6460416L, gray.Backbone.parameters().Sum(p => p.numel()));
    }

    [Fact]
    public void AlexNetGeometryFollowsTheSeed()
    {
        var specs = Architectures.AlexNet([3, 32, 32]);
        Assert.Equal([4, 3, 2], specs.Take(3).Select(s => s.Kernel));
        Assert.Equal([14, 6, 2], specs.Take(3).Select(s => s.OutputSide));
        Assert.Equal(1024, specs[3].Inputs);
        var gray = Architectures.AlexNet([1, 28, 28]);
        Assert.Equal([3, 2, 2], gray.Take(3).Select(s => s.Kernel));
        Assert.Equal([13, 6, 2], gray.Take(3).Select(s => s.OutputSide));
    }

    [Fact]
    public void ForwardGivesTheTasksHeadAndNamesParametersAsTheSeed()
    {
        manual_seed(0);
        var net = NetworkFactory.Create(BackboneRegistry.AlexNet, [3, 32, 32], [10, 43]);
        net.eval();
        using var x = randn(4, 3, 32, 32);
        Assert.Equal([4L, 43], net.Forward(x, 1).shape);
        var names = net.named_parameters().Select(p => p.name).ToArray();
        Assert.Contains("backbone.c1.weight", names);
        Assert.Contains("backbone.fc2.bias", names);
        Assert.Contains("last.1.weight", names);
    }
}
