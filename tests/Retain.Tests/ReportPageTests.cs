using System.Globalization;
using System.Text.RegularExpressions;
using Retain.Evaluation;
using Retain.Reports;
using SkiaSharp;
using static Retain.Tests.ReportFixtures;

namespace Retain.Tests;

/// <summary>The report's HTML page as a real browser (headless Chromium) shows it: table rows, every image decoded, drawn figures.</summary>
public class ReportPageTests : TempFolderTests
{
    // Added to a copy of the page (the report itself has no script): each image's decoded size and its place on the page.
    private const string Probe = """
        <script>
          for (const img of document.images) {
            const record = () => {
              const r = img.getBoundingClientRect();
              Object.assign(img.dataset, { naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight,
                left: Math.round(r.left), top: Math.round(r.top), shownWidth: Math.round(r.width), shownHeight: Math.round(r.height) });
            };
            if (img.complete) record(); else { img.addEventListener('load', record); img.addEventListener('error', record); }
          }
        </script>
        """;

    private string WriteReport()
    {
        WriteThreeTasks(Folder);
        // A picture of the HAT tools where `--log-path logs` puts it (a subfolder): the page embeds it with its run.
        var logs = Directory.CreateDirectory(Path.Combine(Folder, "logs")).FullName;
        HatPlots.MaskHeatmap(Path.Combine(logs, "exp3_ewc_0_masks_fc1.png"), "fc1", new double[,] { { 0, 1, 0.5 }, { 1, 0, 0.2 } }, ["a", "b"], 400);
        var (code, printed) = RetainCli("report", Folder);
        Assert.True(code == 0, printed);
        var probed = Path.Combine(Folder, "probed.html");
        File.WriteAllText(probed, File.ReadAllText(Path.Combine(Folder, "report", Report.PageName)).Replace("</body>", Probe + "</body>", StringComparison.Ordinal));
        return probed;
    }

    private static int Attribute(string element, string name) =>
        int.Parse(Regex.Match(element, $" {name}=\"(-?\\d+)\"").Groups[1].Value, CultureInfo.InvariantCulture);

    [Fact]
    public void DomHoldsTheSummaryRowsAndEveryImageDecoded()
    {
        var dom = HeadlessChromium.Instance.DumpDom(WriteReport());

        var table = Regex.Match(dom, "<table class=\"summary\" id=\"summary-x-exp3\">.*?</table>", RegexOptions.Singleline).Value;
        Assert.Equal(3, Regex.Count(table, "<tr[ >]"));   // the header, sgd and ewc (references are not rows)
        Assert.Contains("<td>70.00 ± 29.95</td>", table); // sgd's ACC (ReportTests: 70 ± 29.9488)
        Assert.Contains("<td>2.50 (1 of 2 seeds)</td>", table);
        Assert.Contains("<td>81.67</td>", table);         // ewc: one seed, no interval

        // Nine figures drawn (figure 5 and 6, four matrices, curves of both records, ewc's scalars) and the HAT picture.
        var images = Regex.Matches(dom, "<img [^>]*>").Select(m => m.Value).ToArray();
        Assert.Equal(10, images.Length);
        Assert.Single(images, i => i.Contains("alt=\"exp3_ewc_0: HAT task masks, layer fc1\"", StringComparison.Ordinal));
        foreach (var image in images)
        {
            Assert.True(Attribute(image, "data-natural-width") > 0 && Attribute(image, "data-natural-height") > 0, image[..120]);
            Assert.Equal((Attribute(image, "width"), Attribute(image, "height")), (Attribute(image, "data-natural-width"), Attribute(image, "data-natural-height")));
        }
    }

    [Fact]
    public void ScreenshotShowsTheFigures()
    {
        var probed = WriteReport();
        var images = Regex.Matches(HeadlessChromium.Instance.DumpDom(probed), "<img [^>]*>").Select(m => m.Value).ToArray();
        var screenshot = Path.Combine(Folder, "page.png");
        HeadlessChromium.Instance.Screenshot(probed, screenshot, 1280, 2000);

        using var page = ImageChecks.Load(screenshot);
        Assert.True(ImageChecks.CountColours(page) > 100, "the page is nearly blank");
        // The first two figures (accuracy per task, forgetting ratio) are on screen and drawn where the browser put them.
        foreach (var image in images.Take(2))
        {
            var (left, top) = (Attribute(image, "data-left"), Attribute(image, "data-top"));
            var area = new SKRectI(left, top, left + Attribute(image, "data-shown-width"), Math.Min(top + Attribute(image, "data-shown-height"), page.Height));
            Assert.True(area.Height > 200, $"figure at {area} is off screen");
            Assert.True(ImageChecks.CountColours(page, area) > 50, $"figure area {area} is nearly empty");
        }
    }
}
