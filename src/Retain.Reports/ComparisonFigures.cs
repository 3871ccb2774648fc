using System.Globalization;
using ScottPlot;
using static Retain.Reports.FigureStyle;

namespace Retain.Reports;

/// <summary>
/// The figures that compare approaches on one experiment (the DWA paper's figures 5 and 6, and accuracy matrices),
/// each drawing the series <see cref="ExperimentResults.Shown"/>, one colour per approach.
/// </summary>
internal static class ComparisonFigures
{
    public const int PanelWidth = 380, PanelHeight = 300, Columns = 3;
    public const int ForgettingWidth = 900, ForgettingHeight = 500;
    private const int MatrixCell = 64, MatrixAxesWidth = 300, MatrixAxesHeight = 180;

    /// <summary>Panels: one per task and one for the average, three to a row, over a strip for the legend (a line per five series).</summary>
    public static (int Width, int Height) AccuracySize(int tasks, int series)
    {
        var panels = tasks + 1;
        var columns = Math.Min(Columns, panels);
        return (columns * PanelWidth, (panels + columns - 1) / columns * PanelHeight + LegendStrip(series));
    }

    private static int LegendStrip(int series) => 24 + 30 * ((series + 4) / 5);

    /// <summary>Square cells for the tasks, and room for the title, the axes and the colour bar.</summary>
    public static (int Width, int Height) MatrixSize(int tasks) => (MatrixAxesWidth + MatrixCell * tasks, MatrixAxesHeight + MatrixCell * tasks);

    /// <summary>
    /// The DWA paper's figure 5: per task u, its test accuracy after training each task t ≥ u, one line per approach;
    /// the last panel averages over the tasks learnt so far. Bands: 95% intervals over seeds.
    /// </summary>
    public static ReportFigure Accuracy(ExperimentResults e, ApproachColours colours, PlottedValues values, string folder)
    {
        var shown = e.Shown.ToArray();
        var (width, height) = AccuracySize(e.Tasks, shown.Length);
        var figure = new Multiplot();
        figure.AddPlots(e.Tasks + 2);
        figure.Layout = new PanelsOverLegend(Math.Min(Columns, e.Tasks + 1), LegendStrip(shown.Length));
        var legend = new List<LegendItem>();
        for (var u = 0; u <= e.Tasks; u++)
        {
            var average = u == e.Tasks;
            var plot = figure.GetPlot(u);
            var panel = average ? "average over tasks learnt" : $"task {u + 1}: {e.TaskNames[u]}";
            foreach (var s in shown.Where(s => average || s.Tasks > u))
            {
                var ts = Enumerable.Range(average ? 0 : u, s.Tasks - (average ? 0 : u)).ToArray();
                var points = ts.Select(t => average ? s.AverageAccuracy[t] : s.Accuracy[t][u]).ToArray();
                var line = Line(plot, ts.Select(t => t + 1.0).ToArray(), points, 100, colours[s.Approach], ApproachColours.Pattern(s.Variant), Legend(s));
                if (average) legend.AddRange(line.LegendItems);
                for (var i = 0; i < ts.Length; i++) values.Add("accuracy", e.Title, s.DisplayName, panel, Text(ts[i] + 1), "", points[i], 100);
            }
            plot.Title(panel, 14);
            plot.XLabel(average ? TaskAxis : "task learned", 13);
            plot.YLabel(average ? "mean test accuracy (%)" : "test accuracy (%)", 13);
            TaskTicks(plot.Axes.Bottom, e.Tasks);
            plot.Axes.SetLimits(0.5, e.Tasks + 0.5, 0, 102);
            plot.HideLegend();
        }
        // The legend has a strip of its own, so that every panel's data area has the same size.
        var legendPanel = figure.GetPlot(e.Tasks + 1);
        legendPanel.Axes.Frameless();
        legendPanel.HideGrid();
        legendPanel.ShowLegend(legend, Alignment.MiddleCenter);
        legendPanel.Legend.Orientation = Orientation.Horizontal;
        legendPanel.Legend.FontSize = 15;
        return Save(figure, Path.Combine(folder, $"{FileName(e.FileStem)}_accuracy.png"), width, height,
            $"{e.Title}: accuracy on each task after each task learnt",
            "Test accuracy on each task (one panel per task, tasks numbered from 1 in training order) after training each later task, " +
            "and its average over the tasks learnt so far (last panel, ACC at the last task); mean over seeds with its 95% Student-t band (the DWA paper's figure 5).");
    }

    /// <summary>
    /// The HAT paper's forgetting ratio ρ≤t per approach over t, as <c>plot_results.py</c> plots it, with 95% bands
    /// over seeds; null when no series has references (the page says why).
    /// </summary>
    public static ReportFigure? ForgettingRatio(ExperimentResults e, ApproachColours colours, PlottedValues values, string folder)
    {
        var measured = e.Shown.Where(s => s.ForgettingRatio is not null).ToArray();
        if (measured.Length == 0) return null;
        var plot = new Plot();
        var tasks = measured.Max(s => s.ForgettingRatio!.Tasks);
        foreach (var (level, name, pattern) in new[] { (0.0, "joint", LinePattern.Dashed), (-1.0, "random", LinePattern.Dotted) })
        {
            var line = plot.Add.HorizontalLine(level, 1.5f, colours[name], pattern);
            line.Text = name;
            line.LabelOppositeAxis = true;
        }
        foreach (var s in measured)
        {
            var rho = s.ForgettingRatio!.PerTask;
            Line(plot, Enumerable.Range(1, rho.Count).Select(t => (double)t).ToArray(), rho, 1, colours[s.Approach], ApproachColours.Pattern(s.Variant), Legend(s));
            for (var t = 0; t < rho.Count; t++) values.Add("forgetting_ratio", e.Title, s.DisplayName, "", Text(t + 1), "", rho[t]);
        }
        plot.Title($"{e.Title}: forgetting ratio ρ≤t");
        plot.XLabel(TaskAxis);
        plot.YLabel("forgetting ratio ρ≤t (0 = joint, −1 = random)");
        TaskTicks(plot.Axes.Bottom, tasks);
        plot.Axes.SetLimitsX(0.5, tasks + 0.5);
        plot.ShowLegend(Edge.Right);
        return Save(plot, Path.Combine(folder, $"{FileName(e.FileStem)}_forgetting.png"), ForgettingWidth, ForgettingHeight,
            $"{e.Title}: forgetting ratio ρ≤t",
            "ρ≤t = mean over the tasks learnt so far of (A[t,u] − R[u,u]) / (J[t,u] − R[u,u]) − 1 (the HAT paper's forgetting ratio, plot_results.py): " +
            "0 is the joint reference's accuracy, −1 the random one's; mean over seeds with its 95% Student-t band.");
    }

    /// <summary>
    /// Task-aware against task-agnostic accuracy: per approach, the mean accuracy over the tasks learnt so far with
    /// the task id (solid) and with each sample's task predicted by the run's own predictor (dashed). Null when no
    /// series has task-agnostic results, and outside task-IL, where every accuracy is without the task id.
    /// </summary>
    public static ReportFigure? TaskAgnostic(ExperimentResults e, ApproachColours colours, PlottedValues values, string folder)
    {
        var measured = e.Shown.Where(s => s.AgnosticAverageAccuracy is not null).ToArray();
        if (measured.Length == 0 || e.Scenario != Scenario.Task) return null;
        var plot = new Plot();
        foreach (var s in measured)
        {
            var ts = Enumerable.Range(1, s.Tasks).Select(t => (double)t).ToArray();
            Line(plot, ts, s.AverageAccuracy, 100, colours[s.Approach], LinePattern.Solid, Legend(s) + ", task given");
            Line(plot, ts, s.AgnosticAverageAccuracy!, 100, colours[s.Approach], LinePattern.Dashed, Legend(s) + ", task predicted");
            for (var t = 0; t < s.Tasks; t++)
            {
                values.Add("task_agnostic", e.Title, s.DisplayName, "task given", Text(t + 1), "", s.AverageAccuracy[t], 100);
                values.Add("task_agnostic", e.Title, s.DisplayName, "task predicted", Text(t + 1), "", s.AgnosticAverageAccuracy![t], 100);
            }
        }
        plot.Title($"{e.Title}: accuracy with and without the task id");
        plot.XLabel(TaskAxis);
        plot.YLabel("mean test accuracy over tasks learnt (%)");
        TaskTicks(plot.Axes.Bottom, e.Tasks);
        plot.Axes.SetLimits(0.5, e.Tasks + 0.5, 0, 102);
        plot.ShowLegend(Edge.Right);
        return Save(plot, Path.Combine(folder, $"{FileName(e.FileStem)}_task_agnostic.png"), ForgettingWidth, ForgettingHeight,
            $"{e.Title}: accuracy with and without the task id",
            "Mean test accuracy over the tasks learnt so far, with the task id given (solid, task-aware) and with each sample's task predicted " +
            "by the run's own predictor, whose head then gives the class (dashed, task-agnostic); mean over seeds with its 95% Student-t band.");
    }

    /// <summary>A series' accuracy matrix, mean over seeds: rows the task just learnt, columns the task tested, in %.</summary>
    public static ReportFigure Matrix(ExperimentResults e, Series s, PlottedValues values, string folder)
    {
        var n = s.Tasks;
        var grid = new double[n, n];
        for (var t = 0; t < n; t++)
            for (var u = 0; u < n; u++) grid[t, u] = u > t ? double.NaN : 100 * s.Accuracy[t][u].Mean;
        var plot = new Plot();
        var map = plot.Add.Heatmap(grid);
        map.Colormap = new ScottPlot.Colormaps.Viridis();
        map.ManualRange = new ScottPlot.Range(0, 100);
        map.Rectangle = new CoordinateRect(0.5, n + 0.5, 0.5, n + 0.5);   // cell (t, u) centred on (u+1, n−t): task 1 on top
        for (var t = 0; t < n; t++)
            for (var u = 0; u <= t; u++)
            {
                values.Add("accuracy_matrix", e.Title, s.DisplayName, "", Text(u + 1), Text(t + 1), s.Accuracy[t][u], 100);
                var label = plot.Add.Text(grid[t, u].ToString("F1", CultureInfo.InvariantCulture), u + 1, n - t);
                label.Alignment = Alignment.MiddleCenter;
                label.LabelFontSize = 13;
                label.LabelFontColor = grid[t, u] > 60 ? Colors.Black : Colors.White; // viridis is bright at the top
            }
        plot.Add.ColorBar(map).Label = "test accuracy (%)";
        TaskTicks(plot.Axes.Bottom, n);
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            Enumerable.Range(0, n).Select(t => (double)(n - t)).ToArray(), Enumerable.Range(1, n).Select(Text).ToArray());
        plot.Axes.SetLimits(0.5, n + 0.5, 0.5, n + 0.5);
        plot.Title($"{s.DisplayName}: accuracy matrix, {(s.Seeds.Count == 1 ? "1 seed" : $"mean of {s.Seeds.Count} seeds")}", 14);
        plot.XLabel("task tested");
        plot.YLabel("after learning task");
        var (width, height) = MatrixSize(n);
        return Save(plot, Path.Combine(folder, $"{FileName(e.FileStem)}_matrix_{FileName(s.DisplayName)}.png"), width, height,
            $"{s.DisplayName}: accuracy matrix", "Test accuracy (%) on each task (column) after learning each task (row), mean over seeds.");
    }

    /// <summary>The plots but the last in a grid of equal cells; the last (the legend) in a strip across the bottom.</summary>
    private sealed class PanelsOverLegend(int columns, float strip) : IMultiplotLayout
    {
        public PixelRect[] GetSubplotRectangles(SubplotCollection subplots, PixelRect figure)
        {
            var panels = subplots.Count - 1;
            var rows = (panels + columns - 1) / columns;
            var (width, height) = (figure.Width / columns, (figure.Height - strip) / rows);
            return Enumerable.Range(0, panels)
                .Select(i => new PixelRect(figure.Left + i % columns * width, figure.Left + (i % columns + 1) * width,
                    figure.Top + (i / columns + 1) * height, figure.Top + i / columns * height))
                .Append(new PixelRect(figure.Left, figure.Right, figure.Bottom, figure.Bottom - strip))
                .ToArray();
        }
    }
}
