using System.ComponentModel;
using System.Globalization;
using Retain.Approaches;
using Retain.Networks;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Retain.Cli;

public sealed class ApproachesSettings : CommandSettings
{
    [CommandArgument(0, "[NAMES]")]
    [Description("Approaches to describe (default: all).")]
    public string[] Names { get; init; } = [];
}

/// <summary>
/// <c>retain approaches</c> (and <c>retain run -a X --help</c>): each approach, what it does, its base-loop defaults
/// per backbone, and its own options with their defaults and help texts (the <c>[Option]</c> attributes).
/// </summary>
public sealed class ApproachesCommand(IAnsiConsole console) : Command<ApproachesSettings>
{
    public override int Execute(CommandContext context, ApproachesSettings settings, CancellationToken cancellation)
    {
        var approaches = settings.Names.Length == 0 ? ApproachRegistry.All : settings.Names.Select(ApproachRegistry.Get).ToArray();
        foreach (var approach in approaches) Describe(approach, console);
        return 0;
    }

    public static void Describe(ApproachEntry approach, IAnsiConsole console)
    {
        console.Write(new Rule($"[bold]{approach.Name}[/]").LeftJustified());
        console.WriteLine(approach.Description);
        if (approach.Paper is { } paper) console.WriteLine($"  paper: {paper}");
        var spec = approach.Spec;
        var options = spec.Options();
        // Per backbone, the options whose default there differs from the options record's.
        var perBackbone = BackboneRegistry.All.ToDictionary(b => b, b => spec.WithDefaults(b));
        IEnumerable<OptionInfo> OwnOn(BackboneArchitecture backbone) =>
            perBackbone[backbone].OptionValues.Where(o => options.Single(d => d.Name == o.Name).Value != o.Value);
        foreach (var (backbone, setup) in perBackbone)
        {
            var values = OwnOn(backbone).Select(o => $"; {o.Name} {o.Value}");
            console.WriteLine($"  on {backbone.Name}: {RunCommand.DescribeTraining(setup.ResolveTraining(setup.TrainingDefaults(backbone)))}{string.Concat(values)}");
        }
        if (spec.WithDefaults(BackboneRegistry.All[0]).TrainingRule is { } rule) console.WriteLine($"  base loop: {rule}");
        if (spec.Network.Gating is { } gating) console.WriteLine($"  network: its own gating ({gating.Name}) on a backbone of layers");
        if (spec.NeedsTaskId) console.WriteLine("  scenarios: task; domain and class with one head per task and each test sample's task predicted");
        if (options.Count == 0)
        {
            console.WriteLine("  no options of its own");
            return;
        }
        var table = new Table().Border(TableBorder.Simple).AddColumns("option", "default", "meaning");
        foreach (var o in options)
        {
            var differing = BackboneRegistry.All
                .SelectMany(b => OwnOn(b).Where(v => v.Name == o.Name).Select(v => $"{b.Name}: {v.Value}")).ToArray();
            var value = differing.Length == 0 ? o.Value : $"{o.Value} ({string.Join(", ", differing)})";
            table.AddRow(Markup.Escape("--" + o.Name), Markup.Escape(value), Markup.Escape(o.Help));
        }
        console.Write(table);
    }
}
