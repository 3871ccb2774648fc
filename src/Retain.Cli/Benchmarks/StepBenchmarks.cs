using System.Diagnostics;
using Retain.Approaches;
using Retain.Curriculum;
using Retain.Data;
using Retain.Networks;
using Retain.Training;
using static TorchSharp.torch;

namespace Retain.Benchmarks;

/// <summary>An approach's training steps on the MLP, timed one by one: how many were timed and the median seconds per step.</summary>
internal sealed record StepTiming(string Approach, int Batch, int Steps, double SecondsPerStep);

/// <summary>The matrix products of one MLP training step, timed alone, and how many floating-point operations they are.</summary>
internal sealed record GemmFloor(double Seconds, double Flops)
{
    public double Gflops => Flops / Seconds / 1e9;
}

/// <summary>
/// Training steps as a run does them (for <c>retain bench mlp-step</c> and <c>dwa-step</c>): the approach itself trains
/// one epoch of random pmnist-shaped data (batch gather, forward, loss, backward, the approach's gradient hooks,
/// clipping, update, the run's step event), and each step is timed from the end of the one before it.
/// </summary>
internal static class StepBenchmarks
{
    /// <summary>The inputs the MLP benchmarks use: MNIST's 28x28 grey images.</summary>
    private static readonly int[] InputSize = [1, 28, 28];

    /// <param name="approach">A registered approach, run with its defaults on the MLP (a curriculum, if it has one, admits every sample).</param>
    /// <param name="classCounts">One head per task; task 0 is trained.</param>
    /// <param name="steps">Steps timed (after a warm-up of a tenth as many, at least 3).</param>
    /// <param name="firstStep">Called once, when the first step has finished (the load process of <c>wait-policy</c> says it is running).</param>
    public static StepTiming ApproachStep(string approach, int[] classCounts, int steps, int seed = 0, Action? firstStep = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        var setup = ApproachRegistry.Get(approach).Spec.WithDefaults(BackboneRegistry.Mlp);
        var defaults = setup.TrainingDefaults(BackboneRegistry.Mlp);
        var training = setup.ResolveTraining(defaults with { Epochs = 1 });
        // An approach's spec may add a curriculum when it resolves the training (dwa's scales with the epochs), so the
        // curriculum that admits every sample replaces it after that: every step of the epoch is then a full batch.
        if (training.Curriculum is not null) training = training with { Curriculum = CurriculumSchedule.Parse("linear:1:1") };
        manual_seed(seed);
        var prepared = setup.Prepare(BackboneRegistry.Mlp, new NetworkShape(InputSize, classCounts));
        using var trained = prepared.Create(new ApproachContext(prepared.Network, training, CPU, new NumpyRandomState((uint)seed)));
        var warmUp = Math.Max(3, steps / 10);
        using var task = RandomTask(classCounts[0], training.BatchSize * (warmUp + steps + 1), training.BatchSize, seed);
        var clock = new StepClock(firstStep);
        trained.Train(0, task, clock);
        var timed = clock.Timed(skip: warmUp);
        return new StepTiming(approach, training.BatchSize, timed.Length, timed[timed.Length / 2]);
    }

    /// <summary>
    /// Where sgd's MLP step spends its time: the step's parts as the base loop calls them (batch gather, forward,
    /// loss with its host read, backward, clipping, the optimiser's update), each timed on its own, medians of
    /// <paramref name="steps"/> steps after a warm-up.
    /// </summary>
    public static IReadOnlyList<(string Phase, double Seconds)> Phases(int steps, int seed = 0)
    {
        const int batch = 64;
        manual_seed(seed);
        using var network = NetworkFactory.Create(BackboneRegistry.Mlp, InputSize, [10]);
        network.train();
        var parameters = network.parameters().ToArray();
        using var optimizer = new SgdOptimizer().Create(parameters, 0.05);   // the base loop's SGD
        using var images = randn(100 * batch, InputSize[0], InputSize[1], InputSize[2]);
        using var labels = randint(0, 10, [100 * batch]);
        // One epoch's order, drawn once as the base loop draws it; each step gathers its own batch of it.
        var order = new NumpyRandomState((uint)seed).Permutation(100 * batch);
        string[] names = ["gather", "forward", "loss", "backward", "clip", "update"];
        var times = names.Select(_ => new List<double>()).ToArray();
        var clock = new Stopwatch();
        for (var step = 0; step < steps + 10; step++)
        {
            using var scope = NewDisposeScope();
            var marks = new double[names.Length];
            clock.Restart();
            var start = step % 100 * batch;
            var rows = order[start..(start + batch)].Select(i => (long)i).ToArray();
            using var index = tensor(rows);
            var x = images.index_select(0, index);
            var y = labels.index_select(0, index);
            marks[0] = clock.Elapsed.TotalSeconds;
            var logits = network.Forward(x, null, 0);
            marks[1] = clock.Elapsed.TotalSeconds;
            var loss = nn.functional.cross_entropy(logits, y);
            _ = loss.item<float>();
            marks[2] = clock.Elapsed.TotalSeconds;
            Gradients.Backward(loss, parameters);
            marks[3] = clock.Elapsed.TotalSeconds;
            Gradients.ClipNorm(parameters, 10000);
            marks[4] = clock.Elapsed.TotalSeconds;
            optimizer.step();
            marks[5] = clock.Elapsed.TotalSeconds;
            if (step < 10) continue;
            for (var i = 0; i < names.Length; i++) times[i].Add(marks[i] - (i == 0 ? 0 : marks[i - 1]));
        }
        return [.. names.Select((name, i) => (name, times[i].Order().ElementAt(times[i].Count / 2)))];
    }

    /// <summary>Random standard-normal images with uniform labels; validation and test sets of one batch.</summary>
    private static TaskData RandomTask(int classes, int trainCount, int batch, int seed)
    {
        manual_seed(seed);
        Split Random(int count) => new(randn(count, InputSize[0], InputSize[1], InputSize[2]), randint(0, classes, [count]));
        return new TaskData("random", classes, Random(trainCount), Random(batch), Random(batch));
    }

    /// <summary>
    /// The GEMM floor of an MLP training step: the matrix products a step cannot avoid, timed alone on the same shapes
    /// and in the same form as autograd computes them (forward <c>x·Wᵀ</c> for every layer and head; backward
    /// <c>xᵀ·g</c> for every weight and <c>g·W</c> for every layer but the first, whose input needs no gradient).
    /// Median of <paramref name="repetitions"/>.
    /// </summary>
    /// <param name="layers">Each dense layer's (inputs, outputs), head last.</param>
    public static GemmFloor Floor(IReadOnlyList<(int Inputs, int Outputs)> layers, int batch, int repetitions = 101)
    {
        using var scope = NewDisposeScope();
        var weights = layers.Select(l => randn(l.Outputs, l.Inputs)).ToArray();
        var inputs = layers.Select(l => randn(batch, l.Inputs)).ToArray();
        var gradients = layers.Select(l => randn(batch, l.Outputs)).ToArray();
        var seconds = Benchmarks.Median(repetitions, () =>
        {
            using var step = NewDisposeScope();
            for (var i = 0; i < layers.Count; i++) inputs[i].mm(weights[i].t());
            for (var i = layers.Count - 1; i >= 0; i--)
            {
                inputs[i].t().mm(gradients[i]);
                if (i > 0) gradients[i].mm(weights[i]);
            }
        });
        var flops = layers.Select((l, i) => 2.0 * batch * l.Inputs * l.Outputs * (i == 0 ? 2 : 3)).Sum();
        return new GemmFloor(seconds, flops);
    }

    /// <summary>The dense layers of a network in order, head last, as (inputs, outputs).</summary>
    public static IReadOnlyList<(int Inputs, int Outputs)> DenseLayers(MultiHeadNetwork network) =>
        network.parameters().Where(p => p.dim() == 2).Select(p => ((int)p.shape[1], (int)p.shape[0])).ToArray();

    /// <summary>The sgd approach's steps on the MLP, one epoch after another, until the process is stopped (the load of <c>wait-policy</c>).</summary>
    public static void TrainUntilStopped(Action firstStep)
    {
        for (var seed = 0; ; seed++)
        {
            ApproachStep("sgd", [10], steps: 500, seed, seed == 0 ? firstStep : null);
        }
    }

    /// <summary>The time between consecutive step events of one epoch (the first step of an epoch also holds the epoch's preparation, so it is not counted).</summary>
    private sealed class StepClock(Action? firstStep) : ITrainingEvents
    {
        private readonly Stopwatch _clock = new();
        private readonly List<double> _steps = [];

        public void StepFinished()
        {
            if (_clock.IsRunning) _steps.Add(_clock.Elapsed.TotalSeconds);
            else if (firstStep is not null) firstStep();
            _clock.Restart();
        }

        public void EpochFinished(EpochRecord epoch) => _clock.Reset();

        /// <summary>The step times after the first <paramref name="skip"/>, in ascending order.</summary>
        public double[] Timed(int skip) => [.. _steps.Skip(skip).Order()];
    }
}
