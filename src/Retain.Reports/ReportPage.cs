using System.Globalization;
using System.Net;
using System.Text;
using Retain.Evaluation;

namespace Retain.Reports;

/// <summary>
/// The report as one HTML page that opens from disk with no network: every image embedded as a data URI, the style
/// inline, no script. Per experiment: the summary table, its notes, the comparison figures, accuracy matrices, grids,
/// then each run's learning curves, scalars and approach pictures.
/// </summary>
internal static class ReportPage
{
    private const string Style = """
        body { font: 15px/1.45 system-ui, sans-serif; color: #1d1d1d; margin: 24px auto; max-width: 1200px; padding: 0 16px; }
        h1 { font-size: 26px; } h2 { border-bottom: 2px solid #ddd; padding-bottom: 4px; margin-top: 40px; } h4 { margin-bottom: 4px; }
        table.summary { border-collapse: collapse; margin: 12px 0; }
        table.summary th, table.summary td { border: 1px solid #ccc; padding: 4px 10px; text-align: right; }
        table.summary td { white-space: nowrap; }
        table.summary th:first-child, table.summary td:first-child, table.summary td:nth-child(2) { text-align: left; }
        table.summary tr.shown td:first-child { font-weight: 600; }
        ul.notes { background: #fff8e1; border-left: 4px solid #f0b400; padding: 8px 8px 8px 28px; }
        figure { margin: 16px 0; } figcaption { color: #555; font-size: 14px; max-width: 1100px; }
        figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
        .row { display: flex; flex-wrap: wrap; gap: 12px; } .row figure { margin: 8px 0; }
        """;

    public static string Html(string title, IReadOnlyList<ExperimentSection> sections, IReadOnlyList<ReportFigure> compression, IReadOnlyList<string> notes)
    {
        var html = new StringBuilder();
        html.Append($"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{E(title)}</title><style>\n{Style}</style></head><body>\n");
        html.Append($"<h1>{E(title)}</h1>\n<p>Every number plotted is in <code>{Report.CsvName}</code> beside this page. Tasks are numbered from 1 in training order; ");
        html.Append("means are over seeds, with 95% Student-t intervals (± half-width) where there are at least two.</p>\n");
        html.Append("<nav><ul>").AppendJoin("", sections.Select(s => $"<li><a href=\"#{Id(s.Results.FileStem)}\">{E(s.Results.Title)}</a></li>")).Append("</ul></nav>\n");
        Notes(html, notes);
        foreach (var section in sections) Experiment(html, section);
        if (compression.Count > 0)
        {
            html.Append("<h2 id=\"compression\">HAT compression</h2>\n");
            foreach (var picture in compression) Figure(html, picture);
        }
        return html.Append("</body></html>\n").ToString();
    }

    private static void Experiment(StringBuilder html, ExperimentSection section)
    {
        var e = section.Results;
        html.Append($"<section id=\"{Id(e.FileStem)}\">\n<h2>Experiment {E(e.Title)}</h2>\n");
        html.Append($"<p>{e.Tasks} task{(e.Tasks == 1 ? "" : "s")}: {E(string.Join(", ", e.TaskNames))}.</p>\n");
        Summary(html, e);
        Notes(html, e.Notes);
        foreach (var figure in section.Comparison) Figure(html, figure);
        if (e.Shown.All(s => s.IsReference || s.ForgettingRatio is null))
            html.Append("<p><em>No forgetting-ratio figure: no run has usable random and joint references (see the notes).</em></p>\n");
        html.Append("<h3>Accuracy matrices</h3>\n<div class=\"row\">");
        foreach (var figure in section.Matrices) Figure(html, figure);
        html.Append("</div>\n");
        if (section.Grids.Count > 0)
        {
            html.Append("<h3>Grids</h3>\n");
            foreach (var figure in section.Grids) Figure(html, figure);
        }
        html.Append("<h3>Runs</h3>\n");
        foreach (var run in section.Runs)
        {
            html.Append($"<h4 id=\"{Id(run.Run.Label)}\">{E(run.Run.Label)}</h4>\n");
            if (run.Figures.Count == 0)
                html.Append(run.Run.Record is null ? "<p><em>No JSON record beside the accuracy matrix: no learning curves.</em></p>\n"
                    : "<p><em>No epochs in the record (this approach does not train).</em></p>\n");
            foreach (var figure in run.Figures.Concat(run.Pictures)) Figure(html, figure);
        }
        html.Append("</section>\n");
    }

    private static void Summary(StringBuilder html, ExperimentResults e)
    {
        html.Append($"<table class=\"summary\" id=\"summary-{Id(e.FileStem)}\">\n<thead><tr><th>approach</th><th>grid point or name</th><th>seeds</th><th>tasks</th>");
        html.AppendJoin("", SummaryMetric.All.Select(m => $"<th title=\"{E(m.Label)}\">{E(m.Header)}</th>")).Append("<th>in figures</th></tr></thead>\n<tbody>\n");
        foreach (var s in e.Series.Where(s => !s.IsReference))
        {
            html.Append($"<tr class=\"{(s.Shown ? "shown" : "")}\" data-series=\"{E(s.DisplayName)}\"><td>{E(s.Approach)}</td><td>{E(s.Label ?? "")}</td>");
            html.Append($"<td>{E(string.Join(",", s.Seeds.Select(r => r.Name.Seed)))}</td><td>{s.Tasks}</td>");
            html.AppendJoin("", SummaryMetric.All.Select(m => $"<td>{E(Describe(m.Value(s.Summary), m.Scale, s.Seeds.Count))}</td>"));
            html.Append($"<td>{(s.Shown ? "yes" : "")}</td></tr>\n");
        }
        html.Append("</tbody></table>\n");
        var references = e.Series.Where(s => s.IsReference).Select(s => $"{s.DisplayName} (seeds {string.Join(",", s.Seeds.Select(r => r.Name.Seed))})").ToArray();
        html.Append($"<p>References (not evaluated; they normalise ρ and FWT): {E(references.Length == 0 ? "none" : string.Join(", ", references))}.</p>\n");
    }

    /// <summary>"73.33 ± 1.20"; without interval for one seed; the count where fewer seeds than the series' define it.</summary>
    private static string Describe(MeanWithConfidence? value, double scale, int seeds)
    {
        if (value is not { } m) return "n/a";
        var text = (scale * m.Mean).ToString("F2", CultureInfo.InvariantCulture);
        if (!double.IsNaN(m.HalfWidth)) text += " ± " + (scale * m.HalfWidth).ToString("F2", CultureInfo.InvariantCulture);
        return m.Count < seeds ? $"{text} ({m.Count} of {seeds} seeds)" : text;
    }

    private static void Notes(StringBuilder html, IReadOnlyList<string> notes)
    {
        if (notes.Count == 0) return;
        html.Append("<ul class=\"notes\">").AppendJoin("", notes.Select(n => $"<li>{E(n)}</li>")).Append("</ul>\n");
    }

    private static void Figure(StringBuilder html, ReportFigure figure)
    {
        var data = Convert.ToBase64String(File.ReadAllBytes(figure.Path));
        html.Append($"<figure><img src=\"data:image/png;base64,{data}\" width=\"{figure.Width}\" height=\"{figure.Height}\" alt=\"{E(figure.Title)}\">");
        html.Append($"<figcaption><strong>{E(figure.Title)}.</strong> {E(figure.Caption)}</figcaption></figure>\n");
    }

    private static string E(string text) => WebUtility.HtmlEncode(text);

    private static string Id(string text) => "x-" + string.Concat(text.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '_'));
}
