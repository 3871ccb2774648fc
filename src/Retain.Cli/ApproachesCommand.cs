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

    public static void Describe(ApproachInfo approach, IAnsiConsole console)
    {
        console.Write(new Rule($"[bold]{approach.Name}[/]").LeftJustified());
        console.WriteLine(approach.Description);
        foreach (var backbone in BackboneRegistry.All)
        {
            var values = approach.OptionDefaultsFor(backbone).Select(o => $"; {o.Key} {o.Value}");
            console.WriteLine($"  on {backbone.Name}: {RunCommand.DescribeTraining(approach.DefaultsFor(backbone))}{string.Concat(values)}");
        }
        var options = approach.Options();
        if (options.Count == 0)
        {
            console.WriteLine("  no options of its own");
            return;
        }
        var table = new Table().Border(TableBorder.Simple).AddColumns("option", "default", "meaning");
        foreach (var o in options)
        {
            // A backbone's row in the defaults table replaces the options record's default there.
            var perBackbone = BackboneRegistry.All
                .Where(b => approach.OptionDefaultsFor(b).ContainsKey(o.Name))
                .Select(b => $"{b.Name}: {approach.OptionDefaultsFor(b)[o.Name]}").ToArray();
            var value = perBackbone.Length == 0 ? o.Value : $"{o.Value} ({string.Join(", ", perBackbone)})";
            table.AddRow(Markup.Escape("--" + o.Name), Markup.Escape(value), Markup.Escape(o.Help));
        }
        console.Write(table);
    }
}
