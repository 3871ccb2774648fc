using Retain.Approaches;
using Retain.Data;
using Retain.Networks;
using Retain.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Retain.Tests;

public class TrainingLoopTests
{
    /// <summary>
    /// Two linearly separable classes; the validation set holds the same inputs with the labels swapped, so every
    /// epoch that fits the training data better makes the validation loss worse: the best epoch is the first.
    /// </summary>
    private static TaskData ConflictingValidationTask()
    {
        manual_seed(3);
        var x = randn(200, 1, 4, 5);
        var y = (x.flatten(1).sum(1) > 0).to_type(ScalarType.Int64);
        return new TaskData("toy", 2, new Split(x, y), new Split(x.clone(), 1 - y), new Split(x.clone(), y.clone()));
    }

    private static (MultiHeadNetwork, Sgd) Build(TrainingOptions options)
    {
        manual_seed(0);
        var network = new MultiHeadNetwork(new Backbone(Architectures.Mlp([1, 4, 5], hidden: 16, depth: 1), new Gating(), 1), [2]);
        return (network, new Sgd(new ApproachContext(network, options, CPU, new NumpyRandomState(0))));
    }

    [Fact]
    public void StopsOnceTheDecayedRateIsBelowTheMinimumAndRestoresTheBestModel()
    {
        using var task = ConflictingValidationTask();
        var options = new TrainingOptions { Epochs = 50, BatchSize = 20, LearningRate = 0.1, LearningRateFactor = 10, Patience = 2, MinLearningRate = 0.005 };
        var (_, sgd) = Build(options);
        using var _ = sgd;
        var history = sgd.Train(0, task, IgnoredEvents.Instance);

        // Epoch 0 is best; epochs 1-2 use patience (lr 0.1 -> 0.01), epochs 3-4 again (0.01 -> 0.001 < 0.005: stop).
        Assert.Equal(5, history.Count);
        Assert.Equal([0.1, 0.1, 0.1, 0.01, 0.01], history.Select(e => Math.Round(e.LearningRate, 6)));
        Assert.True(history[0].Improved);
        Assert.All(history.Skip(1), e => Assert.False(e.Improved));
        Assert.True(history[^1].TrainAccuracy > history[0].TrainAccuracy, "training went on after the best epoch");

        var restored = sgd.Evaluate(0, task.Valid);
        Assert.Equal(history[0].ValidLoss, restored.Loss, 5);
        Assert.Equal(history[0].ValidAccuracy, restored.Accuracy, 10);
    }

    [Fact]
    public void RunsAllEpochsWhileValidationImproves()
    {
        using var task = ConflictingValidationTask();
        using var honest = task with { Valid = new Split(task.Train.X.clone(), task.Train.Y.clone()) };
        var (_, sgd) = Build(new TrainingOptions { Epochs = 4, BatchSize = 20, LearningRate = 0.05 });
        using var _ = sgd;
        var history = sgd.Train(0, honest, IgnoredEvents.Instance);
        Assert.Equal(4, history.Count);
        Assert.True(history[^1].ValidLoss < history[0].ValidLoss);
    }
}

public class CurriculumLoopTests
{
    /// <summary>Records, per epoch, how many samples were trained and the largest complexity among them.</summary>
    private sealed class RecordingApproach(ApproachContext context) : Approach(context)
    {
        public List<(int Samples, float MaxComplexity)> Epochs { get; } = [];

        protected override void PrepareEpoch(int task, int epoch, TaskData data, float[] trainComplexity)
        {
            Assert.Equal(data.Train.Count, trainComplexity.Length); // the unfiltered set
            Epochs.Add((0, 0));
        }

        protected override void TrainStep(Batch batch)
        {
            var (n, max) = Epochs[^1];
            Epochs[^1] = (n + (int)batch.X.shape[0], Math.Max(max, batch.Complexity.max().item<float>()));
            base.TrainStep(batch);
        }

        protected override void SaveState(StateDict state) { }
        protected override void LoadState(StateDict state) { }
    }

    [Fact]
    public void EachEpochTrainsOnlyOnSamplesBelowTheThreshold()
    {
        manual_seed(5);
        // Images of growing texture: complexity grows with the noise amplitude.
        var x = cat(Enumerable.Range(0, 40).Select(i => randn(1, 1, 12, 12) * (i / 40f)).ToArray());
        var y = arange(40).remainder(2);
        using var task = new TaskData("texture", 2, new Split(x, y), new Split(x.clone(), y.clone()), new Split(x.clone(), y.clone()));
        var complexity = Curriculum.EntropyComplexity.Compute(x);
        var net = new MultiHeadNetwork(new Backbone(Architectures.Mlp([1, 12, 12], hidden: 4, depth: 1), new Gating(), 1), [2]);
        var options = new TrainingOptions { Epochs = 3, BatchSize = 8, Curriculum = Curriculum.CurriculumSchedule.Parse("linear:2:0.5") };
        using var approach = new RecordingApproach(new ApproachContext(net, options, CPU, new NumpyRandomState(0)));
        approach.Train(0, task, IgnoredEvents.Instance);

        // Thresholds 0.5, 0.75, 1 at epochs 0, 1, 2.
        Assert.Equal(complexity.Count(c => c <= 0.5f), approach.Epochs[0].Samples);
        Assert.True(approach.Epochs[0].MaxComplexity <= 0.5f);
        Assert.Equal(complexity.Count(c => c <= 0.75f), approach.Epochs[1].Samples);
        Assert.Equal(40, approach.Epochs[2].Samples);
        Assert.True(approach.Epochs[0].Samples < approach.Epochs[1].Samples);
    }
}
