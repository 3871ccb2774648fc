using System.Globalization;
using System.Text;
using Retain.Evaluation;

namespace Retain.Reports;

/// <summary>
/// Every number a report plots or tabulates, as the figures draw it, for one CSV (<c>report.csv</c>): a row per point
/// with the figure, experiment, series and panel it belongs to, its coordinates, its value, the half-width of its 95%
/// interval (empty for one seed) and the number of seeds behind it.
/// </summary>
internal sealed class PlottedValues
{
    public const string Header = "figure,experiment,series,panel,x,y,value,ci_half_width,seeds";
    private readonly StringBuilder _csv = new(Header + "\n");

    public void Add(string figure, string experiment, string series, string panel, string x, string y, double value, double halfWidth = double.NaN, int seeds = 1) =>
        _csv.AppendJoin(',', figure, experiment, CsvField.Quote(series), CsvField.Quote(panel), CsvField.Quote(x), CsvField.Quote(y), Number(value), Number(halfWidth),
            seeds.ToString(CultureInfo.InvariantCulture)).Append('\n');

    /// <summary>A mean over seeds, scaled as plotted (100 for percentages).</summary>
    public void Add(string figure, string experiment, string series, string panel, string x, string y, MeanWithConfidence value, double scale = 1) =>
        Add(figure, experiment, series, panel, x, y, scale * value.Mean, scale * value.HalfWidth, value.Count);

    public override string ToString() => _csv.ToString();

    public static string Number(double value) => double.IsNaN(value) ? "" : value.ToString("0.##########", CultureInfo.InvariantCulture);
}
