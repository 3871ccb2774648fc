using Retain.Approaches;
using Retain.Experiments;
using Retain.Networks;

namespace Retain.Interop;

/// <summary>
/// What a saved model is, besides its tensors: the approach and backbone that built the network, the data's shape, the
/// approach's options (as text, as a run records them) and how many of its tasks are trained. Enough to rebuild the
/// network (<see cref="CreateNetwork"/>) before its tensors are loaded.
/// </summary>
public sealed record ModelDescription
{
    public required string Approach { get; init; }
    /// <summary>The backbone's registered name (mlp, alexnet, ...).</summary>
    public required string Network { get; init; }
    /// <summary>The inputs' <c>[C, H, W]</c>.</summary>
    public required int[] InputSize { get; init; }
    /// <summary>Classes of each task's head, in task order.</summary>
    public required int[] ClassCounts { get; init; }
    public required string[] TaskNames { get; init; }
    /// <summary>Tasks trained, the first of <see cref="TaskNames"/>; the heads of later tasks are untrained.</summary>
    public required int TasksTrained { get; init; }
    /// <summary>The approach's own options with their values (defaults included), as text.</summary>
    public required Dictionary<string, string> Options { get; init; }
    /// <summary>The experiment the model was trained on, when it comes from a run.</summary>
    public string? Experiment { get; init; }
    public int? Seed { get; init; }
    /// <summary>The scenario the model was trained in, which lays out its heads (models kept before scenarios: task-IL).</summary>
    public Scenario Scenario { get; init; } = Scenario.Task;

    public static ModelDescription From(RunRecord record) => new()
    {
        Approach = record.Approach, Network = record.Network, InputSize = record.InputSize, ClassCounts = record.ClassCounts,
        TaskNames = record.TaskNames, TasksTrained = record.TasksCompleted, Options = record.Parameters,
        Experiment = record.Experiment, Seed = record.Seed, Scenario = record.Scenario,
    };

    /// <summary>The registered approach and backbone, and the approach with its options bound as the run bound them.</summary>
    public (ApproachEntry Entry, BackboneArchitecture Backbone, ApproachSetup Setup) Resolve(string file)
    {
        var entry = ApproachRegistry.All.FirstOrDefault(a => a.Name == Approach)
            ?? throw new DataFileException(file, $"a model of approach '{Approach}', which is not registered here (known: {string.Join(", ", ApproachRegistry.All.Select(a => a.Name))})");
        var backbone = BackboneRegistry.All.FirstOrDefault(b => b.Name == Network)
            ?? throw new DataFileException(file, $"a model on backbone '{Network}', which is not registered here (known: {BackboneRegistry.KnownNames})");
        return (entry, backbone, entry.Bind(Options, backbone));
    }

    /// <summary>What the network is built for: the inputs' size, each task's classes and the heads of its scenario.</summary>
    public NetworkShape Shape => new(InputSize, ClassCounts)
    {
        Heads = ApproachRegistry.All.FirstOrDefault(a => a.Name == Approach)?.Spec.HeadsIn(Scenario, ClassCounts) ?? HeadLayout.PerTask(ClassCounts),
    };

    /// <summary>A new network of the described architecture (untrained); <paramref name="file"/> is named in errors.</summary>
    public MultiHeadNetwork CreateNetwork(string file)
    {
        var (_, backbone, setup) = Resolve(file);
        return setup.CreateNetwork(backbone, Shape);
    }
}
