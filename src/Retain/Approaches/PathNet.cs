using System.Diagnostics;
using Retain.Data;
using Retain.Interop;
using Retain.Networks;
using Retain.Training;
using static TorchSharp.torch;

namespace Retain.Approaches;

public sealed record PathNetOptions : IValidatedOptions
{
    [Option("generations", "Generations of the path search per task; every path trains nepochs / generations epochs per generation (the seed's grid: 5 to 200).")]
    public int Generations { get; init; } = 20;

    [Option("paths", "P: candidate paths trained and compared in every generation (the seed's P).")]
    public int Paths { get; init; } = 2;

    [Option("modules", "M: modules per layer; each is a copy of the layer at 0.258 of its width.")]
    public int Modules { get; init; } = 16;

    [Option("active", "N: modules per layer on a path; the layer's output is the sum of theirs.")]
    public int Active { get; init; } = 3;

    /// <summary>Each module is a network layer of its own: more than this per layer is a mistake, refused before any is built.</summary>
    public const int MaxModules = 256, MaxPaths = 256;

    public void Validate()
    {
        OptionValues.RequireAtLeast("--generations", Generations, 1);
        OptionValues.RequireAtLeast("--paths", Paths, 1);
        OptionValues.RequireAtLeast("--modules", Modules, 1);
        OptionValues.RequireAtLeast("--active", Active, 1);
        OptionValues.RequireAtMost("--modules", Modules, MaxModules);
        OptionValues.RequireAtMost("--paths", Paths, MaxPaths);
        if (Active > Modules)
            throw new RetainException($"--active ({Active}) cannot exceed --modules ({Modules}): a random path takes distinct modules");
    }
}

/// <summary>
/// PathNet (Fernando et al., 2017), as the HAT paper's baseline. The network is a set of modules per layer
/// (<see cref="PathNetModules"/>); a task uses a path of N modules per layer. For every task a small evolution
/// searches a path: P random paths are trained in turn (each with its own learning-rate schedule), the one with the
/// best validation loss so far wins the generation, and the others restart from the winner's path with each entry
/// mutated with probability 1/(N·L) by a random step in [−2, 2] (modulo M). Modules on the best paths of earlier
/// tasks are frozen, so what those tasks use never changes; modules no earlier task kept are reset to their initial
/// weights when a task starts. Heads always train. Task u is evaluated through its best path.
/// The seed's fork crashed here (its clipgrad landed in the wrong constructor argument); clipping at 1000 is applied.
/// </summary>
public sealed class PathNet : Approach, IPortableState
{
    /// <summary>The seed's defaults, clipping at 1000 (the fork's clipgrad landed in the wrong constructor argument).</summary>
    public static TrainingOptions Defaults => new() { ClipGradient = 1000 };

    private readonly PathNetOptions _options;
    private readonly PathNetModules _modules;
    /// <summary>Every module's weights as built, by "layer.module.name" (what unused modules are reset to).</summary>
    private readonly Dictionary<string, Tensor> _initial = [];

    public PathNet(ApproachContext context, PathNetOptions options, PathNetModules modules) : base(context)
    {
        _modules = modules;
        _options = options;
        using var _ = no_grad();
        foreach (var (layer, module, name, p) in ModuleParameters())
        {
            using var detached = p.detach();   // referenced until clone() returns (see TorchRandom)
            _initial[$"{layer}.{module}.{name}"] = detached.clone();
        }
    }

    /// <summary>Every path trains nepochs / generations epochs in each generation.</summary>
    public override int MaxEpochsPerTask => _options.Paths * (Options.Epochs / _options.Generations) * _options.Generations;

    /// <summary>Where a task's path search stands (all of it survives an interruption).</summary>
    public sealed class PathSearch
    {
        public int Generation { get; set; }
        /// <summary>The path being trained in this generation.</summary>
        public int Path { get; set; }
        /// <summary>Epochs the current path has trained in this generation.</summary>
        public int EpochInPath { get; set; }
        public required int[][][] Paths { get; set; }
        /// <summary>Each path's learning rate, patience and best validation loss (its own schedule).</summary>
        public required double[] Rates { get; set; }
        public required int[] Patience { get; set; }
        public required double[] BestLoss { get; set; }
        /// <summary>The path of the best validation loss so far, and that loss.</summary>
        public int Winner { get; set; }
        public double BestOverall { get; set; } = double.PositiveInfinity;
    }

    private PathSearch? _search;

    public override IReadOnlyList<EpochRecord> Train(int task, TaskData data, ITrainingEvents events)
    {
        BeginTask(task, data);
        var s = _search!;
        var epochsPerPath = Options.Epochs / _options.Generations;
        var everySample = Enumerable.Repeat(1f, data.Train.Count).ToArray(); // PathNet's own loop has no curriculum
        while (s.Generation < _options.Generations && s.Rates.Any(r => r >= Options.MinLearningRate))
        {
            for (; s.Path < _options.Paths; s.Path++, s.EpochInPath = 0)
            {
                var p = s.Path;
                if (s.Rates[p] < Options.MinLearningRate) continue;
                FollowPath(task, s.Paths[p]);
                SetLearningRate(s.Rates[p]);
                while (s.EpochInPath < epochsPerPath)
                {
                    var clock = Stopwatch.StartNew();
                    TrainEpoch(task, data.Train, everySample, threshold: 1, events);
                    var train = Evaluate(task, data.Train);
                    var valid = Evaluate(task, data.Valid);
                    var (lr, improved) = (s.Rates[p], valid.Loss < s.BestOverall);
                    if (improved) (s.Winner, s.BestOverall) = (p, valid.Loss);
                    s.EpochInPath++;
                    // The path's own schedule: patience, then lr / factor; the path rests once below lr_min.
                    if (valid.Loss < s.BestLoss[p]) (s.BestLoss[p], s.Patience[p]) = (valid.Loss, Options.Patience);
                    else if (--s.Patience[p] <= 0)
                    {
                        s.Rates[p] /= Options.LearningRateFactor;
                        if (s.Rates[p] < Options.MinLearningRate) s.EpochInPath = epochsPerPath;
                        else
                        {
                            s.Patience[p] = Options.Patience;
                            SetLearningRate(s.Rates[p]);
                        }
                    }
                    EndEpoch(new EpochRecord(task, Current!.Epoch, train.Loss, train.Accuracy, valid.Loss, valid.Accuracy, lr, improved, clock.Elapsed.TotalSeconds),
                        stop: false, events);
                }
            }
            Model.LoadParameters(Current!.Best);
            for (var p = 0; p < _options.Paths; p++)
            {
                if (p == s.Winner) continue;
                (s.BestLoss[p], s.Rates[p], s.Patience[p]) = (double.PositiveInfinity, s.Rates[s.Winner], Options.Patience);
                s.Paths[p] = Mutate(s.Paths[s.Winner]);
            }
            (s.Generation, s.Path) = (s.Generation + 1, 0);
        }
        foreach (var p in Model.parameters()) p.requires_grad = true;
        _modules.SetPath(task, s.Paths[s.Winner]);
        _search = null;
        return EndTask(task, data);
    }

    /// <summary>Modules no earlier task kept start afresh; the first generation's P paths are random.</summary>
    protected override void PrepareTask(int task, TaskData data)
    {
        if (task > 0) ResetModulesUnusedBefore(task);
        _search = new PathSearch
        {
            Paths = Enumerable.Range(0, _options.Paths).Select(_ => RandomPath()).ToArray(),
            Rates = Enumerable.Repeat(Options.LearningRate, _options.Paths).ToArray(),
            Patience = Enumerable.Repeat(Options.Patience, _options.Paths).ToArray(),
            BestLoss = Enumerable.Repeat(double.PositiveInfinity, _options.Paths).ToArray(),
        };
    }

    protected override void SaveState(StateDict state) =>
        state.SetValue("search", _search).SetValue("paths", _modules.Paths).Set("initial", _initial);

    protected override void LoadState(StateDict state)
    {
        _search = state.Value<PathSearch?>("search");
        _modules.LoadPaths(state.Value<int[][][]>("paths"));
        ParameterSet.CopyInto(_initial, state, "initial");
    }

    /// <summary>
    /// PathNet's state for use outside Retain: every task's path, without which the modules cannot be run
    /// (<c>paths/best_path</c>, int64 tasks × layers × active modules, −1 for a task without a path: the seed's bestPath).
    /// </summary>
    public ApproachState ExportState(int tasksTrained)
    {
        var state = new ApproachState();
        state.Groups["paths"] = new() { ["best_path"] = tensor(_modules.Paths.SelectMany(t => t.SelectMany(l => l)).Select(m => (long)m).ToArray(),
            [_modules.Paths.Length, _modules.LayerCount, _modules.ActiveCount]) };
        return state;
    }

    public void ImportState(ApproachState state)
    {
        var paths = state.Groups["paths"]["best_path"];
        var (tasks, layers, active) = ((int)paths.shape[0], (int)paths.shape[1], (int)paths.shape[2]);
        var values = paths.to_type(ScalarType.Int64).cpu().data<long>().ToArray();
        _modules.LoadPaths(Enumerable.Range(0, tasks).Select(t => Enumerable.Range(0, layers)
            .Select(l => Enumerable.Range(0, active).Select(k => (int)values[(t * layers + l) * active + k]).ToArray()).ToArray()).ToArray());
    }

    /// <summary>Task t's forward follows <paramref name="path"/>; only its modules that no earlier task uses, and the heads, learn.</summary>
    private void FollowPath(int task, int[][] path)
    {
        _modules.SetPath(task, path);
        foreach (var (layer, module, _, p) in ModuleParameters())
            p.requires_grad = path[layer].Contains(module) && !_modules.UsedBefore(task, layer, module);
    }

    /// <summary>Per layer, the first N entries of a random permutation of the M modules (numpy's stream, as the seed).</summary>
    private int[][] RandomPath() =>
        Enumerable.Range(0, _modules.LayerCount).Select(_ => Context.BatchOrder.Permutation(_modules.ModuleCount)[.._modules.ActiveCount]).ToArray();

    /// <summary>Each entry moves, with probability 1/(N·L), by a uniform step in [−2, 2], modulo M.</summary>
    private int[][] Mutate(int[][] path)
    {
        var rng = Context.BatchOrder;
        var probability = 1.0 / (_modules.ActiveCount * _modules.LayerCount);
        return path.Select(layer => layer.Select(m =>
            rng.RandomSample() < probability ? ((m + (int)rng.Interval(4) - 2) % _modules.ModuleCount + _modules.ModuleCount) % _modules.ModuleCount : m).ToArray()).ToArray();
    }

    /// <summary>Modules that are on no earlier task's best path go back to their initial weights (the PathNet paper's re-initialisation).</summary>
    private void ResetModulesUnusedBefore(int task)
    {
        using var _ = no_grad();
        foreach (var (layer, module, name, p) in ModuleParameters())
            if (!_modules.UsedBefore(task, layer, module)) p.copy_(_initial[$"{layer}.{module}.{name}"]);
    }

    private IEnumerable<(int Layer, int Module, string Name, TorchSharp.Modules.Parameter Parameter)> ModuleParameters() =>
        from layer in Enumerable.Range(0, _modules.LayerCount)
        from module in Enumerable.Range(0, _modules.ModuleCount)
        from p in _modules.Module(layer, module).named_parameters()
        select (layer, module, p.name, p.parameter);

    public override void Dispose()
    {
        ParameterSet.DisposeAll(_initial);
        base.Dispose();
    }
}

/// <summary>
/// pathnet: modules per block of a backbone of layers (<see cref="PathNetModules.CreateNetwork"/>), clipping at 1000, and
/// at least one epoch per generation. Summing N modules per block compounds over AlexNet's five blocks: at lr 0.05 the
/// first step kills the ReLUs, so AlexNet trains at 0.01.
/// </summary>
public sealed class PathNetSpec : GatedApproachSpec<PathNetOptions, PathNetModules>
{
    public override TrainingOptions TrainingDefaults(BackboneArchitecture backbone, PathNetOptions options) =>
        backbone == BackboneRegistry.AlexNet ? PathNet.Defaults with { LearningRate = 0.01 } : PathNet.Defaults;

    /// <summary>Every path trains at least one epoch per generation.</summary>
    public override int FewestEpochs(PathNetOptions options) => options.Generations;

    protected override string FewestEpochsReason(PathNetOptions options) =>
        $"pathnet trains every path nepochs / generations epochs per generation, with --generations {options.Generations}";

    protected override string? TrainingRule(PathNetOptions options) =>
        "every path trains nepochs / generations epochs per generation (whole epochs: --nepochs below --generations is refused)";

    /// <summary>The epochs that do not divide into whole generations are not trained (the seed's nepochs // generations).</summary>
    protected override IEnumerable<string> Notes(TrainingOptions training, PathNetOptions options)
    {
        var perGeneration = training.Epochs / options.Generations;
        if (training.Epochs % options.Generations != 0)
            yield return $"pathnet trains every path {perGeneration * options.Generations} of the {training.Epochs} epochs: {perGeneration} per generation " +
                $"for --generations {options.Generations} (give --nepochs a multiple of --generations, e.g. {perGeneration * options.Generations} or {(perGeneration + 1) * options.Generations})";
    }

    public override GatedNetwork<PathNetModules> CreateNetwork(BackboneArchitecture backbone, NetworkShape shape, PathNetOptions options) =>
        PathNetModules.CreateNetwork(backbone, shape.InputSize, shape.ClassCounts, options.Modules, options.Active);

    public override Approach Create(ApproachContext context, PathNetOptions options, PathNetModules gating) => new PathNet(context, options, gating);
}
