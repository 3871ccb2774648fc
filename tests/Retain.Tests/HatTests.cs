using Retain.Approaches;
using Retain.Data;
using Retain.Networks;
using Retain.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Retain.Tests;

/// <summary>HAT (Serrà et al. 2018; docs/hat.md) and its networks on tiny networks built directly.</summary>
public class HatTests(Xunit.Abstractions.ITestOutputHelper log)
{
    private static readonly int[] Mixture = [10, 100, 10, 10, 10, 43, 100, 10];
    private static readonly int[] Cifar = [2, 2, 2, 2, 2, 20, 20, 20, 20, 20];

    [Theory]
    [InlineData(new[] { 5, 5 }, 5600010L)]                                    // mnist2
    [InlineData(new[] { 10, 10, 10, 10, 10, 10, 10, 10, 10, 10 }, 5812100L)]  // pmnist
    public void MlpHatParameterCountsMatchTheSeed(int[] classes, long expected)
    {
        using var network = HatUnitGates.CreateNetwork(BackboneRegistry.Mlp, [1, 28, 28], classes).Network;
        Assert.Equal(expected, network.ParameterCount);
    }

    [Fact]
    public void AlexNetHatParameterCountsMatchTheSeed()
    {
        using (var mixture = HatUnitGates.CreateNetwork(BackboneRegistry.AlexNet, [3, 32, 32], Mixture).Network)
            Assert.Equal(7140581L, mixture.ParameterCount);
        using var cifar = HatTest.CreateNetwork(BackboneRegistry.AlexNet, [3, 32, 32], Cifar).Network;
        Assert.Equal(6774702L, cifar.ParameterCount);
        // hat-test's embeddings start uniform in [0,2): every unit in use.
        var gates = (HatUnitGates)cifar.Backbone.Gating;
        Assert.All(gates.Embeddings, e => Assert.True(e.min().item<float>() >= 0 && e.max().item<float>() < 2));
        Assert.Contains("backbone.gating.efc2.weight", cifar.named_parameters().Select(p => p.name));
    }

    [Fact]
    public void GatesMultiplyEachUnitAndAreRecordedByLayer()
    {
        var (network, gating) = TinyMlp(taskCount: 2, hidden: 3);
        SetEmbedding(gating, layer: 1, task: 1, [6, -6, 6]);
        network.eval();
        using var x = randn(4, 1, 2, 2);
        var context = new ForwardContext(1).With(new HatForwardState { Scale = 400 });
        using var features = network.Features(x, context);
        Assert.Equal(["fc1", "fc2"], context.Get<HatForwardState>().Gates.Keys);
        Assert.Equal([1f, 0f, 1f], context.Get<HatForwardState>().Gates["fc2"].data<float>().ToArray());
        Assert.All(features[.., 1].data<float>().ToArray(), v => Assert.Equal(0f, v)); // unit 1 of fc2 gated off
    }

    [Fact]
    public void WeightMaskViewTakesTheMinimumOfTheUnitsAWeightConnects()
    {
        manual_seed(1);
        // A narrow AlexNet (3, 6, 12 channels; 102 dense units): fc1 reads 12 channels x 2 x 2 positions.
        var specs = Architectures.AlexNet([1, 28, 28], width: 0.05);
        var gating = new HatUnitGates();
        using var network = new MultiHeadNetwork(new Backbone(specs, gating, 1), [2]);
        var masks = specs.ToDictionary(s => s.Name, s => rand(s.Outputs));
        float G(string layer, long unit) => masks[layer][unit].item<float>();
        float View(string name, params long[] index) => gating.WeightMaskView(name, masks)![index.Select(i => TensorIndex.Single(i)).ToArray()].item<float>();

        Assert.Equal(G("c1", 2), View("c1.weight", 2, 0, 1, 1));
        Assert.Equal(Math.Min(G("c2", 5), G("c1", 1)), View("c2.weight", 5, 1, 0, 1));
        Assert.Equal(Math.Min(G("c3", 7), G("c2", 4)), View("c3.weight", 7, 4, 1, 0));
        // Flattened index 4c + p belongs to channel c of c3.
        for (var i = 0; i < 48; i += 5) Assert.Equal(Math.Min(G("fc1", 9), G("c3", i / 4)), View("fc1.weight", 9, i));
        Assert.Equal(Math.Min(G("fc2", 100), G("fc1", 3)), View("fc2.weight", 100, 3));
        Assert.Equal(masks["fc1"].data<float>().ToArray(), gating.WeightMaskView("fc1.bias", masks)!.data<float>().ToArray());
        Assert.Equal(specs[3].WeightShape, gating.WeightMaskView("fc1.weight", masks)!.shape);
        Assert.Null(gating.WeightMaskView("gating.ec1.weight", masks));
        Assert.Null(gating.WeightMaskView("last.0.weight", masks));

        var mlpGating = TinyMlp(taskCount: 1, hidden: 3).Gating;
        var mlpMasks = new Dictionary<string, Tensor> { ["fc1"] = tensor(new[] { 0.2f, 0.9f, 0.5f }), ["fc2"] = tensor(new[] { 1f, 0f, 0.7f }) };
        // First layer: only its own units count; fc2[o,i] = min(g2[o], g1[i]).
        Assert.Equal(new[] { 0.2f, 0.2f, 0.2f, 0.2f, 0.9f, 0.9f, 0.9f, 0.9f, 0.5f, 0.5f, 0.5f, 0.5f }, mlpGating.WeightMaskView("fc1.weight", mlpMasks)!.data<float>().ToArray());
        Assert.Equal(new[] { 0.2f, 0.9f, 0.5f, 0f, 0f, 0f, 0.2f, 0.7f, 0.5f }, mlpGating.WeightMaskView("fc2.weight", mlpMasks)!.data<float>().ToArray());
    }

    [Fact]
    public void RegulariserIsTheMeanGateOverUnitsEarlierTasksLeftFree()
    {
        var gates = new Dictionary<string, Tensor> { ["fc1"] = tensor(new[] { 0.2f, 0.8f }), ["fc2"] = tensor(new[] { 0.5f, 0.5f, 1f }) };
        // First task: (0.2 + 0.8 + 0.5 + 0.5 + 1) / 5 units.
        Assert.Equal(0.6, Hat.Regulariser(gates, new Dictionary<string, Tensor>()).item<float>(), 6);
        // Later tasks: free = 1 - mask_pre = [0, 1], [1, 0.5, 1]; (0.8 + 0.5 + 0.25 + 1) / (1 + 2.5).
        var cumulative = new Dictionary<string, Tensor> { ["fc1"] = tensor(new[] { 1f, 0f }), ["fc2"] = tensor(new[] { 0f, 0.5f, 0f }) };
        Assert.Equal(2.55 / 3.5, Hat.Regulariser(gates, cumulative).item<float>(), 6);
    }

    [Fact]
    public void EmbeddingGradientCompensationMatchesTheFormula()
    {
        // (smax/s) (cosh(clamp(s e, -50, 50)) + 1) / (cosh(e) + 1) with smax 400, worked out by hand:
        // s=4, e=0.5:   100 (cosh 2 + 1) / (cosh 0.5 + 1)   = 223.8267
        // s=4, e=-0.25: 100 (cosh 1 + 1) / (cosh 0.25 + 1)  = 125.1878
        // s=4, e=20:    100 (cosh 50 + 1) / (cosh 20 + 1)   = 1.068647e15 (s e = 80 clamped to 50)
        using var factor = Hat.EmbeddingGradientFactor(tensor(new[] { 0.5f, -0.25f, 20f }), scale: 4, smax: 400, thresCosh: 50);
        var values = factor.data<float>().ToArray();
        Assert.Equal(223.8267, values[0], 3);
        Assert.Equal(125.1878, values[1], 3);
        Assert.Equal(1.068647e15, values[2], 1.068647e15 * 1e-5);
        Assert.Equal(14.15376, Hat.EmbeddingGradientFactor(tensor(0.01f), scale: 400, smax: 400, thresCosh: 50).item<float>(), 3);
    }

    [Fact]
    public void TrainingStepScalesEmbeddingGradientsByTheCompensationFactor()
    {
        using var oneThread = new OneTorchThread();
        var (network, gating) = TinyMlp(taskCount: 1, hidden: 3);
        using var task = ToyTask(seed: 5, count: 8);
        // By hand: the first batch (all 8 samples) has s = 1/smax; loss = CE + lamb * mean gate; raw gradient times factor.
        const double s = 1 / 400.0;
        network.train();
        var context = new ForwardContext(0).With(new HatForwardState { Scale = s });
        using var logits = network.Forward(task.Train.X, context);
        using var loss = nn.functional.cross_entropy(logits, task.Train.Y) + 0.75 * Hat.Regulariser(context.Get<HatForwardState>().Gates, new Dictionary<string, Tensor>());
        loss.backward();
        var expected = gating.Embeddings.Select(e => (e.grad! * Hat.EmbeddingGradientFactor(e, s, 400, 50)).detach().clone()).ToArray();
        network.zero_grad();

        using var hat = new GradientProbeHat(Context(network, new TrainingOptions { Epochs = 1, BatchSize = 8 }), new HatOptions(), gating);
        hat.Train(0, task, IgnoredEvents.Instance);
        Assert.Equal(s, hat.FirstScale, 12);
        for (var l = 0; l < expected.Length; l++)
            Assert.True(expected[l].allclose(hat.FirstEmbeddingGradients[l], rtol: 1e-4, atol: 1e-7),
                $"layer {l}: expected {string.Join(", ", expected[l].data<float>().ToArray())}, got {string.Join(", ", hat.FirstEmbeddingGradients[l].data<float>().ToArray())}");
    }

    /// <summary>Keeps the embedding gradients of the first step, after HAT's adjustments.</summary>
    private sealed class GradientProbeHat(ApproachContext context, HatOptions options, HatUnitGates gates) : Hat(context, options, gates)
    {
        public Tensor[] FirstEmbeddingGradients { get; private set; } = [];
        public double FirstScale { get; private set; }

        protected override void AdjustGradients(int task)
        {
            base.AdjustGradients(task);
            if (FirstEmbeddingGradients.Length > 0) return;
            FirstScale = Scale;
            FirstEmbeddingGradients = UnitGates.Embeddings.Select(e => e.grad!.detach().clone().DetachFromDisposeScope()).ToArray();
        }
    }

    [Fact]
    public void GateSharpnessIsAnnealedFromTheBatchOffsetWithinEachEpoch()
    {
        // 1000 samples in batches of 64: the first batch starts at 0 (s = 1/smax), the last at 960 (s just below smax).
        Assert.Equal(1 / 400.0, Hat.AnnealedScale(400, 0, 1000), 12);
        Assert.Equal((400 - 1 / 400.0) * 0.96 + 1 / 400.0, Hat.AnnealedScale(400, 960, 1000), 12);

        using var oneThread = new OneTorchThread();
        var (network, gates) = TinyMlp(taskCount: 1, hidden: 3);
        using var task = ToyTask(seed: 1, count: 1000);
        using var hat = new ScaleRecordingHat(Context(network, new TrainingOptions { Epochs = 2, BatchSize = 64 }), new HatOptions(), gates);
        hat.Train(0, task, IgnoredEvents.Instance);
        Assert.Equal(32, hat.Scales.Count);
        Assert.Equal(0.0025, hat.Scales[0], 12);
        Assert.Equal(384.0001, hat.Scales[15], 9);
        Assert.Equal(0.0025, hat.Scales[16], 12); // every epoch starts soft again
        Assert.Equal(384.0001, hat.Scales[31], 9);
    }

    [Fact]
    public void WeightsBothOfWhoseUnitsAnEarlierTaskUsesDoNotChange()
    {
        using var oneThread = new OneTorchThread();
        var (network, gating) = TinyMlp(taskCount: 2, hidden: 3);
        // Task 0 uses unit 0 of each layer (gate 1 at s = smax), not units 1 and 2 (gate 0); task 1 starts with all.
        SetEmbedding(gating, 0, 0, [6, -6, -6]);
        SetEmbedding(gating, 1, 0, [6, -6, -6]);
        SetEmbedding(gating, 0, 1, [1, 1, 1]);
        SetEmbedding(gating, 1, 1, [1, 1, 1]);
        using var first = ToyTask(seed: 2, count: 256);
        using var second = ToyTask(seed: 3, count: 256);
        using var hat = new Hat(Context(network, new TrainingOptions { Epochs = 1, BatchSize = 32, LearningRate = 0.1 }), new HatOptions(), gating);

        hat.Train(0, first, IgnoredEvents.Instance);
        Assert.Equal([1f, 0f, 0f], hat.State.CumulativeMasks["fc1"].data<float>().ToArray());
        Assert.Equal([1f, 0f, 0f], hat.State.CumulativeMasks["fc2"].data<float>().ToArray());
        Assert.Equal(0f, hat.State.GradientMasks["fc2.weight"][0, 0].item<float>());
        var before = network.CopyParameters();
        network.eval();
        using var probe = randn(16, 1, 2, 2);
        using var task0Before = network.Forward(probe, new ForwardContext(0).With(new HatForwardState { Scale = 400 }));

        hat.Train(1, second, IgnoredEvents.Instance);
        var after = network.CopyParameters();
        Assert.Equal(before["backbone.fc2.weight"][0, 0].item<float>(), after["backbone.fc2.weight"][0, 0].item<float>());
        Assert.Equal(before["backbone.fc1.weight"][0].data<float>().ToArray(), after["backbone.fc1.weight"][0].data<float>().ToArray());
        Assert.Equal(before["backbone.fc1.bias"][0].item<float>(), after["backbone.fc1.bias"][0].item<float>());
        Assert.Equal(before["backbone.fc2.bias"][0].item<float>(), after["backbone.fc2.bias"][0].item<float>());
        // In general: a weight moves only as far as its gradient mask allows, and the free ones do learn.
        foreach (var (name, mask) in hat.State.GradientMasks)
        {
            using var change = (after["backbone." + name] - before["backbone." + name]).abs();
            Assert.Equal(0f, change.masked_select(mask.eq(0)).sum().item<float>());
            Assert.True(change.masked_select(mask.eq(1)).sum().item<float>() > 0, $"{name}: no free entry learned");
        }
        // So task 0 computes exactly what it did.
        network.eval();
        using var task0After = network.Forward(probe, new ForwardContext(0).With(new HatForwardState { Scale = 400 }));
        Assert.Equal(task0Before.data<float>().ToArray(), task0After.data<float>().ToArray());
        ParameterSet.DisposeAll(before);
        ParameterSet.DisposeAll(after);
    }

    /// <summary>
    /// The first three pmnist tasks (the seed's permutations and task order for seed 0), cut to 300 training, 100
    /// validation and 1000 test digits each; a 64-unit two-layer MLP, up to 30 epochs per task at lr 0.1. HAT keeps task
    /// 0's test accuracy within 1 point while it learns the next two tasks (here it keeps it exactly); fine-tuning (sgd)
    /// of the same network on the same data loses more (3.5 points here: with one head per task, permuted-MNIST
    /// forgetting comes only from the shared layers, and short runs on small tasks forget little).
    /// </summary>
    [Fact]
    public void OnThreePmnistTasksHatKeepsTaskZeroWhileSgdForgetsIt()
    {
        List<TaskData> tasks;
        using (var pmnist = ExperimentCatalog.Load("pmnist", TestSupport.DataDir, seed: 0))
            tasks = pmnist.Tasks.Take(3).Select(t => Subset(t, train: 300, valid: 100, test: 1000)).ToList();
        using var oneThread = new OneTorchThread();
        try
        {
            var options = new TrainingOptions { Epochs = 30, BatchSize = 64, LearningRate = 0.1 };
            double TaskZeroDrop<TGating>(Func<MultiHeadNetwork, TGating, Approach> create, TGating gating) where TGating : Gating
            {
                manual_seed(0);
                var network = new MultiHeadNetwork(new Backbone(Architectures.Mlp([1, 28, 28], hidden: 64, depth: 2, dropout: 0), gating, 3), [10, 10, 10]);
                using var approach = create(network, gating);
                approach.Train(0, tasks[0], IgnoredEvents.Instance);
                var learned = approach.Evaluate(0, tasks[0].Test).Accuracy;
                Assert.True(learned > 0.6, $"task 0 learned to {learned:P1} only");
                approach.Train(1, tasks[1], IgnoredEvents.Instance);
                approach.Train(2, tasks[2], IgnoredEvents.Instance);
                var kept = approach.Evaluate(0, tasks[0].Test).Accuracy;
                log.WriteLine($"{approach.GetType().Name}: task 0 {learned:P1} after it, {kept:P1} after task 2");
                return learned - kept;
            }

            var hatDrop = TaskZeroDrop((n, gates) => new Hat(Context(n, options), new HatOptions(), gates), new HatUnitGates());
            var sgdDrop = TaskZeroDrop((n, _) => new Sgd(Context(n, options)), new Gating());
            Assert.True(hatDrop <= 0.01, $"hat: task 0 accuracy dropped by {100 * hatDrop:F1} points");
            Assert.True(sgdDrop > 0.01, $"sgd: task 0 accuracy dropped by only {100 * sgdDrop:F1} points");
        }
        finally
        {
            foreach (var task in tasks) task.Dispose();
        }
    }

    /// <summary>The first digits of the (shuffled) training and validation splits and random test digits (the test split is in digit order).</summary>
    private static TaskData Subset(TaskData task, int train, int valid, int test)
    {
        Split First(Split split, int count) => split.Select(Enumerable.Range(0, count).Select(i => (long)i).ToArray());
        var testRows = new NumpyRandomState(1).Permutation(task.Test.Count).Take(test).Select(i => (long)i).ToArray();
        return new TaskData(task.Name, task.ClassCount, First(task.Train, train), First(task.Valid, valid), task.Test.Select(testRows));
    }

    [Fact]
    public void WeightInitialisationLeavesTheTaskEmbeddingsAlone()
    {
        var (network, gating) = HatUnitGates.CreateNetwork(BackboneRegistry.AlexNet, [1, 28, 28], [2, 2]);
        using var _ = network;
        var before = gating.Embeddings.Select(e => e.detach().clone()).ToArray();
        WeightInit.Parse("kaiming:xavier")!.Apply(network);
        Assert.All(before.Zip(gating.Embeddings), p => Assert.True(p.First.equal(p.Second).all().item<bool>()));
    }

    /// <summary>
    /// Runs torch on one thread while alive. The networks here are so small that threads only add synchronisation:
    /// on a busy machine one thread is about ten times faster (same results on these tests).
    /// </summary>
    internal sealed class OneTorchThread : IDisposable
    {
        private readonly int _threads = get_num_threads();

        public OneTorchThread() => set_num_threads(1);

        public void Dispose() => set_num_threads(_threads);
    }

    private sealed class ScaleRecordingHat(ApproachContext context, HatOptions options, HatUnitGates gates) : Hat(context, options, gates)
    {
        public List<double> Scales { get; } = [];

        protected override void TrainStep(Batch batch)
        {
            base.TrainStep(batch);
            Scales.Add(Scale);
        }
    }

    /// <summary>An MLP on 2x2 single-channel inputs: fc1 4 -> hidden, fc2 hidden -> hidden, no dropout, HAT gates.</summary>
    internal static GatedNetwork<HatUnitGates> TinyMlp(int taskCount, int hidden, HatEmbeddingInit init = HatEmbeddingInit.StandardNormal)
    {
        manual_seed(0);
        var specs = Architectures.Mlp([1, 2, 2], hidden: hidden, depth: 2, dropout: 0);
        var gates = new HatUnitGates(init);
        return new(new MultiHeadNetwork(new Backbone(specs, gates, taskCount), Enumerable.Repeat(2, taskCount).ToArray()), gates);
    }

    internal static ApproachContext Context(MultiHeadNetwork network, TrainingOptions options) =>
        new(network, options, CPU, new NumpyRandomState(0));

    private static void SetEmbedding(HatUnitGates gating, int layer, int task, float[] values)
    {
        using var _ = no_grad();
        gating.Embeddings[layer][task].copy_(tensor(values));
    }

    /// <summary>Two classes split by a random hyperplane through 2x2 inputs; the same samples serve as validation and test.</summary>
    internal static TaskData ToyTask(int seed, int count)
    {
        manual_seed(seed);
        var x = randn(count, 1, 2, 2);
        using var direction = randn(4);
        var y = x.flatten(1).matmul(direction).gt(0).to_type(ScalarType.Int64);
        return new TaskData($"toy{seed}", 2, new Split(x, y), new Split(x.clone(), y.clone()), new Split(x.clone(), y.clone()));
    }
}
