using Retain.Training;

namespace Retain.Approaches;

/// <summary>An approach the CLI can run: its name, what it does, and how to build it.</summary>
public sealed record ApproachInfo(string Name, string Description, Func<ApproachContext, Approach> Create)
{
    /// <summary>The seed's defaults of the base-loop options for this approach.</summary>
    public TrainingOptions Defaults { get; init; } = new();
}

/// <summary>The approaches by name, as the command line knows them.</summary>
public static class ApproachRegistry
{
    public static readonly IReadOnlyList<ApproachInfo> All =
    [
        new("sgd", "Fine-tuning of the whole network on each task in turn (catastrophic forgetting reference).", c => new Sgd(c)),
    ];

    public static ApproachInfo Get(string name) =>
        All.FirstOrDefault(a => a.Name == name)
        ?? throw new RetainException($"--approach: unknown approach '{name}' (known: {string.Join(", ", All.Select(a => a.Name))})");
}
