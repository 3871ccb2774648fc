using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Retain.Networks;

/// <summary>
/// A backbone plus linear output heads: one per task in the task-incremental setting (the task id picks the head), or
/// one shared by every task in the domain- and class-incremental ones (<see cref="HeadLayout"/>). Parameters are named
/// <c>backbone.*</c> and <c>last.&lt;head&gt;.*</c> (the seed's name for the heads).
/// </summary>
public sealed class MultiHeadNetwork : Module
{
    public const string HeadPrefix = "last.";

    public Backbone Backbone { get; }
    private readonly ModuleList<Linear> _heads = new();

    /// <summary>One head per task, of <paramref name="classCounts"/> outputs (the seed's network).</summary>
    public MultiHeadNetwork(Backbone backbone, IReadOnlyList<int> classCounts) : this(backbone, HeadLayout.PerTask(classCounts)) { }

    public MultiHeadNetwork(Backbone backbone, HeadLayout heads) : base("network")
    {
        Backbone = backbone;
        Heads = heads;
        foreach (var n in heads.HeadSizes) _heads.Add(Linear(backbone.FeatureSize, n));
        register_module("backbone", backbone);
        register_module("last", _heads);
    }

    /// <summary>Where each task's outputs lie on the heads.</summary>
    public HeadLayout Heads { get; }

    public int TaskCount => Heads.TaskCount;

    /// <summary>The number of outputs task <paramref name="task"/> is trained and tested on (its head's, or its share of the shared head).</summary>
    public int ClassCount(int task) => Heads.Of(task).Outputs;

    /// <summary>Logits of task <paramref name="task"/>'s head. Other heads do not affect them, so they are not computed.</summary>
    public Tensor Forward(Tensor x, int task) => Forward(x, new ForwardContext(task));

    public Tensor Forward(Tensor x, ForwardContext context)
    {
        using var features = Backbone.Forward(x, context);
        return Backbone.Gating.Logits(this, features, context);
    }

    /// <summary>
    /// Logits for a batch trained or tested as task <paramref name="task"/> whose samples may come from other tasks
    /// (<paramref name="taskIds"/>, null when they do not): with one head per task each row through its own task's head
    /// (<see cref="Forward(Tensor, Tensor)"/>); with a shared head every row through task <paramref name="task"/>'s
    /// outputs, which in class-IL cover the classes of every task so far.
    /// </summary>
    public Tensor Forward(Tensor x, Tensor? taskIds, int task) =>
        taskIds is null || Heads.Shared ? Forward(x, task) : Forward(x, taskIds);

    /// <summary>
    /// Logits for a batch whose samples may belong to different tasks (<paramref name="taskIds"/>: one int64 per
    /// sample): each row comes from its own task's head, padded with -inf up to the widest head in the batch, so
    /// cross-entropy and argmax work row by row. A batch of one task takes the single-task path; otherwise the samples
    /// are grouped by task (as Avalanche's <c>MultiTaskModule</c>), and the backbone runs once for the whole batch
    /// when its features do not depend on the task, else once per group.
    /// </summary>
    public Tensor Forward(Tensor x, Tensor taskIds)
    {
        var tasks = taskIds.unique().Item1.cpu().data<long>().ToArray();
        if (tasks.Length == 1) return Forward(x, (int)tasks[0]);
        var width = tasks.Max(t => ClassCount((int)t));
        var logits = full(x.shape[0], width, float.NegativeInfinity, device: x.device);
        using var shared = Backbone.Gating.FeaturesDependOnTask ? null : Backbone.Forward(x, new ForwardContext((int)tasks[0]));
        foreach (var task in tasks)
        {
            using var rows = taskIds.eq(task).nonzero().squeeze(1);
            using var own = shared is null
                ? Forward(x.index_select(0, rows), (int)task)
                : Backbone.Gating.Logits(this, shared.index_select(0, rows), new ForwardContext((int)task));
            logits.index_copy_(0, rows, nn.functional.pad(own, [0, width - own.shape[1]], value: float.NegativeInfinity));
        }
        return logits;
    }

    /// <summary>The shared features the heads read (LFL's distillation target).</summary>
    public Tensor Features(Tensor x, ForwardContext context) => Backbone.Forward(x, context);

    /// <summary>Task <paramref name="task"/>'s outputs on <paramref name="features"/>: its head, or the outputs it uses of the shared head.</summary>
    public Tensor Head(int task, Tensor features)
    {
        var (head, outputs) = Heads.Of(task);
        if (outputs == Heads.HeadSizes[head]) return _heads[head].forward(features);
        using var all = _heads[head].forward(features);
        return all.narrow(1, 0, outputs);
    }

    /// <summary>A copy of every parameter's current value, by name (detached, same device).</summary>
    public Dictionary<string, Tensor> CopyParameters()
    {
        using var _ = no_grad();
        var copies = new Dictionary<string, Tensor>();
        foreach (var (name, p) in named_parameters())
        {
            // The detached view in a using variable, so that it stays referenced while clone() reads it (see TorchRandom).
            using var detached = p.detach();
            copies[name] = detached.clone();
        }
        return copies;
    }

    /// <summary>Overwrites every parameter with the value of the same name in <paramref name="values"/>.</summary>
    public void LoadParameters(IReadOnlyDictionary<string, Tensor> values)
    {
        using var _ = no_grad();
        foreach (var (name, p) in named_parameters()) p.copy_(values[name]);
    }

    public long ParameterCount => parameters().Sum(p => p.numel());

    /// <summary>
    /// The seed's model report, one line per parameter tensor (name, shape, count); the heads are summed into one
    /// line because there is one per task.
    /// </summary>
    public IReadOnlyList<(string Name, string Shape, long Count)> Report()
    {
        var lines = named_parameters()
            .Where(p => !p.name.StartsWith(HeadPrefix, StringComparison.Ordinal))
            .Select(p => (p.name, "[" + string.Join("x", p.parameter.shape) + "]", p.parameter.numel()))
            .ToList();
        lines.Add(($"{HeadPrefix}* ({_heads.Count} head{(_heads.Count == 1 ? "" : "s")})", "", named_parameters()
            .Where(p => p.name.StartsWith(HeadPrefix, StringComparison.Ordinal)).Sum(p => p.parameter.numel())));
        return lines;
    }
}

/// <summary>Builds a backbone's plain network (the gating strategies build their own through the backbone's sizing).</summary>
internal static class NetworkFactory
{
    public static MultiHeadNetwork Create(BackboneArchitecture backbone, int[] inputSize, IReadOnlyList<int> classCounts, Gating? gating = null) =>
        Create(backbone, new NetworkShape(inputSize, classCounts), gating);

    /// <summary>
    /// The backbone's network for <paramref name="shape"/>, with its heads laid out as the shape says. A gating of the
    /// backbone's blocks (PackNet's) needs a backbone declared as blocks; without one, the backbone builds itself.
    /// </summary>
    public static MultiHeadNetwork Create(BackboneArchitecture backbone, NetworkShape shape, Gating? gating = null) =>
        new(gating is null
            ? backbone.CreatePlain(shape.InputSize, shape.ClassCounts.Count)
            : new Backbone(backbone.Layers(shape.InputSize), gating, shape.ClassCounts.Count), shape.Heads);
}

/// <summary>
/// What a network is built for: each input's shape (<c>[C, H, W]</c> for images), each task's number of classes, and
/// how their outputs lie on the heads (one head per task unless told otherwise; approaches that gate the backbone per
/// task always have one).
/// </summary>
public sealed record NetworkShape(int[] InputSize, IReadOnlyList<int> ClassCounts)
{
    public HeadLayout Heads { get; init; } = HeadLayout.PerTask(ClassCounts);
}

/// <summary>A network and the gating strategy that gates its backbone (the same object, typed).</summary>
public sealed record GatedNetwork<TGating> where TGating : Gating
{
    public GatedNetwork(MultiHeadNetwork network, TGating gating)
    {
        if (!ReferenceEquals(network.Backbone.Gating, gating))
            throw new ArgumentException("the gating strategy is not the one that gates the network's backbone", nameof(gating));
        (Network, Gating) = (network, gating);
    }

    public MultiHeadNetwork Network { get; }
    public TGating Gating { get; }

    public void Deconstruct(out MultiHeadNetwork network, out TGating gating) => (network, gating) = (Network, Gating);
}
