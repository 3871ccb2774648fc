using Retain.Experiments;
using Retain.Networks;
using Retain.Training;
using static TorchSharp.torch;

namespace Retain.Tests;

/// <summary>
/// Code that runs outside a dispose scope leaves no temporary tensor to the finalizer. A temporary that nothing
/// references may be finalized by a collection on another thread while a native call still reads it: the
/// checkpoint's <c>tensor.detach().cpu()</c> crashed about one run in eight with SIGSEGV in <c>at::native::to</c>.
/// Every tensor such code creates is either returned or disposed on this thread once its call has returned, which
/// this thread's live-tensor count shows (a finalized tensor is counted on the finalizer's thread, so the count does
/// not depend on when collections happen).
/// </summary>
public class NativeLifetimeTests : TempFolderTests
{
    private static long Live => TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;

    private static MultiHeadNetwork Network()
    {
        manual_seed(3);
        return new MultiHeadNetwork(new Backbone(Architectures.Mlp([1, 4, 4], hidden: 8, depth: 2), new Gating(), 3), [2, 2, 2]);
    }

    [Fact]
    public void A_checkpoint_write_disposes_every_temporary_it_creates()
    {
        using var network = Network();
        var state = new StateDict().Set("model", network.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter));
        var path = Path.Combine(Folder, "run" + CheckpointFile.Extension);
        var before = Live;
        CheckpointFile.Write(path, state);
        Assert.Equal(before, Live);

        using var read = CheckpointFile.ReadTensors(path, CheckpointFile.ReadValues(path));
        foreach (var (name, p) in network.named_parameters())
            Assert.True(read.Tensor($"model/{name}").eq(p).all().item<bool>(), name);
    }

    [Fact]
    public void A_copy_of_the_parameters_creates_the_copies_and_nothing_else()
    {
        using var network = Network();
        var before = Live;
        var copies = network.CopyParameters();
        Assert.Equal(before + network.parameters().Count(), Live);
        foreach (var (name, p) in network.named_parameters())
            Assert.True(copies[name].eq(p).all().item<bool>(), name);
        ParameterSet.DisposeAll(copies);
    }
}
