using Retain.Approaches;
using Retain.Data;
using Retain.Networks;
using Retain.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Retain.Tests;

/// <summary>Two small synthetic tasks on 1x4x5 inputs (two classes each), and helpers to compare parameters.</summary>
public static class BaselinesToy
{
    public static readonly int[] InputSize = [1, 4, 5];
    public static readonly int[] Classes = [2, 2];

    /// <summary>Task t's label is the sign of a different linear function of the input.</summary>
    public static TaskData Task(int t)
    {
        manual_seed(10 + t);
        var direction = randn(20);
        Split Make(int n)
        {
            var x = randn(n, 1, 4, 5);
            return new Split(x, (x.flatten(1).matmul(direction) > 0).to_type(ScalarType.Int64));
        }
        return new TaskData($"toy-{t}", 2, Make(200), Make(60), Make(60));
    }

    public static ApproachContext Context(MultiHeadNetwork network, int epochs = 2) =>
        new(network, new TrainingOptions { Epochs = epochs, BatchSize = 20, LearningRate = 0.1 }, CPU, new NumpyRandomState(0));

    /// <summary>Bit-for-bit equality of two tensors of the same shape.</summary>
    public static bool Same(Tensor a, Tensor b)
    {
        using var equal = a.eq(b).all();
        return a.shape.SequenceEqual(b.shape) && equal.item<bool>();
    }

    /// <summary>The logits of <paramref name="task"/>'s head on <paramref name="x"/> in eval mode.</summary>
    public static Tensor Logits(MultiHeadNetwork network, Tensor x, int task)
    {
        network.eval();
        using var _ = no_grad();
        return network.Forward(x, task);
    }
}

/// <summary>Records the model's parameters at the end of every epoch (with one epoch: the model the task restores).</summary>
internal sealed class BaselinesSnapshotObserver(MultiHeadNetwork network) : ITrainingEvents, IDisposable
{
    public Dictionary<string, Tensor>? Last { get; private set; }

    public void EpochFinished(EpochRecord epoch)
    {
        ParameterSet.DisposeAll(Last);
        Last = network.CopyParameters();
    }

    public void Dispose() => ParameterSet.DisposeAll(Last);
}

public class BaselinesBehaviourTests
{
    [Fact]
    public void ImmMeanAfterTwoTasksIsTheMeanOfTheTwoTaskModels()
    {
        manual_seed(0);
        var network = new MultiHeadNetwork(new Backbone(Architectures.Mlp(BaselinesToy.InputSize, hidden: 16, depth: 1), new Gating(), 2), BaselinesToy.Classes);
        var context = BaselinesToy.Context(network, epochs: 1);
        using var imm = new ImmMean(context, new ImmMeanOptions());
        using var task0 = BaselinesToy.Task(0);
        using var task1 = BaselinesToy.Task(1);

        imm.Train(0, task0, IgnoredEvents.Instance);
        var afterTask0 = network.CopyParameters();
        using var observer = new BaselinesSnapshotObserver(network);
        imm.Train(1, task1, observer);
        var trainedOnTask1 = observer.Last!;

        // t = 1: θ = (θ_1 + 1 · θ_0) / 2, every parameter (heads included).
        foreach (var (name, p) in network.named_parameters())
        {
            using var expected = (trainedOnTask1[name] + afterTask0[name]) / 2;
            Assert.True(p.allclose(expected, rtol: 0, atol: 1e-6), $"{name} is not the mean of the two task models");
            if (name.StartsWith("backbone", StringComparison.Ordinal))
                Assert.False(BaselinesToy.Same(trainedOnTask1[name], afterTask0[name]), $"{name} did not train on task 1, so the check says nothing");
        }
        ParameterSet.DisposeAll(afterTask0);
    }

    [Fact]
    public void ProgressiveNeverChangesEarlierColumnsAndEvaluatesEachTaskOnItsOwnColumn()
    {
        manual_seed(0);
        var (network, columns) = ProgressiveColumns.CreateNetwork(BackboneRegistry.Mlp, BaselinesToy.InputSize, BaselinesToy.Classes);
        using var progressive = new Progressive(BaselinesToy.Context(network), columns);
        using var task0 = BaselinesToy.Task(0);
        using var task1 = BaselinesToy.Task(1);
        var initial = network.CopyParameters();

        progressive.Train(0, task0, IgnoredEvents.Instance);
        var afterTask0 = network.CopyParameters();
        using var logits0 = BaselinesToy.Logits(network, task0.Test.X, 0);
        progressive.Train(1, task1, IgnoredEvents.Instance);

        var column0 = columns.ColumnParameters(0).Select(p => p.Handle).ToHashSet();
        var column1 = columns.ColumnParameters(1).Select(p => p.Handle).ToHashSet();
        foreach (var (name, p) in network.named_parameters())
        {
            var changedByTask1 = !BaselinesToy.Same(p, afterTask0[name]);
            var inColumn1 = column1.Contains(p.Handle) || name.StartsWith("last.1.", StringComparison.Ordinal);
            Assert.True(!changedByTask1 || inColumn1, $"{name} is not part of column 1 but changed while task 1 trained");
            if (column0.Contains(p.Handle) && name.EndsWith("weight", StringComparison.Ordinal))
                Assert.False(BaselinesToy.Same(afterTask0[name], initial[name]), $"{name} of column 0 did not train on task 0");
        }
        Assert.Contains(network.named_parameters(), p => column1.Contains(p.parameter.Handle) && !BaselinesToy.Same(p.parameter, afterTask0[p.name]));
        // Column 0 and head 0 are what task 0 left, so task 0's answers are bit for bit the same.
        using var logits0After = BaselinesToy.Logits(network, task0.Test.X, 0);
        Assert.True(BaselinesToy.Same(logits0, logits0After));
        ParameterSet.DisposeAll(initial);
        ParameterSet.DisposeAll(afterTask0);
    }

    [Fact]
    public void PathNetFreezesEarlierBestPathsAndEvaluatesEachTaskThroughItsOwnPath()
    {
        manual_seed(0);
        var (network, modules) = PathNetModules.CreateNetwork(BackboneRegistry.Mlp, BaselinesToy.InputSize, BaselinesToy.Classes, moduleCount: 4, activeCount: 2);
        using var pathnet = new PathNet(BaselinesToy.Context(network), new PathNetOptions { Generations = 2, Paths = 2, Modules = 4, Active = 2 }, modules);
        using var task0 = BaselinesToy.Task(0);
        using var task1 = BaselinesToy.Task(1);

        var history0 = pathnet.Train(0, task0, IgnoredEvents.Instance);
        Assert.Equal(4, history0.Count); // 2 generations x 2 paths x (2 epochs / 2 generations)
        var path0 = modules.PathOf(0);
        Assert.All(path0, layer => Assert.All(layer, m => Assert.InRange(m, 0, 3)));
        var afterTask0 = network.CopyParameters();
        using var logits0 = BaselinesToy.Logits(network, task0.Test.X, 0);
        pathnet.Train(1, task1, IgnoredEvents.Instance);

        for (var layer = 0; layer < modules.LayerCount; layer++)
            foreach (var m in path0[layer])
                foreach (var (name, p) in modules.Module(layer, m).named_parameters())
                    Assert.True(BaselinesToy.Same(p, afterTask0[$"backbone.{network.Backbone.Specs[layer].Name}.{m}.{name}"]),
                        $"module {m} of layer {layer} is on task 0's path but changed while task 1 trained");
        Assert.False(BaselinesToy.Same(network.named_parameters().First(p => p.name == "last.1.weight").parameter, afterTask0["last.1.weight"]));

        // Task 0 answers through its own path: the same as before task 1, blind to every module off that path,
        // and sensitive to a module on it.
        using var logits0After = BaselinesToy.Logits(network, task0.Test.X, 0);
        Assert.True(BaselinesToy.Same(logits0, logits0After));
        using (no_grad())
        {
            for (var layer = 0; layer < modules.LayerCount; layer++)
                for (var m = 0; m < modules.ModuleCount; m++)
                    if (!path0[layer].Contains(m))
                        foreach (var p in modules.Module(layer, m).parameters()) p.zero_();
        }
        using var offPathZeroed = BaselinesToy.Logits(network, task0.Test.X, 0);
        Assert.True(BaselinesToy.Same(logits0, offPathZeroed));
        using (no_grad())
            foreach (var p in modules.Module(0, path0[0][0]).parameters()) p.add_(1);
        using var onPathMoved = BaselinesToy.Logits(network, task0.Test.X, 0);
        Assert.False(BaselinesToy.Same(logits0, onPathMoved));
        ParameterSet.DisposeAll(afterTask0);
    }
}
