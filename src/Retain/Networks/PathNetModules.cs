using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Retain.Networks;

/// <summary>
/// PathNet's modular backbone (Fernando et al., 2017; the seed's alexnet_pathnet, and the same construction on the
/// MLP): every block exists as M independent modules, each a copy of the block narrowed to 0.258 of its units; a
/// path picks N modules per block, and the block's output is the sum of their outputs (each module's output is
/// activated, dropped out and pooled on its own; a module listed twice counts twice). Each task has a path, T x L x N
/// module indices (-1 until set); a forward pass of task t follows task t's path (modules 0..N-1 while it has none). Parameters:
/// <c>backbone.&lt;block&gt;.&lt;module&gt;.*</c>, heads <c>last.&lt;task&gt;.*</c> reading the 0.258-wide features.
/// </summary>
public sealed class PathNetModules : Gating
{
    /// <summary>The seed's module width: 16 modules of 0.258 of AlexNet have about as many weights as AlexNet.</summary>
    public const double ModuleWidth = 0.258;

    private readonly List<ModuleList<Module>> _modules = [];
    private int[][][] _paths = [];

    public PathNetModules(int moduleCount, int activeCount) : base("pathnet")
    {
        if (moduleCount < 1 || activeCount < 1)
            throw new RetainException($"pathnet needs at least one module per layer and one on a path (got --modules {moduleCount}, --active {activeCount})");
        ModuleCount = moduleCount;
        ActiveCount = activeCount;
    }

    /// <summary>M: modules per block.</summary>
    public int ModuleCount { get; }
    /// <summary>N: modules per block on a path.</summary>
    public int ActiveCount { get; }
    /// <summary>L: blocks.</summary>
    public int LayerCount => _modules.Count;

    /// <summary>PathNet's network on <paramref name="backbone"/>: every block as <paramref name="moduleCount"/> modules of the backbone's PathNet width.</summary>
    public static GatedNetwork<PathNetModules> CreateNetwork(BackboneArchitecture backbone, int[] inputSize, IReadOnlyList<int> classCounts, int moduleCount, int activeCount)
    {
        var specs = backbone.Layers(inputSize, backbone.PathNetModuleWidth);
        var modules = new PathNetModules(moduleCount, activeCount);
        return new(new MultiHeadNetwork(new Backbone(specs, modules, classCounts.Count), classCounts), modules);
    }

    public override Module CreateLayer(LayerSpec spec)
    {
        var modules = new ModuleList<Module>(Enumerable.Range(0, ModuleCount).Select(_ => base.CreateLayer(spec)).ToArray());
        _modules.Add(modules);
        return modules;
    }

    public override void Attach(Backbone backbone, int taskCount) =>
        _paths = Enumerable.Range(0, taskCount)
            .Select(_ => Enumerable.Range(0, LayerCount).Select(_ => Enumerable.Repeat(-1, ActiveCount).ToArray()).ToArray())
            .ToArray();

    /// <summary>Each task follows its own path.</summary>
    public override bool FeaturesDependOnTask => true;

    /// <summary>Module <paramref name="index"/> of block <paramref name="layer"/>.</summary>
    public Module Module(int layer, int index) => _modules[layer][index];

    /// <summary>A copy of task <paramref name="task"/>'s path (L x N module indices; -1 while it has none).</summary>
    public int[][] PathOf(int task) => _paths[task].Select(layer => (int[])layer.Clone()).ToArray();

    /// <summary>Makes task <paramref name="task"/>'s forward pass follow <paramref name="path"/> (copied).</summary>
    public void SetPath(int task, int[][] path)
    {
        if (path.Length != LayerCount || path.Any(layer => layer.Length != ActiveCount || layer.Any(m => m < 0 || m >= ModuleCount)))
            throw new ArgumentException($"a path is {LayerCount} x {ActiveCount} module indices in 0..{ModuleCount - 1}", nameof(path));
        _paths[task] = path.Select(layer => (int[])layer.Clone()).ToArray();
    }

    /// <summary>Every task's path (T x L x N, -1 where a task has none yet), for a checkpoint.</summary>
    public int[][][] Paths => Enumerable.Range(0, _paths.Length).Select(PathOf).ToArray();

    /// <summary>Restores every task's path from <see cref="Paths"/>.</summary>
    public void LoadPaths(int[][][] paths)
    {
        if (paths.Length != _paths.Length) throw new ArgumentException($"expected the paths of {_paths.Length} tasks", nameof(paths));
        _paths = paths.Select(task => task.Select(layer => (int[])layer.Clone()).ToArray()).ToArray();
    }

    /// <summary>Whether module <paramref name="index"/> of block <paramref name="layer"/> is on the path of a task before <paramref name="task"/>.</summary>
    public bool UsedBefore(int task, int layer, int index) => _paths.Take(task).Any(path => path[layer].Contains(index));

    public override Tensor Block(Backbone backbone, int index, Tensor input, ForwardContext context)
    {
        var path = _paths[context.Task][index];
        // A task is evaluated before it has a path (the runner's accuracy before training, for forward transfer):
        // it then goes through modules 0..N-1 (the seed's -1 entries would index the last module N times).
        if (path[0] < 0) path = Enumerable.Range(0, ActiveCount).ToArray();
        var flat = Backbone.FlattenFor(backbone.Specs[index], input);
        var outputs = path.Select(m => backbone.Activate(index, ((Module<Tensor, Tensor>)_modules[index][m]).forward(flat))).ToList();
        return outputs.Aggregate((sum, h) => sum + h);
    }
}
