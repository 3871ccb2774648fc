using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Retain.Approaches;

/// <summary>
/// A small classifier of the task (<c>--task_predictor classifier</c>, docs/task-agnostic.md) from what DWA's context
/// processor reads of a sample: the stem's features, standardised with the training set's mean and deviation, one hidden
/// layer of <see cref="Hidden"/> ReLU units, one output per task. DWA retrains it from scratch after every task on the
/// stored samples of every task so far, as the stem maps them then, so it describes the features the network has now.
/// <para>
/// Why the stem's features and not the embedding the processor makes of them: the processor is trained to generate
/// masks for the current task, not to keep tasks apart, and it maps later tasks' inputs close together. Measured on
/// pmnist at 20 epochs (seed 0), a classifier over the embedding named the task of 72% of the test samples, the same
/// classifier over the stem's features of 100% (docs/task-agnostic.md). It is trained full-batch (AdamW, <see cref="Steps"/>
/// steps) from weights drawn with a generator of its own, so it leaves the global generator, and with it DWA's
/// training, untouched.
/// </para>
/// </summary>
internal sealed class DwaTaskClassifier : IDisposable
{
    public const int Hidden = 64;
    public const int Steps = 300;
    public const double LearningRate = 0.01, WeightDecay = 1e-3;

    private readonly Dictionary<string, Tensor> _tensors;

    private DwaTaskClassifier(Dictionary<string, Tensor> tensors) => _tensors = tensors;

    /// <summary>Outputs: how many tasks it can name (the benchmark's tasks; training uses those it has samples of).</summary>
    public int Outputs => (int)_tensors["w2"].shape[1];

    /// <summary>
    /// Trains a classifier on <paramref name="features"/>[t] (N_t x n, on one device), the samples of task t, with
    /// <paramref name="outputs"/> outputs (at least as many as tasks given); <paramref name="seed"/> draws its initial weights.
    /// </summary>
    public static DwaTaskClassifier Train(IReadOnlyList<Tensor> features, int outputs, long seed)
    {
        if (outputs < features.Count) throw new ArgumentOutOfRangeException(nameof(outputs), outputs, $"fewer outputs than the {features.Count} tasks given");
        using var scope = NewDisposeScope();
        using var gradients = enable_grad();   // callers predict under no_grad, and a checkpoint may be loaded under it
        var device = features[0].device;
        var x = cat(features.ToArray(), 0);
        var y = cat(features.Select((f, t) => full(f.shape[0], t, ScalarType.Int64, device: device)).ToArray());
        var mean = x.mean([0]);
        var z = x - mean;
        x.Dispose();   // the stem's features are wide (up to 10,816 on AlexNet): keep one N x n copy
        // A feature (a ReLU unit) that fires in a few stored samples only has a tiny deviation, and dividing by it
        // would blow up a test sample on which it fires: each deviation is at least a hundredth of their mean.
        Tensor deviation;
        using (var squares = z.square()) deviation = squares.mean([0]).sqrt();
        var scale = deviation.clamp_min(Math.Max(1e-6, 0.01 * deviation.mean().ToDouble()));
        z.div_(scale);

        // Xavier-uniform weights, zero biases, from the classifier's own generator.
        using var generator = new Generator((ulong)seed, device);
        Parameter Uniform(long fanIn, long fanOut) =>
            new((rand([fanIn, fanOut], generator: generator, device: device) * 2 - 1) * Math.Sqrt(6.0 / (fanIn + fanOut)));
        var featureCount = z.shape[1];
        Parameter[] parameters = [Uniform(featureCount, Hidden), new(zeros(Hidden, device: device)), Uniform(Hidden, outputs), new(zeros(outputs, device: device))];
        var tasks = features.Count;
        using (var optimizer = optim.AdamW(parameters, LearningRate, weight_decay: WeightDecay))
        {
            for (var step = 0; step < Steps; step++)
            {
                using var stepScope = NewDisposeScope();
                optimizer.zero_grad();
                var logits = Logits(z, parameters[0], parameters[1], parameters[2], parameters[3]).narrow(1, 0, tasks);
                nn.functional.cross_entropy(logits, y).backward();
                optimizer.step();
            }
        }
        // A feature silent in every stored sample was 0 throughout training, so its weights kept their random start:
        // they are zeroed, so that it counts for nothing when it fires on a test sample.
        using (no_grad()) parameters[0].mul_(deviation.gt(0).unsqueeze(1).to_type(parameters[0].dtype));
        var tensors = new Dictionary<string, Tensor>
        {
            ["mean"] = mean, ["scale"] = scale,
            ["w1"] = parameters[0].detach().clone(), ["b1"] = parameters[1].detach().clone(),
            ["w2"] = parameters[2].detach().clone(), ["b2"] = parameters[3].detach().clone(),
        };
        foreach (var t in tensors.Values) t.DetachFromDisposeScope();
        return new DwaTaskClassifier(tensors);
    }

    private static Tensor Logits(Tensor standardised, Tensor w1, Tensor b1, Tensor w2, Tensor b2) =>
        nn.functional.relu(standardised.matmul(w1) + b1).matmul(w2) + b2;

    /// <summary>The most likely of the first <paramref name="tasks"/> tasks for each sample's features (B x n): int64, B.</summary>
    public Tensor Predict(Tensor features, int tasks)
    {
        using var scope = NewDisposeScope();
        return TaskLogits(features, tasks).argmax(1).MoveToOuterDisposeScope();
    }

    /// <summary>log p(task | features) over the first <paramref name="tasks"/> tasks for each sample's features (B x n): B x tasks.</summary>
    public Tensor LogProbabilities(Tensor features, int tasks)
    {
        using var scope = NewDisposeScope();
        return LogProbabilities(TaskLogits(features, tasks)).MoveToOuterDisposeScope();
    }

    /// <summary><see cref="LogProbabilities(Tensor, int)"/> from the classifier's <see cref="TaskLogits"/>.</summary>
    public static Tensor LogProbabilities(Tensor taskLogits) => nn.functional.log_softmax(taskLogits, 1);

    /// <summary>The classifier's raw scores of the first <paramref name="tasks"/> tasks for each sample's features (B x n): B x tasks, in the caller's scope.</summary>
    public Tensor TaskLogits(Tensor features, int tasks)
    {
        var t = _tensors.ToDictionary(kv => kv.Key, kv => kv.Value.to(features.device));
        var logits = Logits((features - t["mean"]) / t["scale"], t["w1"], t["b1"], t["w2"], t["b2"]);
        return logits.narrow(1, 0, Math.Min(tasks, Outputs));
    }

    /// <summary>Its tensors by name, the form a checkpoint's named tensors take (kept, not copied).</summary>
    public IReadOnlyDictionary<string, Tensor> Tensors => _tensors;

    /// <summary>A classifier from <see cref="Tensors"/> as a checkpoint gives them back (kept, not copied), or null without.</summary>
    public static DwaTaskClassifier? FromTensors(Dictionary<string, Tensor>? tensors) => tensors is null ? null : new(tensors);

    public void Dispose()
    {
        foreach (var t in _tensors.Values) t.Dispose();
    }
}
