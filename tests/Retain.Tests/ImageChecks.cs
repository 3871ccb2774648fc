using SkiaSharp;

namespace Retain.Tests;

/// <summary>Pixel checks for rendered images (screenshots, PNG figures): that something was drawn where it should be.</summary>
public static class ImageChecks
{
    /// <summary>Decodes an image file (PNG, JPEG, ...) into a bitmap; throws when the file is not an image.</summary>
    public static SKBitmap Load(string path) =>
        SKBitmap.Decode(path) ?? throw new InvalidDataException($"{path}: not an image SkiaSharp can decode");

    /// <summary>How many different colours the <paramref name="area"/> of the image holds (the whole image by default).</summary>
    public static int CountColours(SKBitmap image, SKRectI? area = null)
    {
        var region = area ?? new SKRectI(0, 0, image.Width, image.Height);
        if (region.Left < 0 || region.Top < 0 || region.Right > image.Width || region.Bottom > image.Height || region.IsEmpty)
            throw new ArgumentOutOfRangeException(nameof(area), $"{region} is not a non-empty area of a {image.Width}x{image.Height} image");
        var colours = new HashSet<SKColor>();
        for (var y = region.Top; y < region.Bottom; y++)
            for (var x = region.Left; x < region.Right; x++)
                colours.Add(image.GetPixel(x, y));
        return colours.Count;
    }

    /// <summary>True when the <paramref name="area"/> (the whole image by default) is a single colour: nothing drawn there.</summary>
    public static bool IsBlank(SKBitmap image, SKRectI? area = null) => CountColours(image, area) == 1;

    /// <summary>True when every channel of the two colours differs by at most <paramref name="tolerance"/>.</summary>
    public static bool Near(SKColor actual, SKColor expected, int tolerance = 8) =>
        Math.Abs(actual.Red - expected.Red) <= tolerance && Math.Abs(actual.Green - expected.Green) <= tolerance &&
        Math.Abs(actual.Blue - expected.Blue) <= tolerance && Math.Abs(actual.Alpha - expected.Alpha) <= tolerance;
}
