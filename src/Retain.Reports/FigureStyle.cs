using System.Globalization;
using Retain.Evaluation;
using ScottPlot;

namespace Retain.Reports;

/// <summary>A PNG a report wrote, with what the page says about it.</summary>
public sealed record ReportFigure(string Path, string Title, string Caption, int Width, int Height);

/// <summary>What the report's figures share: lines with their 95% bands, task-number ticks, saving.</summary>
internal static class FigureStyle
{
    public const string TaskAxis = "task learned (in training order)";
    public const string EpochAxis = "epoch (all tasks, in training order)";

    /// <summary>
    /// A line of means with markers, over a translucent band of ±half-width where there are at least two seeds
    /// (<paramref name="scale"/>: 100 for percentages).
    /// </summary>
    public static ScottPlot.Plottables.Scatter Line(Plot plot, double[] xs, IReadOnlyList<MeanWithConfidence> values, double scale,
        Color colour, LinePattern pattern, string? legend)
    {
        // An undefined point (a ratio divided by zero) is left out rather than drawn.
        var defined = Enumerable.Range(0, xs.Length).Where(i => !double.IsNaN(values[i].Mean)).ToArray();
        (xs, values) = (defined.Select(i => xs[i]).ToArray(), defined.Select(i => values[i]).ToArray());
        var means = values.Select(v => scale * v.Mean).ToArray();
        if (values.All(v => v.Count > 1 && !double.IsNaN(v.HalfWidth)))
        {
            var band = plot.Add.FillY(xs, means.Zip(values, (m, v) => m - scale * v.HalfWidth).ToArray(), means.Zip(values, (m, v) => m + scale * v.HalfWidth).ToArray());
            band.FillColor = colour.WithAlpha(0.18);
            band.LineWidth = 0;
        }
        var line = plot.Add.Scatter(xs, means, colour);
        line.LinePattern = pattern;
        line.LineWidth = 2;
        line.MarkerSize = 7;
        line.LegendText = legend ?? "";
        return line;
    }

    /// <summary>"sgd (3 seeds)"; "(1 seed, no interval)" says why a line has no band.</summary>
    public static string Legend(Series s) =>
        s.Seeds.Count == 1 ? $"{s.DisplayName} (1 seed, no interval)" : $"{s.DisplayName} ({s.Seeds.Count} seeds)";

    /// <summary>Ticks 1..n on the axis (tasks are numbered from 1 in the figures).</summary>
    public static void TaskTicks(IAxis axis, int tasks) =>
        axis.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            Enumerable.Range(1, tasks).Select(t => (double)t).ToArray(), Enumerable.Range(1, tasks).Select(Text).ToArray());

    public static void IntegerTicks(IAxis axis) =>
        axis.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };

    public static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>Saves atomically (as every result file) and describes the figure for the page.</summary>
    public static ReportFigure Save(Plot plot, string path, int width, int height, string title, string caption)
    {
        ResultFiles.WriteAtomically(path, tmp => plot.SavePng(tmp, width, height));
        return new ReportFigure(path, title, caption, width, height);
    }

    public static ReportFigure Save(Multiplot figure, string path, int width, int height, string title, string caption)
    {
        ResultFiles.WriteAtomically(path, tmp => figure.SavePng(tmp, width, height));
        return new ReportFigure(path, title, caption, width, height);
    }

    /// <summary>A file name part from free text (experiment, series or run names).</summary>
    public static string FileName(string text) =>
        string.Concat(text.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_'));
}
