using Retain.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Retain.Tests;

/// <summary>
/// The base loop's SGD holds the Scalars of its step (<see cref="Training.SGD"/>) and is otherwise TorchSharp's:
/// from the same start, on the same batches, both give the same parameters bit for bit.
/// </summary>
public class HeldScalarSgdTests
{
    private static Tensor[] Train(Func<IEnumerable<Parameter>, optim.Optimizer> create)
    {
        manual_seed(11);
        using var network = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3));
        using var optimizer = create(network.parameters());
        using var generator = new Generator(5);
        for (var step = 0; step < 5; step++)
        {
            using var scope = NewDisposeScope();
            var x = randn([8, 6], generator: generator);
            var y = randint(0, 3, [8], generator: generator);
            optimizer.zero_grad();
            nn.functional.cross_entropy(network.forward(x), y).backward();
            optimizer.step();
        }
        return [.. network.parameters().Select(p => p.detach().clone())];
    }

    [Theory]
    [InlineData(0.0, 0.0, false)]      // the seed's plain SGD
    [InlineData(0.9, 0.0, false)]
    [InlineData(0.9, 1e-3, true)]
    [InlineData(0.0, 1e-2, false)]
    public void TakesTorchSharpsStepsBitForBit(double momentum, double weightDecay, bool nesterov)
    {
        var held = Train(p => Assert.IsType<Training.SGD>(new SgdOptimizer { Momentum = momentum, WeightDecay = weightDecay, Nesterov = nesterov }.Create(p, 0.1)));
        var torchSharp = Train(p => optim.SGD(p, 0.1, momentum: momentum, weight_decay: weightDecay, nesterov: nesterov));
        Assert.Equal(torchSharp.Length, held.Length);
        for (var i = 0; i < held.Length; i++)
            Assert.Equal(torchSharp[i].data<float>().ToArray(), held[i].data<float>().ToArray());
        // The steps moved the parameters: the comparison is not of two untouched starts.
        manual_seed(11);
        using var untouched = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3));
        Assert.NotEqual(untouched.parameters().First().data<float>().ToArray(), held[0].data<float>().ToArray());
    }

    [Fact]
    public void ReadsTheMomentumTorchSharpsSgdWroteIntoACheckpoint()
    {
        manual_seed(11);
        using var network = nn.Sequential(nn.Linear(6, 3));
        using var theirs = optim.SGD(network.parameters(), 0.1, momentum: 0.9);
        nn.functional.cross_entropy(network.forward(randn(4, 6)), tensor(new long[] { 0, 1, 2, 0 })).backward();
        theirs.step();
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true)) theirs.save_state_dict(writer);
        stream.Position = 0;
        using var ours = new SgdOptimizer { Momentum = 0.9 }.Create(network.parameters(), 0.1);
        using (var reader = new BinaryReader(stream)) ((OptimizerHelper)ours).load_state_dict(reader);
        var written = (TorchSharp.Modules.SGD.State)theirs.state_dict().State[0];
        var read = (TorchSharp.Modules.SGD.State)((OptimizerHelper)ours).state_dict().State[0];
        Assert.Equal(written.momentum_buffer!.data<float>().ToArray(), read.momentum_buffer!.data<float>().ToArray());
    }
}
