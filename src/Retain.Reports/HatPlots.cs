using Retain.Experiments;
using ScottPlot;

namespace Retain.Evaluation;

/// <summary>Figures of HAT's attention: the compression curves and the per-layer task masks (PNG, ScottPlot).</summary>
internal static class HatPlots
{
    /// <summary>
    /// Top: test accuracy against the share of gated weights in use, one line per seed, one marker per epoch (the
    /// curve runs from right to left as the regulariser frees weights), the restored best model ringed. Bottom: units
    /// in use per layer against epoch (mean over seeds).
    /// </summary>
    public static void CompressionCurves(string path, CompressionRecord record)
    {
        var figure = new Multiplot();
        figure.AddPlots(2);
        var curves = figure.GetPlot(0);
        var palette = new ScottPlot.Palettes.Category10();
        for (var r = 0; r < record.Runs.Count; r++)
        {
            var run = record.Runs[r];
            var line = curves.Add.Scatter(run.Curve.Select(p => 100 * p.UsedWeights).ToArray(), run.Curve.Select(p => 100 * p.TestAccuracy).ToArray(), palette.GetColor(r));
            line.LegendText = $"seed {run.Seed}: {run.Task}";
            line.MarkerSize = 6;
        }
        for (var r = 0; r < record.Runs.Count; r++)
        {
            var best = record.Runs[r].Best;
            curves.Add.Marker(100 * best.UsedWeights, 100 * best.TestAccuracy, MarkerShape.OpenCircle, 16, palette.GetColor(r))
                .LegendText = r == 0 ? "best (restored) model" : "";
        }
        curves.Title($"HAT compression on {record.Experiment}: lamb {record.Lamb:G}, smax {record.Smax:G}");
        curves.XLabel("weights in use (% of gated weights)");
        curves.YLabel("test accuracy (%)");
        curves.Axes.Margins(0.08, 0.08);
        curves.ShowLegend(Alignment.LowerLeft); // the curve starts bottom right (all in use, untrained) and moves up and left

        var layers = figure.GetPlot(1);
        if (record.Runs.Count > 0)
        {
            var epochs = record.Runs.Min(r => r.Curve.Count);
            var names = record.Runs[0].Curve[0].Layers.Select(l => l.Layer).ToArray();
            for (var l = 0; l < names.Length; l++)
            {
                var used = Enumerable.Range(0, epochs).Select(e => 100 * record.Runs.Average(r => r.Curve[e].Layers[l].UsedUnits)).ToArray();
                var line = layers.Add.Scatter(Enumerable.Range(0, epochs).Select(e => (double)e).ToArray(), used, palette.GetColor(l));
                line.LegendText = names[l];
                line.MarkerSize = 4;
            }
        }
        layers.Title(record.Runs.Count > 1 ? "units in use per layer (mean over seeds)" : "units in use per layer");
        layers.XLabel("epoch (0: before training)");
        layers.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        layers.YLabel("units in use (%)");
        layers.Axes.SetLimitsY(0, 105);
        layers.ShowLegend(Alignment.LowerLeft); // units in use start at 100% and fall
        ResultFiles.WriteAtomically(path, tmp => figure.SavePng(tmp, 900, 1100));
    }

    /// <summary>
    /// Heat map of one layer's gates at s = smax: one row per task (top: the first), one column per unit, 0 (unit off,
    /// dark) to 1 (unit in use, bright).
    /// </summary>
    public static void MaskHeatmap(string path, string layer, double[,] gates, IReadOnlyList<string> taskNames, double smax)
    {
        var (tasks, units) = (gates.GetLength(0), gates.GetLength(1));
        var plot = new Plot();
        var map = plot.Add.Heatmap(gates);
        map.Colormap = new ScottPlot.Colormaps.Viridis();
        map.ManualRange = new ScottPlot.Range(0, 1);
        map.Rectangle = new CoordinateRect(0, units, 0, tasks);
        plot.Add.ColorBar(map).Label = "gate";
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            Enumerable.Range(0, tasks).Select(t => tasks - t - 0.5).ToArray(), taskNames.Take(tasks).ToArray());
        plot.Axes.SetLimits(0, units, 0, tasks);
        plot.Title($"{layer}: task gates at s = {smax:G}");
        plot.XLabel("unit");
        plot.YLabel("task");
        ResultFiles.WriteAtomically(path, tmp => plot.SavePng(tmp, 1200, 160 + 40 * Math.Max(tasks, 3)));
    }
}
