using Retain.Approaches;
using Retain.Evaluation;
using ScottPlot;

namespace Retain.Reports;

/// <summary>
/// One colour per approach for every figure of a report: the references black (joint) and grey (random), the others
/// Category10's colours (without its grey) in the registry's order of the approaches the report holds, then
/// Tsitsulin's 25 for reports with more approaches than that.
/// </summary>
internal sealed class ApproachColours
{
    private static readonly Color Joint = Color.FromHex("#222222"), Random = Color.FromHex("#8c8c8c");
    private static readonly Color[] Palette =
        [.. new ScottPlot.Palettes.Category10().Colors.Where((_, i) => i != 7), .. new ScottPlot.Palettes.Tsitsulin().Colors];
    private static readonly LinePattern[] Patterns = [LinePattern.Solid, LinePattern.Dashed, LinePattern.Dotted, LinePattern.DenselyDashed];

    private readonly Dictionary<string, Color> _colours;

    public ApproachColours(IEnumerable<string> approaches)
    {
        var evaluated = approaches.Distinct().Where(a => a is not (ReferenceRuns.Joint or ReferenceRuns.Random))
            .OrderBy(RegistryIndex).ThenBy(a => a, StringComparer.Ordinal).ToArray();
        _colours = evaluated.Select((a, i) => (a, Palette[i % Palette.Length])).ToDictionary(p => p.a, p => p.Item2);
        _colours[ReferenceRuns.Joint] = Joint;
        _colours[ReferenceRuns.Random] = Random;
    }

    public Color this[string approach] => _colours[approach];

    /// <summary>The line pattern of the n-th shown series of one approach (several folders): solid, dashed, dotted, ...</summary>
    public static LinePattern Pattern(int variant) => Patterns[variant % Patterns.Length];

    /// <summary>Position in <see cref="ApproachRegistry.All"/>; unknown approaches after every known one.</summary>
    public static int RegistryIndex(string approach)
    {
        var index = ApproachRegistry.All.Select(a => a.Name).ToList().IndexOf(approach);
        return index < 0 ? int.MaxValue - 2 : index;
    }
}
