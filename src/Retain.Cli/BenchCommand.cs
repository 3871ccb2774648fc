using System.ComponentModel;
using System.Globalization;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Retain.Cli;

public sealed class BenchSettings : CommandSettings
{
    [CommandArgument(0, "[NAMES]")]
    [Description("Benchmarks to run (default: all): roofline, mlp-step, dwa-step, wait-policy, pmnist-sgd, entropy, fashion-load, dwa-layers, dwa-alexnet, checkpoint, study-throughput, dwa-mlp-epoch, dwa-epoch.")]
    public string[] Names { get; init; } = [];

    [CommandOption("--data <DIR>")]
    [Description("Data folder (default: $RETAIN_DATA, else ./dat).")]
    public string? DataDir { get; init; }

    [CommandOption("--tsv")]
    [Description("Print one tab-separated line per result (name, value, unit, target, met, note) instead of a table.")]
    public bool Tsv { get; init; }

    /// <summary>The second process of <c>wait-policy</c>: trains until it is stopped.</summary>
    [CommandOption("--load", IsHidden = true)]
    public bool Load { get; init; }
}

/// <summary>Measures the project's speed targets on this machine and prints them as a table.</summary>
public sealed class BenchCommand : Command<BenchSettings>
{
    public override int Execute(CommandContext context, BenchSettings s, CancellationToken cancellation)
    {
        if (s.Load)
        {
            Benchmarks.StepBenchmarks.TrainUntilStopped(() => Console.WriteLine("training"));
            return 0;
        }
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
                if (s.Tsv)
                {
                    Console.WriteLine(Benchmarks.BenchTsv.Format(r));
                    continue;
                }
                table.AddRow(Markup.Escape(r.Name), r.Value.ToString("G4", CultureInfo.InvariantCulture) + " " + r.Unit, Markup.Escape(r.Target),
                    r.Met switch { true => "[green]met[/]", false => "[red]missed[/]", null => "" }, Markup.Escape(r.Note));
            }
        if (!s.Tsv) AnsiConsole.Write(table);
        return allMet ? 0 : 1;
    }
}
