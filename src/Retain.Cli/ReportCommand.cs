using System.ComponentModel;
using Retain.Reports;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Retain.Cli;

public sealed class ReportSettings : CommandSettings
{
    [CommandArgument(0, "<INPUT>")]
    [Description("A results folder, a study file (.yaml), or result files (.txt or .json); several may be given.")]
    public string[] Inputs { get; init; } = [];

    [CommandOption("-o|--output <DIR>")]
    [Description("Folder for the page, the CSV and the PNGs (default: report/ in the first input's result folder).")]
    public string? Output { get; init; }

    [CommandOption("--grid-metric <METRIC>")]
    [Description("What the grid figures show: acc, bwt, fwt, rho, rho-mean or valid-acc.")]
    [DefaultValue("acc")]
    public string GridMetric { get; init; } = "acc";
}

/// <summary><c>retain report</c>: the papers' figures of result files, as PNGs, one CSV and one self-contained HTML page.</summary>
public sealed class ReportCommand(IAnsiConsole console) : Command<ReportSettings>
{
    public override int Execute(CommandContext context, ReportSettings settings, CancellationToken cancellation)
    {
        var metric = SummaryMetric.Named(settings.GridMetric);
        if (settings.Output is { } given) OutputPaths.RequireFolder(given, "--output");
        var sources = ReportInputs.Resolve(settings.Inputs, Studies.Load);
        var output = settings.Output ?? sources.DefaultOutput;
        OutputPaths.RequireFolder(output, "--output");
        using var claim = OutputLock.Acquire(output, Path.Combine(output, "report"));
        var result = Report.Write(sources, output, metric, $"Retain report: {string.Join(", ", settings.Inputs.Select(i => Path.GetFileName(Path.TrimEndingDirectorySeparator(i))))}");
        // Plain lines (not Spectre markup): paths and notes must not wrap or be read as markup.
        var writer = console.Profile.Out.Writer;
        foreach (var note in result.Notes) writer.WriteLine($"note: {note}");
        writer.WriteLine($"{sources.Runs.Count} runs, {result.Figures.Count} figures in {Path.GetDirectoryName(result.Page)}");
        writer.WriteLine($"wrote {result.Page} and {result.Csv}");
        return 0;
    }
}
