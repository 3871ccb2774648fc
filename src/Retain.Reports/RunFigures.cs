using System.Globalization;
using Retain.Training;
using ScottPlot;
using static Retain.Reports.FigureStyle;

namespace Retain.Reports;

/// <summary>
/// Figures of one run from its JSON record's per-epoch history: learning curves (loss, accuracy, learning rate) and
/// the approach's own scalars, over the epochs of all tasks in training order, with the task boundaries marked.
/// </summary>
internal static class RunFigures
{
    public const int Width = 1100, PanelHeight = 300;
    /// <summary>The same margins in every panel, so that their epoch axes line up; the right one holds the legend.</summary>
    private static readonly PixelPadding Margins = new(left: 90, right: 220, bottom: 50, top: 62);

    /// <summary>
    /// Train and valid loss, train and valid accuracy, and the learning rate (log scale) per epoch; rings mark the
    /// epoch whose model was kept for each task (its last epoch that improved on the best validation loss).
    /// Null for a run without a recorded history (no JSON record, or the random reference, which does not train).
    /// </summary>
    public static ReportFigure? Curves(ReportRun run, ApproachColours colours, PlottedValues values, string folder)
    {
        if (run.Record is not { History.Count: > 0 } record) return null;
        var history = record.History;
        var xs = Enumerable.Range(1, history.Count).Select(x => (double)x).ToArray();
        var colour = colours[run.Name.Approach];
        var kept = KeptEpochs(history);
        var figure = new Multiplot();
        figure.AddPlots(3);

        var panels = new (string Name, string Unit, Func<EpochRecord, double> Train, Func<EpochRecord, double> Valid)[]
        {
            ("loss", "loss (cross-entropy, per-sample mean)", e => e.TrainLoss, e => e.ValidLoss),
            ("accuracy", "accuracy (%)", e => 100 * e.TrainAccuracy, e => 100 * e.ValidAccuracy),
        };
        for (var p = 0; p < panels.Length; p++)
        {
            var (name, unit, train, valid) = panels[p];
            var plot = figure.GetPlot(p);
            Curve(plot, xs, history.Select(train).ToArray(), colour, LinePattern.Solid, "train", values, run, "train " + name);
            Curve(plot, xs, history.Select(valid).ToArray(), colour, LinePattern.Dashed, "valid", values, run, "valid " + name);
            var rings = plot.Add.Markers(kept.Select(i => xs[i]).ToArray(), kept.Select(i => valid(history[i])).ToArray(), MarkerShape.OpenCircle, 15, Colors.Black);
            rings.LegendText = "model kept for the task";
            foreach (var i in kept) values.Add("learning_curves", run.Name.Experiment, run.Label, "kept epoch (valid " + name + ")", Text(i + 1), "", valid(history[i]));
            Style(plot, history, unit, p == 0 ? $"{run.Label}: learning curves{(run.IsPartial ? $" (partial: {run.CompletedTasks} of {run.TasksToRun} tasks)" : "")}" : null);
            plot.ShowLegend(Edge.Right);
        }

        var lr = figure.GetPlot(2);
        var logRate = history.Select(e => Math.Log10(e.LearningRate)).ToArray();
        Curve(lr, xs, logRate, colour, LinePattern.Solid, "learning rate", null, run, "");
        for (var i = 0; i < history.Count; i++) values.Add("learning_curves", run.Name.Experiment, run.Label, "learning rate", Text(i + 1), "", history[i].LearningRate);
        lr.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
        {
            IntegerTicksOnly = true, MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
            LabelFormatter = y => Math.Pow(10, y).ToString("G3", CultureInfo.InvariantCulture),
        };
        lr.Axes.SetLimitsY(Math.Floor(logRate.Min()) - 0.1, Math.Ceiling(logRate.Max()) + 0.1);
        Style(lr, history, "learning rate (log scale)", null);
        lr.ShowLegend(Edge.Right);
        return Save(figure, Path.Combine(folder, $"{FileName(run.Label)}_curves.png"), Width, 3 * PanelHeight,
            $"{run.Label}: learning curves",
            "Per epoch of every task in training order: train (solid) and valid (dashed) loss and accuracy, and the learning rate; " +
            "rings mark the epoch whose model was kept for each task (its last improvement of the validation loss), dotted lines the task boundaries.");
    }

    /// <summary>The approach's scalars (DWA's loss terms and mask use, HAT's capacity in use, EWC's penalty), one panel each; null without any.</summary>
    public static ReportFigure? Scalars(ReportRun run, ApproachColours colours, PlottedValues values, string folder)
    {
        if (run.Record is not { History.Count: > 0 } record) return null;
        var history = record.History;
        var names = history.SelectMany(e => e.Scalars.Keys).Distinct().Order(StringComparer.Ordinal).ToArray();
        if (names.Length == 0) return null;
        var figure = new Multiplot();
        figure.AddPlots(names.Length);
        for (var p = 0; p < names.Length; p++)
        {
            var plot = figure.GetPlot(p);
            // An epoch that did not report the scalar (before the approach started to) is a gap, not a zero.
            var epochs = Enumerable.Range(0, history.Count).Where(i => history[i].Scalars.ContainsKey(names[p])).ToArray();
            Curve(plot, epochs.Select(i => i + 1.0).ToArray(), epochs.Select(i => history[i].Scalars[names[p]]).ToArray(),
                colours[run.Name.Approach], LinePattern.Solid, names[p], values, run, names[p]);
            Style(plot, history, Unit(names[p]), $"{run.Label}: {names[p]}");
            plot.HideLegend();
        }
        return Save(figure, Path.Combine(folder, $"{FileName(run.Label)}_scalars.png"), Width, names.Length * PanelHeight,
            $"{run.Label}: approach scalars",
            "The scalars the approach reported for each epoch (epoch means), over the epochs of all tasks in training order; dotted lines are the task boundaries.");
    }

    /// <summary>Shares (mask use, capacity in use) are fractions of the weights; the others are loss terms.</summary>
    private static string Unit(string scalar) => scalar.EndsWith("_use", StringComparison.Ordinal) ? "share of weights (0-1)" : "loss term (epoch mean)";

    /// <summary>Per task, the index (in the history) of its last epoch that improved: the model the task kept.</summary>
    public static int[] KeptEpochs(IReadOnlyList<EpochRecord> history) =>
        Enumerable.Range(0, history.Count).Where(i => history[i].Improved)
            .GroupBy(i => history[i].Task).Select(g => g.Max()).ToArray();

    private static void Curve(Plot plot, double[] xs, double[] ys, Color colour, LinePattern pattern, string legend,
        PlottedValues? values, ReportRun run, string panel)
    {
        var line = plot.Add.Scatter(xs, ys, colour);
        line.LinePattern = pattern;
        line.LineWidth = 2;
        line.MarkerSize = xs.Length > 60 ? 0 : 4;
        line.LegendText = legend;
        if (values is null) return;
        for (var i = 0; i < xs.Length; i++) values.Add("learning_curves", run.Name.Experiment, run.Label, panel, Text((int)xs[i]), "", ys[i]);
    }

    /// <summary>
    /// Axis labels, integer epochs, fixed margins, a dotted line where each task after the first starts and the tasks'
    /// numbers on the top axis, over their epochs.
    /// </summary>
    private static void Style(Plot plot, IReadOnlyList<EpochRecord> history, string yLabel, string? title)
    {
        var starts = Enumerable.Range(0, history.Count).Where(i => i == 0 || history[i].Task != history[i - 1].Task).ToArray();
        foreach (var start in starts.Skip(1)) plot.Add.VerticalLine(start + 0.5, 1, Colors.Gray, LinePattern.Dotted);
        var ends = starts.Skip(1).Append(history.Count).ToArray();
        plot.Axes.Top.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            starts.Select((s, k) => (s + 1 + ends[k]) / 2.0).ToArray(), starts.Select(s => $"task {history[s].Task + 1}").ToArray());
        plot.Axes.Top.IsVisible = true;
        if (title is not null) plot.Title(title, 15);
        plot.XLabel(EpochAxis, 13);
        plot.YLabel(yLabel, 13);
        IntegerTicks(plot.Axes.Bottom);
        plot.Axes.SetLimitsX(0.5, history.Count + 0.5);
        plot.Axes.SetLimitsX(0.5, history.Count + 0.5, plot.Axes.Top);
        plot.Layout.Fixed(Margins);
    }
}
