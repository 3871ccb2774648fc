using Retain.Networks;
using static TorchSharp.torch;

namespace Retain.Tests;

/// <summary>The backbone's dropout: nn.Dropout's distribution and scaling, its gradient, and the identity in evaluation.</summary>
public class UniformDropoutTests
{
    [Theory]
    [InlineData(0.5)]
    [InlineData(0.2)]
    public void ZeroesAFractionPAndScalesTheRestByOneOverOneMinusP(double p)
    {
        manual_seed(3);
        var dropout = new UniformDropout(p);
        dropout.train();
        var input = ones(200, 1000);
        var output = dropout.forward(input);
        var dropped = output.eq(0).to_type(ScalarType.Float64).mean().item<double>();
        // 200,000 Bernoulli(p) draws: the standard deviation of the fraction is at most 0.0012; 5 of them are allowed.
        Assert.InRange(dropped, p - 0.006, p + 0.006);
        var kept = output.masked_select(output.ne(0));
        Assert.True(kept.eq((float)(1 / (1 - p))).all().item<bool>());
    }

    [Fact]
    public void TheGradientIsTheSameMaskAndScale()
    {
        manual_seed(4);
        var dropout = new UniformDropout(0.5);
        dropout.train();
        var input = randn(64, 800).requires_grad_();
        var output = dropout.forward(input);
        output.sum().backward();
        // d output / d input = mask / (1 - p): 2 where the element was kept, 0 where it was dropped.
        Assert.True(input.grad!.eq(output.ne(0).to_type(ScalarType.Float32) * 2).all().item<bool>());
    }

    [Fact]
    public void IsTheIdentityInEvaluationAndAtZero()
    {
        var input = randn(8, 16);
        var evaluated = new UniformDropout(0.5);
        evaluated.eval();
        Assert.True(evaluated.forward(input).eq(input).all().item<bool>());
        var none = new UniformDropout(0);
        none.train();
        Assert.True(none.forward(input).eq(input).all().item<bool>());
    }

    [Fact]
    public void TheSameSeedGivesTheSameMask()
    {
        var dropout = new UniformDropout(0.5);
        dropout.train();
        manual_seed(9);
        var first = dropout.forward(ones(32, 32));
        manual_seed(9);
        Assert.True(dropout.forward(ones(32, 32)).eq(first).all().item<bool>());
    }
}
