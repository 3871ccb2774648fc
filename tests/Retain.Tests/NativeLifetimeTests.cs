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

    /// <summary>
    /// A test's unreferenced temporaries survive a collection until the test ends (<see cref="TestTensorsKeptAliveAttribute"/>):
    /// no finalizer frees one under a native call.
    /// </summary>
    [Fact]
    public void A_tests_temporaries_outlive_a_collection_until_the_test_ends()
    {
        var temporary = Unreferenced();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Assert.True(temporary.TryGetTarget(out var held), "the temporary was collected during the test");
        Assert.False(held.IsInvalid);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static WeakReference<Tensor> Unreferenced() => new(ones(3).mul(ones(3)));

    public static TheoryData<string> Approaches() => [.. Retain.Approaches.ApproachRegistry.All.Select(a => a.Name)];

    /// <summary>
    /// What a whole run leaves to the finalizer does not grow with its epochs: every tensor a step, an evaluation or an
    /// epoch's bookkeeping makes is disposed, so native memory does not wait for collections, and a run holding its
    /// temporaries until it ends (HeldTemporaries) holds no more in a long run than in a short one. Before
    /// ReportPenalty, EWC, MAS and SI left their end-of-epoch penalty's temporaries: 53 tensors per epoch here.
    /// </summary>
    [Theory]
    [MemberData(nameof(Approaches))]
    public void A_run_leaves_no_more_to_the_finalizer_for_more_epochs(string approach)
    {
        // The tensors this thread made and did not dispose (a finalized one counts on the finalizer's thread).
        long LeftAfter(int epochs)
        {
            var before = Live;
            ExperimentRunner.Run(new RunConfig
            {
                Experiment = "mnist2", Approach = approach, DataDir = TestSupport.DataDir, Limit = 40, BatchSize = 10,
                Epochs = epochs, Output = Path.Combine(Folder, $"{approach}{epochs}.txt"),
                // Checkpoints at the task boundaries only: by default they follow the clock, and each one's state holds
                // a copy of torch's generator state that is left to the finalizer once written (5 kB, harmless).
                CheckpointEvery = 0,
            });
            return Live - before;
        }
        // At least the approach's fewest epochs (pathnet's one per generation), then three times as many.
        var fewest = Math.Max(1, Retain.Approaches.ApproachRegistry.All.Single(a => a.Name == approach).Spec.WithDefaults(BackboneRegistry.All[0]).FewestEpochs);
        Assert.Equal(LeftAfter(fewest), LeftAfter(3 * fewest));
    }

    /// <summary>
    /// A run holds what its thread makes outside its steps' scopes until it ends (HeldTemporaries): a tensor made at
    /// the end of an epoch and referenced by nothing survives a collection. The run has a thread of its own, outside
    /// the scope every test gets, as in the CLI or a user's program.
    /// </summary>
    [Fact]
    public void A_runs_temporaries_outlive_a_collection_until_the_run_ends()
    {
        var probe = new CollectingProbe();
        var config = new RunConfig
        {
            Experiment = "mnist2", Approach = "sgd", DataDir = TestSupport.DataDir, Limit = 40, BatchSize = 10, Epochs = 2,
            Output = Path.Combine(Folder, "held.txt"),
        };
        Exception? failure = null;
        var run = new Thread(() =>
        {
            try { ExperimentRunner.Run(config, probe); }
            catch (Exception e) { failure = e; }
        });
        run.Start();
        run.Join();
        Assert.Null(failure);
        Assert.Equal(4, probe.Epochs);
        Assert.Equal(0, probe.Collected);
    }

    /// <summary>At the end of each epoch: makes a tensor nothing references, collects, and counts it if it was collected.</summary>
    private sealed class CollectingProbe : IRunSink
    {
        public int Epochs { get; private set; }
        public int Collected { get; private set; }

        public void EpochFinished(EpochRecord epoch)
        {
            var temporary = Unreferenced();
            GC.Collect();
            GC.WaitForPendingFinalizers();
            Epochs++;
            if (!temporary.TryGetTarget(out _)) Collected++;
        }
    }
}
