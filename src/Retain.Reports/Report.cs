using Retain.Evaluation;

namespace Retain.Reports;

/// <summary>One run on the page: the figures drawn of it (learning curves, scalars) and the pictures its approach drew.</summary>
internal sealed record RunSection(ReportRun Run, IReadOnlyList<ReportFigure> Figures, IReadOnlyList<ReportFigure> Pictures);

/// <summary>One experiment on the page: its results, the figures that compare approaches, its grids and its runs.</summary>
internal sealed record ExperimentSection(ExperimentResults Results, IReadOnlyList<ReportFigure> Comparison, IReadOnlyList<ReportFigure> Matrices,
    IReadOnlyList<ReportFigure> Grids, IReadOnlyList<RunSection> Runs);

/// <summary>What a report wrote: the page, the CSV, every PNG it drew, and its notes (also on the page).</summary>
public sealed record ReportResult(string Page, string Csv, IReadOnlyList<ReportFigure> Figures, IReadOnlyList<string> Notes);

/// <summary>
/// <c>retain report</c>: from result files, the figures of the papers (accuracy per task after each task learnt,
/// forgetting ratio), accuracy matrices, learning curves and approach scalars per run, grids, and the pictures the
/// approaches drew, as PNGs, one CSV of every number plotted (<c>report.csv</c>) and one self-contained HTML page
/// (<c>report.html</c>, images embedded).
/// </summary>
public static class Report
{
    public const string PageName = "report.html", CsvName = "report.csv";

    public static ReportResult Write(ReportSources sources, string output, SummaryMetric gridMetric, string title)
    {
        OutputPaths.RequireFolder(output, "--output");
        output = Path.GetFullPath(output);
        Directory.CreateDirectory(output);
        var colours = new ApproachColours(sources.Runs.Select(r => r.Name.Approach));
        var values = new PlottedValues();
        var notes = new List<string>(sources.Notes);
        var sections = ExperimentResults.Of(sources).Select(e => Section(e, colours, values, gridMetric, output, notes)).ToArray();
        var compression = ApproachPictures.Compression(sources.Runs.Select(r => r.Folder), notes);

        var csv = Path.Combine(output, CsvName);
        ResultFiles.WriteText(csv, values.ToString());
        var page = Path.Combine(output, PageName);
        ResultFiles.WriteText(page, ReportPage.Html(title, sections, compression, notes));
        var figures = sections.SelectMany(s => s.Comparison.Concat(s.Matrices).Concat(s.Grids).Concat(s.Runs.SelectMany(r => r.Figures))).ToArray();
        return new ReportResult(page, csv, figures, [.. notes, .. sections.SelectMany(s => s.Results.Notes)]);
    }

    private static ExperimentSection Section(ExperimentResults e, ApproachColours colours, PlottedValues values, SummaryMetric gridMetric,
        string output, List<string> notes)
    {
        var comparison = new List<ReportFigure> { ComparisonFigures.Accuracy(e, colours, values, output) };
        if (ComparisonFigures.ForgettingRatio(e, colours, values, output) is { } rho) comparison.Add(rho);
        if (ComparisonFigures.TaskAgnostic(e, colours, values, output) is { } agnostic) comparison.Add(agnostic);
        var matrices = e.Shown.Select(s => ComparisonFigures.Matrix(e, s, values, output)).ToArray();
        var grids = GridFigures.Grids(e, gridMetric, values, output).ToArray();
        foreach (var s in e.Series.Where(s => !s.IsReference))
            foreach (var metric in SummaryMetric.All)
                if (metric.Value(s.Summary) is { } value)
                    values.Add("summary", e.Title, s.DisplayName, metric.Name, "", "", value, metric.Scale);
        var runs = e.Series.SelectMany(s => s.Runs.OrderBy(r => r.Name.Seed))
            .Select(run => new RunSection(run,
                new[] { RunFigures.Curves(run, colours, values, output), RunFigures.Scalars(run, colours, values, output) }.OfType<ReportFigure>().ToArray(),
                ApproachPictures.Of(run, notes)))
            .ToArray();
        return new ExperimentSection(e, comparison, matrices, grids, runs);
    }
}
