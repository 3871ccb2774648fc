using System.Globalization;
using Retain.Evaluation;
using ScottPlot;
using static Retain.Reports.FigureStyle;

namespace Retain.Reports;

/// <summary>
/// A study's grids: per approach whose runs differ in options (a grid, or named variants), a heat map of a summary
/// metric over the first two options that vary (one panel per combination of any further ones), each cell the mean
/// over seeds with its 95% half-width; the point the figures show (best by validation accuracy) is outlined.
/// </summary>
internal static class GridFigures
{
    public static (int Width, int Height) PanelSize(int columns, int rows) => (300 + 120 * columns, 180 + 80 * rows);

    public static IEnumerable<ReportFigure> Grids(ExperimentResults e, SummaryMetric metric, PlottedValues values, string folder)
    {
        foreach (var group in e.Series.Where(s => !s.IsReference).GroupBy(s => (s.Folder, s.Approach)))
        {
            var points = group.ToArray();
            var varying = points.SelectMany(p => p.Options.Select(o => o.Name)).Distinct()
                .Where(name => points.Select(p => Value(p, name)).Distinct().Count() > 1).ToArray();
            if (varying.Length > 0) yield return Draw(e, points, varying, metric, values, folder);
        }
    }

    private static ReportFigure Draw(ExperimentResults e, Series[] points, string[] varying, SummaryMetric metric, PlottedValues values, string folder)
    {
        var (column, row) = (varying[0], varying.Length > 1 ? varying[1] : null);
        var columns = Values(points, column);
        var rows = row is null ? [""] : Values(points, row);
        var panels = points.GroupBy(p => string.Join(", ", varying.Skip(2).Select(name => $"{name} {Value(p, name)}"))).ToArray();
        var approach = points[0].Approach;
        var figure = new Multiplot();
        figure.AddPlots(panels.Length);
        for (var k = 0; k < panels.Length; k++)
        {
            var plot = figure.GetPlot(k);
            var grid = new double[rows.Length, columns.Length];
            for (var i = 0; i < rows.Length; i++)
                for (var j = 0; j < columns.Length; j++) grid[i, j] = double.NaN;
            var cells = panels[k].Select(p => (Point: p, Row: row is null ? 0 : Array.IndexOf(rows, Value(p, row)), Column: Array.IndexOf(columns, Value(p, column)),
                Metric: metric.Value(p.Summary))).ToArray();
            foreach (var c in cells) grid[c.Row, c.Column] = c.Metric is { } m ? metric.Scale * m.Mean : double.NaN;
            var map = plot.Add.Heatmap(grid);
            map.Colormap = new ScottPlot.Colormaps.Viridis();
            if (cells.All(c => c.Metric is null)) map.ManualRange = new ScottPlot.Range(0, 1);
            map.Rectangle = new CoordinateRect(0.5, columns.Length + 0.5, 0.5, rows.Length + 0.5);
            plot.Add.ColorBar(map).Label = metric.Header;
            foreach (var c in cells)
            {
                var (x, y) = (c.Column + 1, rows.Length - c.Row);
                if (c.Metric is { } m)
                    values.Add("grid", e.Title, c.Point.DisplayName, metric.Name, Value(c.Point, column), row is null ? "" : Value(c.Point, row), m, metric.Scale);
                var text = plot.Add.Text(Describe(c.Metric, metric.Scale), x, y);
                text.Alignment = Alignment.MiddleCenter;
                text.LabelFontSize = 13;
                text.LabelFontColor = Colors.White;
                text.LabelBackgroundColor = Colors.Black.WithAlpha(0.45);
                if (!c.Point.Shown) continue;
                var outline = plot.Add.Rectangle(x - 0.48, x + 0.48, y - 0.48, y + 0.48);
                outline.FillStyle.Color = Colors.Transparent;
                outline.LineStyle.Color = Colors.Red;
                outline.LineStyle.Width = 3;
            }
            plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(Enumerable.Range(1, columns.Length).Select(x => (double)x).ToArray(), columns);
            plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(Enumerable.Range(1, rows.Length).Select(y => (double)(rows.Length + 1 - y)).ToArray(), row is null ? [approach] : rows);
            plot.Axes.SetLimits(0.5, columns.Length + 0.5, 0.5, rows.Length + 0.5);
            plot.XLabel($"option {column}");
            plot.YLabel(row is null ? "approach" : $"option {row}");
            plot.Title($"{approach} on {e.Title}{(panels[k].Key.Length > 0 ? $" at {panels[k].Key}" : "")}: {metric.Header}, red = chosen by validation", 14);
        }
        var (width, height) = PanelSize(columns.Length, rows.Length);
        var inFolder = e.Series.Select(s => s.Folder).Distinct().Count() > 1 ? "_" + FileName(Path.GetFileName(points[0].Folder)) : "";
        return Save(figure, Path.Combine(folder, $"{FileName(e.FileStem)}_grid_{FileName(approach)}{inFolder}.png"),
            width, height * panels.Length, $"{approach}: {metric.Name} over its grid",
            $"{metric.Label} per grid point (mean ± 95% half-width over seeds); outlined in red: the point shown in the other figures, " +
            "chosen by mean final validation accuracy (test numbers never choose).");
    }

    /// <summary>An option's value in a series (the study's text), or "default" where the series does not set it.</summary>
    private static string Value(Series s, string option) => s.Options.LastOrDefault(o => o.Name == option)?.Value ?? "default";

    /// <summary>The option's distinct values, numerically ordered when all are numbers, else in order of appearance.</summary>
    private static string[] Values(IEnumerable<Series> points, string option)
    {
        var values = points.Select(p => Value(p, option)).Distinct().ToArray();
        var numbers = values.Select(v => double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : (double?)null).ToArray();
        return numbers.All(n => n is not null) ? values.Zip(numbers).OrderBy(p => p.Second).Select(p => p.First).ToArray() : values;
    }

    private static string Describe(MeanWithConfidence? value, double scale) => value is not { } m ? "n/a"
        : (scale * m.Mean).ToString("F2", CultureInfo.InvariantCulture) +
          (double.IsNaN(m.HalfWidth) ? "" : "\n± " + (scale * m.HalfWidth).ToString("F2", CultureInfo.InvariantCulture));
}
