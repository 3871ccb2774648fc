using System.ComponentModel;
using System.Globalization;
using Retain.Evaluation;
using Retain.Experiments;
using Retain.Networks;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Retain.Cli;

public sealed class InspectMasksSettings : CommandSettings
{
    [CommandArgument(0, "<MODEL>")]
    [Description("A saved hat or hat-test model: the <output name>.model.json that `retain run --log-path DIR` writes (its .weights beside it).")]
    public string Model { get; init; } = "";

    [CommandOption("-o|--output <DIR>")]
    [Description("Folder for the mask images <model name>_masks_<layer>.png (default: the model's folder).")]
    public string? Output { get; init; }
}

/// <summary>
/// <c>retain inspect masks</c>: how a HAT network shares itself out among its tasks. Per layer and task, the share of
/// units the task's gates keep (gate &gt; 0.5 at s = smax, as HAT tests), the share any task uses, and per pair of tasks
/// the overlap (Jaccard index) of their used units; one heat map per layer (tasks × units).
/// </summary>
public sealed class InspectMasksCommand(IAnsiConsole console) : Command<InspectMasksSettings>
{
    public override int Execute(CommandContext context, InspectMasksSettings settings, CancellationToken cancellation)
    {
        if (!File.Exists(settings.Model)) throw new DataFileException(settings.Model, "file not found");
        var folder = settings.Output ?? Path.GetDirectoryName(Path.GetFullPath(settings.Model))!;
        OutputPaths.RequireFolder(folder, "--output");
        var stem = Path.GetFileName(settings.Model).Replace(".model.json", "", StringComparison.Ordinal);
        using var claim = OutputLock.Acquire(folder, Path.Combine(folder, stem + "_masks"));
        var (description, network) = SavedModel.Load(settings.Model);
        using var _ = network;
        if (network.Backbone.Gating is not HatUnitGates gating)
            throw new RetainException($"inspect masks: {settings.Model} is a {description.Approach} model; task masks exist in hat and hat-test models");
        if (!description.Parameters.TryGetValue("smax", out var smaxText) ||
            !double.TryParse(smaxText, NumberStyles.Float, CultureInfo.InvariantCulture, out var smax))
            throw new DataFileException(settings.Model, "no smax among the approach's parameters");
        var tasks = description.TaskNames.Take(description.TasksCompleted ?? description.TaskNames.Length).ToArray();
        var inspection = MaskInspection.Of(gating, tasks, smax);

        console.MarkupLine(Markup.Escape($"{settings.Model}: {description.Approach} on {description.Experiment}, " +
            $"{tasks.Length} of {description.TaskNames.Length} tasks trained; gates at s = smax = {smax:G}"));
        var used = new Table().Title("Units in use (%): gate > 0.5").Border(TableBorder.Rounded);
        used.AddColumns("layer", "units");
        foreach (var task in tasks) used.AddColumn(new TableColumn(Markup.Escape(task)).RightAligned());
        used.AddColumn(new TableColumn("any task").RightAligned());
        foreach (var layer in inspection.Layers)
            used.AddRow(new[] { layer.Layer, layer.Units.ToString(CultureInfo.InvariantCulture) }
                .Concat(layer.Used.Select(Percent)).Append(Percent(layer.UsedByAny)).Select(Markup.Escape).ToArray());
        console.Write(used);

        if (tasks.Length > 1)
        {
            var overlap = new Table().Title("Overlap of used units between tasks (Jaccard index; - where neither uses any)").Border(TableBorder.Rounded);
            overlap.AddColumn("tasks");
            foreach (var layer in inspection.Layers) overlap.AddColumn(new TableColumn(layer.Layer).RightAligned());
            for (var t = 0; t < tasks.Length; t++)
                for (var u = t + 1; u < tasks.Length; u++)
                    overlap.AddRow(new[] { $"{tasks[t]} / {tasks[u]}" }
                        .Concat(inspection.Layers.Select(l => double.IsNaN(l.Overlap[t, u]) ? "-" : l.Overlap[t, u].ToString("F2", CultureInfo.InvariantCulture)))
                        .Select(Markup.Escape).ToArray());
            console.Write(overlap);
        }

        foreach (var layer in inspection.Layers)
        {
            var gates = new double[tasks.Length, layer.Units];
            for (var t = 0; t < tasks.Length; t++)
                for (var i = 0; i < layer.Units; i++) gates[t, i] = layer.Gates[t][i];
            var path = Path.Combine(folder, $"{stem}_masks_{layer.Layer}.png");
            HatPlots.MaskHeatmap(path, layer.Layer, gates, tasks, smax);
            console.MarkupLine($"Wrote [green]{Markup.Escape(path)}[/]");
        }
        return 0;
    }

    private static string Percent(double share) => (100 * share).ToString("F1", CultureInfo.InvariantCulture);
}
