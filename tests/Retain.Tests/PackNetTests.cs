using Retain.Approaches;
using Retain.Data;
using Retain.Networks;
using Retain.Training;
using static TorchSharp.torch;

namespace Retain.Tests;

/// <summary>PackNet's pruning by hand, and its promise: what a task keeps never changes, so the task is never forgotten.</summary>
public class PackNetTests
{
    [Fact]
    public void PruningReleasesTheGivenShareOfTheTasksOwnWeightsOfSmallestMagnitude()
    {
        // Owner 1 is task 0 (frozen), owner 2 task 1, which owns 0.3, −0.02, 0.2, 0.05 and 0.4. A ratio of 0.6 releases
        // round(0.6 · 5) = 3 of them, the smallest in magnitude: −0.02, 0.05 and 0.2. Task 0's −0.1 is not task 1's to release.
        using var weight = tensor(new[,] { { 0.5f, -0.1f, 0.3f, -0.02f }, { -0.7f, 0.2f, 0.05f, 0.4f } });
        using var owner = tensor(new short[,] { { 1, 1, 2, 2 }, { 1, 2, 2, 2 } });
        Assert.Equal(3, PackNetMasks.Prune(weight, owner, task: 1, ratio: 0.6));
        Assert.Equal([1, 1, 2, 0, 1, 0, 0, 2], owner.data<short>().ToArray());
        Assert.Equal([0.5f, -0.1f, 0.3f, 0f, -0.7f, 0f, 0f, 0.4f], weight.data<float>().ToArray());
    }

    [Fact]
    public void PruningIsPerLayer()
    {
        // fc1's weights are all larger than fc2's: pruning half of everything at once would take fc2's four; per layer,
        // each block releases its own two smallest.
        var masks = new PackNetMasks();
        using var net = new MultiHeadNetwork(new Backbone(Architectures.Mlp([1, 1, 2], hidden: 2, depth: 2, dropout: 0), masks, 1), [2]);
        using (no_grad())
        {
            PackNetMasks.Parameters(net.Backbone.Layer(0)).Weight.copy_(tensor(new[,] { { 1f, -4f }, { 3f, 2f } }));
            PackNetMasks.Parameters(net.Backbone.Layer(1)).Weight.copy_(tensor(new[,] { { 0.1f, 0.4f }, { -0.3f, 0.2f } }));
        }
        masks.Assign(0);
        Assert.Equal(4, masks.Prune(net.Backbone, task: 0, ratio: 0.5));
        Assert.Equal([0f, -4f, 3f, 0f], PackNetMasks.Parameters(net.Backbone.Layer(0)).Weight.data<float>().ToArray());
        Assert.Equal([0f, 0.4f, -0.3f, 0f], PackNetMasks.Parameters(net.Backbone.Layer(1)).Weight.data<float>().ToArray());
        Assert.Equal([0, 1, 1, 0], masks.Owner(0).data<short>().ToArray());
        Assert.Equal(0.5, masks.Share(0));
        // The buffers are the network's: a checkpoint of the model carries them.
        Assert.Equal(["backbone.gating.owner_fc1", "backbone.gating.owner_fc2"], net.named_buffers().Select(b => b.name).ToArray());
    }

    [Fact]
    public void EqualSharesLeaveEveryTaskAnEqualPartOfEachLayer()
    {
        // Of 5 tasks, task t releases (5 − t − 1)/(5 − t) of what it trained: 4/5, 3/4, 2/3, 1/2, 0. Each keeps 1/5.
        Assert.Equal([0.8, 0.75, 2 / 3.0, 0.5, 0], Enumerable.Range(0, 5).Select(t => PackNet.EqualShare(t, 5)).ToArray());
        double free = 1;
        for (var t = 0; t < 5; t++)
        {
            var kept = free * (1 - PackNet.EqualShare(t, 5));
            Assert.Equal(0.2, kept, 12);
            free -= kept;
        }
    }

    [Fact]
    public void WhatATaskKeptIsFrozenSoItIsNeverForgotten()
    {
        var tasks = EngineApproachTests.ConflictingTasks();
        manual_seed(0);
        var (net, masks) = PackNetMasks.CreateNetwork(new MlpOf(16, 2), [1, 4, 5], [2, 2]);
        using var _ = net;
        const int epochs = 15, retrain = 5;
        using var packnet = new PackNet(new ApproachContext(net, new TrainingOptions { Epochs = epochs, BatchSize = 32 }, CPU, new NumpyRandomState(0)),
            new PackNetOptions { RetrainEpochs = retrain }, masks);

        // Task 0 of 2 trains everything, releases half of each layer (equal shares) and retrains what it kept.
        var history0 = packnet.Train(0, tasks[0], IgnoredEvents.Instance);
        Assert.Equal(epochs + retrain, history0.Count);
        Assert.Equal(0.5, masks.Share(0));
        var kept = Enumerable.Range(0, masks.LayerCount).Select(l => masks.Owner(l).eq(1)).ToArray();
        var after0 = net.CopyParameters();
        var test0 = tasks[0].Test.X;
        var logits0 = packnet.Model.Forward(test0, 0).detach().clone();
        var accuracy0 = packnet.Evaluate(0, tasks[0].Test).Accuracy;
        Assert.True(accuracy0 > 0.85, $"task 0 learned: {accuracy0}");
        for (var l = 0; l < masks.LayerCount; l++)
        {
            using var released = masks.Owner(l).eq(0);
            Assert.True(PackNetMasks.Parameters(net.Backbone.Layer(l)).Weight.masked_select(released).eq(0).all().item<bool>(), "released weights are zero");
        }

        // Task 1, the last, gets the released weights, trains them and keeps them all (nothing to retrain).
        var history1 = packnet.Train(1, tasks[1], IgnoredEvents.Instance);
        Assert.Equal(epochs, history1.Count);
        Assert.Equal(0.5, masks.Share(1));
        var accuracy1 = packnet.Evaluate(1, tasks[1].Test).Accuracy;
        Assert.True(accuracy1 > 0.8, $"task 1 learned: {accuracy1}");

        // Task 0's weights, every bias and task 0's head are bit for bit as task 0 left them; so are its answers.
        foreach (var (name, p) in net.named_parameters())
        {
            var layer = net.Backbone.Specs.ToList().FindIndex(s => name == $"backbone.{s.Name}.weight");
            if (layer >= 0)
            {
                Assert.True(Same(p.masked_select(kept[layer]), after0[name].masked_select(kept[layer])), $"{name}: task 0's weights changed");
                Assert.True(Same(masks.Owner(layer).eq(1), kept[layer]), $"{name}: task 0's ownership changed");
                Assert.False(Same(p, after0[name]), $"{name}: task 1 trained none of its weights");
            }
            else if (!name.StartsWith("last.1.", StringComparison.Ordinal)) Assert.True(Same(p, after0[name]), $"{name} changed");
        }
        Assert.True(Same(packnet.Model.Forward(test0, 0), logits0), "task 0's logits changed");
        Assert.Equal(accuracy0, packnet.Evaluate(0, tasks[0].Test).Accuracy);
    }

    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    /// <summary>An MLP backbone of <paramref name="depth"/> blocks of <paramref name="hidden"/> units, without dropout (a small one for tests).</summary>
    private sealed class MlpOf(int hidden, int depth) : BackboneArchitecture
    {
        public override string Name => "test-mlp";
        public override string Description => "a small MLP for tests";
        public override IReadOnlyList<LayerSpec> Layers(int[] inputSize, double width = 1) =>
            Architectures.Mlp(inputSize, (int)(hidden * width), depth, dropout: 0);
    }
}
