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
    [CommandArgument(0, "<RUN>")]
    [Description("A hat or hat-test run made with --save-model: its result file (res/<experiment>_<approach>_<seed>.txt), its .json or its .model.")]
    public string Model { get; init; } = "";

    [CommandOption("-o|--output <DIR>")]
    [Description("Folder for the mask images <run name>_masks_<layer>.png (default: the run's folder).")]
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
        var model = ExportCommand.KeptModelOf(settings.Model);
        var folder = settings.Output ?? Path.GetDirectoryName(Path.GetFullPath(model))!;
        OutputPaths.RequireFolder(folder, "--output");
        var stem = Path.GetFileNameWithoutExtension(model);
        using var claim = OutputLock.Acquire(folder, Path.Combine(folder, stem + "_masks"));
        var (description, approach) = KeptModel.Read(model);
        using var _ = approach;
        using var __ = approach.Model;
        if (approach.Model.Backbone.Gating is not HatUnitGates gating)
            throw new RetainException($"inspect masks: {settings.Model} is a {description.Approach} model; task masks exist in hat and hat-test models");
        if (!description.Options.TryGetValue("smax", out var smaxText) ||
            !double.TryParse(smaxText, NumberStyles.Float, CultureInfo.InvariantCulture, out var smax))
            throw new DataFileException(model, "no smax among the approach's options");
        var tasks = description.TaskNames.Take(description.TasksTrained).ToArray();
        var inspection = MaskInspection.Of(gating, tasks, smax);

        console.MarkupLine(Markup.Escape($"{model}: {description.Approach} on {description.Experiment}, " +
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
