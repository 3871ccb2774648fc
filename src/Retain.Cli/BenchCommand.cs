using System.ComponentModel;
using System.Globalization;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Retain.Cli;

public sealed class BenchSettings : CommandSettings
{
    [CommandArgument(0, "[NAMES]")]
    [Description("Benchmarks to run (default: all): roofline, mlp-step, entropy, fashion-load, dwa-layers, dwa-alexnet, study-throughput, dwa-mlp-epoch, dwa-epoch.")]
    public string[] Names { get; init; } = [];

    [CommandOption("--data <DIR>")]
    [Description("Data folder (default: $RETAIN_DATA, else ./dat).")]
    public string? DataDir { get; init; }
}

/// <summary>Measures the project's speed targets on this machine and prints them as a table.</summary>
public sealed class BenchCommand : Command<BenchSettings>
{
    public override int Execute(CommandContext context, BenchSettings s, CancellationToken cancellation)
    {
        var dataDir = s.DataDir ?? Environment.GetEnvironmentVariable("RETAIN_DATA") ?? "dat";
        var names = s.Names.Length > 0 ? s.Names : Benchmarks.Benchmarks.Names.ToArray();
        foreach (var name in names)
            if (!Benchmarks.Benchmarks.Names.Contains(name))
                throw new RetainException($"bench: unknown benchmark '{name}' (known: {string.Join(", ", Benchmarks.Benchmarks.Names)})");
        var table = new Table().Border(TableBorder.Rounded).AddColumns("benchmark", "value", "target", "", "note");
        var allMet = true;
        foreach (var name in names)
            foreach (var r in Benchmarks.Benchmarks.Run(name, dataDir, Studies.RetainCommand))
            {
                allMet &= r.Met != false;
                table.AddRow(Markup.Escape(r.Name), r.Value.ToString("G4", CultureInfo.InvariantCulture) + " " + r.Unit, Markup.Escape(r.Target),
                    r.Met switch { true => "[green]met[/]", false => "[red]missed[/]", null => "" }, Markup.Escape(r.Note));
            }
        AnsiConsole.Write(table);
        return allMet ? 0 : 1;
    }
}
