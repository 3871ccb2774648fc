using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Retain.Networks;

/// <summary>
/// PackNet's ownership of weights (Mallya and Lazebnik, CVPR 2018): every weight of every block belongs to one task,
/// or to none. A forward pass of task t uses the weights of tasks 0..t and no later task's, so what later tasks add never
/// changes task t's output. Ownership per weight is an int16 buffer of the network, <c>owner_&lt;block&gt;</c> (0: free;
/// t + 1: task t), saved with it: a trained network cannot be evaluated without it. Weights are free before the first
/// task and once pruning releases them, and released weights are zero, so a free weight adds nothing to any task's
/// output (before the first task every weight is free, and the initialised network answers, as any other).
/// Biases are not owned: they are shared by every task (the approach trains them with the first task only).
/// </summary>
public sealed class PackNetMasks() : Gating("packnet")
{
    private IReadOnlyList<LayerSpec> _layers = [];

    /// <summary>Each task sees its own weights and its predecessors'.</summary>
    public override bool FeaturesDependOnTask => true;

    /// <summary>The tasks the network was built for (one owner value each).</summary>
    public int TaskCount { get; private set; }

    public override void Attach(Backbone backbone, int taskCount)
    {
        if (taskCount >= short.MaxValue) throw new RetainException($"packnet: at most {short.MaxValue - 1} tasks (got {taskCount})");
        (_layers, TaskCount) = (backbone.Specs, taskCount);
        foreach (var spec in _layers) register_buffer(OwnerName(spec), zeros(spec.WeightShape, ScalarType.Int16));
    }

    private static string OwnerName(LayerSpec spec) => "owner_" + spec.Name;

    /// <summary>Who owns each weight of block <paramref name="layer"/> (0 free, t + 1 task t); looked up, so it follows the network to its device.</summary>
    public Tensor Owner(int layer) => get_buffer(OwnerName(_layers[layer]))!;

    /// <summary>The weight and bias of a block's layer (a Linear or a Conv2d).</summary>
    public static (Parameter Weight, Parameter Bias) Parameters(Module layer) => layer switch
    {
        Linear linear => (linear.weight!, linear.bias!),
        Conv2d conv => (conv.weight!, conv.bias!),
        _ => throw new InvalidOperationException($"packnet masks linear and convolution blocks, not {layer.GetType().Name}"),
    };

    public int LayerCount => _layers.Count;

    /// <summary>The block's linear map with only the weights task <paramref name="context"/>.Task may use, then ReLU, dropout (and pooling).</summary>
    public override Tensor Block(Backbone backbone, int index, Tensor input, ForwardContext context)
    {
        var spec = backbone.Specs[index];
        var (weight, bias) = Parameters(backbone.Layer(index));
        using var visible = Owner(index).le(context.Task + 1);
        using var masked = weight * visible;
        var flat = Backbone.FlattenFor(spec, input);
        using var preActivation = spec.IsConvolution ? functional.conv2d(flat, masked, bias) : functional.linear(flat, masked, bias);
        return backbone.Activate(index, preActivation);
    }

    /// <summary>Every free weight goes to task <paramref name="task"/>, which trains it (the authors' make_finetuning_mask).</summary>
    public void Assign(int task)
    {
        using var _ = no_grad();
        for (var l = 0; l < LayerCount; l++)
        {
            var owner = Owner(l);
            owner.masked_fill_(owner.eq(0), (short)(task + 1));
        }
    }

    /// <summary>
    /// Releases the <paramref name="ratio"/> share of each block's weights that task <paramref name="task"/> owns, those of
    /// smallest magnitude (rounded to the nearest count; ties by position), and sets them to zero. Returns how many
    /// weights were released in all.
    /// </summary>
    public long Prune(Backbone backbone, int task, double ratio)
    {
        long released = 0;
        for (var l = 0; l < LayerCount; l++) released += Prune(Parameters(backbone.Layer(l)).Weight, Owner(l), task, ratio);
        return released;
    }

    /// <summary>One block of <see cref="Prune(Backbone, int, double)"/>: <paramref name="weight"/> and <paramref name="owner"/> are changed in place.</summary>
    public static long Prune(Tensor weight, Tensor owner, int task, double ratio)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var owned = owner.view(-1).eq(task + 1).nonzero().squeeze(1);
        var count = (long)Math.Round(ratio * owned.shape[0]);
        if (count == 0) return 0;
        var order = weight.view(-1).index_select(0, owned).abs().sort(stable: true).Indices;
        var smallest = owned.index_select(0, order.narrow(0, 0, count));
        owner.view(-1).index_fill_(0, smallest, 0);
        weight.view(-1).index_fill_(0, smallest, 0);
        return count;
    }

    /// <summary>1 where block <paramref name="layer"/>'s weight belongs to task <paramref name="task"/> (what its training may change), else 0.</summary>
    public Tensor Trainable(int layer, int task) => Owner(layer).eq(task + 1);

    /// <summary>The share of all blocks' weights that task <paramref name="task"/> owns.</summary>
    public double Share(int task)
    {
        using var _ = NewDisposeScope();
        long owned = 0, all = 0;
        for (var l = 0; l < LayerCount; l++)
        {
            owned += Owner(l).eq(task + 1).sum().item<long>();
            all += Owner(l).numel();
        }
        return (double)owned / all;
    }

    /// <summary>PackNet's network on <paramref name="backbone"/>: its plain blocks, every weight masked by task.</summary>
    public static GatedNetwork<PackNetMasks> CreateNetwork(BackboneArchitecture backbone, int[] inputSize, IReadOnlyList<int> classCounts)
    {
        var masks = new PackNetMasks();
        return new(NetworkFactory.Create(backbone, inputSize, classCounts, masks), masks);
    }
}
