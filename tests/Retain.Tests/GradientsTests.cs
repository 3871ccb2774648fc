using Retain.Networks;
using Retain.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Retain.Tests;

/// <summary>
/// The training step's gradient path (<see cref="Gradients"/>) against the sequence it replaces (zero_grad, backward,
/// clip_grad_norm_, step): the same parameters after every step, bit for bit with the norm within the bound, and up to
/// float32 rounding of the norm beyond it; with a head that has a gradient from earlier steps and that later steps do
/// not reach.
/// </summary>
public class GradientsTests
{
    /// <summary>A two-head MLP; steps train head 0 for 3 steps, then head 1 (head 0 keeps a gradient it no longer gets).</summary>
    private static MultiHeadNetwork Network()
    {
        manual_seed(5);
        return new MultiHeadNetwork(new Backbone(Architectures.Mlp([1, 6, 6], hidden: 24, depth: 2), new Gating(), 2), [3, 4]);
    }

    private static List<Tensor> Train(bool replaced, double maxNorm, bool momentum)
    {
        var network = Network();
        network.train();
        using var optimizer = momentum ? optim.SGD(network.parameters(), 0.1, momentum: 0.9, weight_decay: 0.01) : optim.SGD(network.parameters(), 0.1);
        manual_seed(11);
        var norms = new List<double>();
        for (var step = 0; step < 6; step++)
        {
            using var scope = NewDisposeScope();
            var task = step < 3 ? 0 : 1;
            var x = randn(16, 1, 6, 6) * 4;
            var y = randint(0, task == 0 ? 3 : 4, [16]);
            var loss = nn.functional.cross_entropy(network.Forward(x, task), y);
            if (replaced)
            {
                Gradients.Backward(loss, optimizer.parameters().ToArray());
                norms.Add(Gradients.ClipNorm(network.parameters(), maxNorm));
            }
            else
            {
                optimizer.zero_grad();
                loss.backward();
                norms.Add(nn.utils.clip_grad_norm_(network.parameters(), maxNorm));
            }
            optimizer.step();
        }
        Assert.All(norms, n => Assert.True(n > 0));
        var values = network.parameters().Select(p => p.detach().clone()).ToList();
        values.AddRange(network.parameters().Select(p => p.grad is { } g ? g.clone() : tensor(float.NaN)));
        return values;
    }

    [Theory]
    [InlineData(10000, false, 0.0)] // the seed's bound: the norm stays within it, the factor is 1: bit for bit
    [InlineData(0.05, false, 1e-6)] // every step clipped: the norm differs from clip_grad_norm_'s in its last bits
    [InlineData(0.05, true, 1e-6)]  // with momentum and weight decay, which step parameters whose gradient is zero
    public void TrainsAsZeroGradBackwardAndClipGradNorm(double maxNorm, bool momentum, double tolerance)
    {
        var expected = Train(replaced: false, maxNorm, momentum);
        var actual = Train(replaced: true, maxNorm, momentum);
        Assert.Equal(expected.Count, actual.Count);
        for (var i = 0; i < expected.Count; i++)
        {
            var same = expected[i].isnan().all().item<bool>()
                ? actual[i].isnan().all().item<bool>()
                : expected[i].shape.SequenceEqual(actual[i].shape) && (tolerance == 0
                    ? expected[i].eq(actual[i]).all().item<bool>()
                    : expected[i].allclose(actual[i], rtol: tolerance, atol: tolerance));
            Assert.True(same, $"tensor {i} differs: max |difference| {(expected[i] - actual[i]).abs().max().item<float>()}");
        }
    }

    [Fact]
    public void AParameterThatBackwardDoesNotReachKeepsAZeroGradient()
    {
        var network = Network();
        var parameters = network.parameters().ToArray();
        using (var scope = NewDisposeScope())
            Gradients.Backward(network.Forward(randn(4, 1, 6, 6), 0).sum(), parameters);
        using (var scope = NewDisposeScope())
            Gradients.Backward(network.Forward(randn(4, 1, 6, 6), 1).sum(), parameters);
        var head0 = network.named_parameters().Single(p => p.name == "last.0.weight").parameter;
        var head1 = network.named_parameters().Single(p => p.name == "last.1.weight").parameter;
        Assert.NotNull(head0.grad);
        Assert.Equal(0, head0.grad!.abs().sum().item<float>());
        Assert.True(head1.grad!.abs().sum().item<float>() > 0);
    }
}
