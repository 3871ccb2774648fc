using System.Text.RegularExpressions;
using SkiaSharp;

namespace Retain.Tests;

/// <summary>Smoke tests of the headless Chromium that will render the HTML report (tools/setup-chromium.sh).</summary>
public class HeadlessChromiumTests : TempFolderTests
{
    // The figure: 64x48 pixels in four coloured quadrants, placed at a fixed spot of the page, so the screenshot can
    // be checked pixel by pixel against it.
    private const int FigureLeft = 300, FigureTop = 20, FigureWidth = 64, FigureHeight = 48;
    private static readonly SKColor[] QuadrantColours = [new(200, 30, 30), new(30, 160, 40), new(30, 60, 200), new(240, 200, 20)];

    private static SKColor Figure(int x, int y) => QuadrantColours[(x < FigureWidth / 2 ? 0 : 1) + (y < FigureHeight / 2 ? 0 : 2)];

    private string WritePage()
    {
        var png = Convert.ToBase64String(TestImages.Encode(FigureWidth, FigureHeight, Figure));
        var page = Path.Combine(Folder, "page.html");
        File.WriteAllText(page, $$"""
            <!doctype html>
            <html><head><meta charset="utf-8"><style>
              body { margin: 0; background: #fff; font: 14px sans-serif; }
              #figure { position: absolute; left: {{FigureLeft}}px; top: {{FigureTop}}px; }
            </style></head><body>
            <table id="results"><tr><th>approach</th><th>accuracy</th></tr><tr><td>sgd</td><td>0.61</td></tr><tr><td>hat</td><td>0.93</td></tr></table>
            <img id="figure" alt="figure" src="data:image/png;base64,{{png}}">
            <script>
              // Each image's decoded size goes into the DOM: 0 x 0 if it did not decode.
              for (const img of document.images) {
                const record = () => { img.dataset.naturalWidth = img.naturalWidth; img.dataset.naturalHeight = img.naturalHeight; };
                if (img.complete) record(); else { img.addEventListener('load', record); img.addEventListener('error', record); }
              }
            </script>
            </body></html>
            """);
        return page;
    }

    [Fact]
    public void DomHoldsTheTableAndTheDecodedImage()
    {
        var dom = HeadlessChromium.Instance.DumpDom(WritePage());

        Assert.Equal(3, Regex.Count(dom, "<tr>"));
        Assert.Contains("<tr><td>hat</td><td>0.93</td></tr>", dom);
        var image = Regex.Match(dom, "<img [^>]*>").Value;
        Assert.Contains("id=\"figure\"", image);
        Assert.Contains($"data-natural-width=\"{FigureWidth}\"", image);
        Assert.Contains($"data-natural-height=\"{FigureHeight}\"", image);
    }

    [Fact]
    public void ScreenshotShowsTheFigureWhereThePagePutsIt()
    {
        var screenshot = Path.Combine(Folder, "page.png");
        HeadlessChromium.Instance.Screenshot(WritePage(), screenshot, 480, 200);

        using var image = ImageChecks.Load(screenshot);
        Assert.Equal((480, 200), (image.Width, image.Height));
        Assert.False(ImageChecks.IsBlank(image));
        Assert.False(ImageChecks.IsBlank(image, new SKRectI(FigureLeft, FigureTop, FigureLeft + FigureWidth, FigureTop + FigureHeight)));
        Assert.True(ImageChecks.IsBlank(image, new SKRectI(FigureLeft, 100, 480, 200)), "the page below the figure is plain background");
        foreach (var (x, y) in new[] { (16, 12), (48, 12), (16, 36), (48, 36) })
        {
            var shown = image.GetPixel(FigureLeft + x, FigureTop + y);
            Assert.True(ImageChecks.Near(shown, Figure(x, y)), $"figure pixel ({x}, {y}) shows {shown}, expected {Figure(x, y)}");
        }
    }
}
