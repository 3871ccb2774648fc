using SkiaSharp;

namespace Retain.Tests;

/// <summary>Small images for the image readers' tests, encoded with SkiaSharp.</summary>
public static class TestImages
{
    /// <summary>Encodes a <paramref name="width"/> x <paramref name="height"/> image whose pixel (x, y) is <paramref name="color"/>(x, y).</summary>
    public static byte[] Encode(int width, int height, Func<int, int, SKColor> color, SKEncodedImageFormat format = SKEncodedImageFormat.Png)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
                bitmap.SetPixel(x, y, color(x, y));
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(format, 95);
        return data.ToArray();
    }

    public static byte[] Solid(int width, int height, SKColor color, SKEncodedImageFormat format = SKEncodedImageFormat.Png) =>
        Encode(width, height, (_, _) => color, format);
}
