using Retain.Networks;
using Retain.Training;

namespace Retain.Approaches;

/// <summary>
/// Every approach's defaults on every backbone, in one table: the base loop's options, and the approach's own options
/// where a backbone needs other values than its options record declares. A run looks up the row of (approach,
/// backbone), then the approach's row for any backbone, then <see cref="TrainingOptions"/>' own defaults (the seed's);
/// options given on the command line win over all of them. Why each value was chosen, with the runs that show it:
/// docs/defaults.md.
/// </summary>
public static class ApproachDefaults
{
    /// <summary>The backbone name of a row that holds for every backbone without a row of its own.</summary>
    public const string AnyBackbone = "*";

    /// <summary>
    /// One row: for <see cref="Approach"/> on <see cref="Backbone"/>, the base-loop options (null: those of the
    /// approach's <see cref="AnyBackbone"/> row) and option values as on the command line (<c>lamb</c> → <c>0.001</c>).
    /// </summary>
    public sealed record Row(string Approach, string Backbone, TrainingOptions? Training = null)
    {
        public IReadOnlyDictionary<string, string> Options { get; init; } = new Dictionary<string, string>();
    }

    private static readonly TrainingOptions Seed = new();

    public static readonly IReadOnlyList<Row> Table =
    [
        new("ewc", AnyBackbone, Ewc.Defaults),
        new("lwf", AnyBackbone, new TrainingOptions { ClipGradient = 100 }),
        new("lfl", AnyBackbone, new TrainingOptions { ClipGradient = 200 }),
        // The seed's λ = 0.05 holds the features so hard that the second task stays at chance (MLP) or barely learns
        // (AlexNet); these are the values of best mean validation accuracy over both tasks.
        new("lfl", "mlp") { Options = new Dictionary<string, string> { ["lamb"] = "1e-4" } },
        new("lfl", "alexnet") { Options = new Dictionary<string, string> { ["lamb"] = "1e-3" } },
        new("imm-mode", AnyBackbone, new TrainingOptions { ClipGradient = 1000 }),
        new("pathnet", AnyBackbone, PathNet.Defaults),
        // Summing N modules per block compounds over AlexNet's five blocks: at 0.05 the first step kills the ReLUs.
        new("pathnet", "alexnet", PathNet.Defaults with { LearningRate = 0.01 }),
        new("dwa", AnyBackbone, Dwa.Defaults),
    ];

    /// <summary>The base-loop defaults of <paramref name="approach"/> on <paramref name="backbone"/> (<see cref="AnyBackbone"/>: its general row).</summary>
    public static TrainingOptions Training(string approach, string backbone) =>
        Find(approach, backbone)?.Training ?? Find(approach, AnyBackbone)?.Training ?? Seed;

    /// <summary>The option values <paramref name="approach"/> takes on <paramref name="backbone"/> instead of its options record's defaults.</summary>
    public static IReadOnlyDictionary<string, string> Options(string approach, string backbone) =>
        Find(approach, backbone)?.Options ?? Find(approach, AnyBackbone)?.Options ?? new Dictionary<string, string>();

    private static Row? Find(string approach, string backbone) =>
        Table.FirstOrDefault(r => r.Approach == approach && r.Backbone == backbone);
}
