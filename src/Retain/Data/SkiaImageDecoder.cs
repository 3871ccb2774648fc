using System.Runtime.InteropServices;
using SkiaSharp;

namespace Retain.Data;

/// <summary>
/// Image files (PNG, JPEG and the other formats Skia decodes) for the CUB-200 and image-folder readers, via SkiaSharp.
/// Images become RGB as PIL's <c>convert("RGB")</c> does: grey is replicated, alpha is dropped (not composited), and
/// embedded colour profiles are ignored.
/// </summary>
internal static class SkiaImageDecoder
{
    /// <summary>
    /// Bounds on the decoded size (4 bytes a pixel) that a header may claim: never more than <see cref="MaxPixels"/>,
    /// and beyond <see cref="PixelsAnyFileMayClaim"/> no more than <see cref="PixelsPerFileByte"/> times the file
    /// length (deflate expands at most ~1032:1; baseline JPEG needs at least ~2 bits per 64-pixel block).
    /// CUB's photos are at most 0.25 MP.
    /// </summary>
    private const long MaxPixels = 40_000_000, PixelsAnyFileMayClaim = 4_000_000, PixelsPerFileByte = 1100;
    private const long MaxFileBytes = 256L << 20;

    /// <summary>
    /// Downscaling reads mipmaps (box-filtered halvings) with linear filtering, so every source pixel contributes, as
    /// with PIL's antialiased resampling; the values are close to but not bit-identical with PIL's.
    /// </summary>
    private static readonly SKSamplingOptions Sampling = new(SKFilterMode.Linear, SKMipmapMode.Linear);

    /// <summary>Decodes <paramref name="path"/> into an RGBA bitmap whose alpha is 255 everywhere.</summary>
    public static SKBitmap DecodeRgb(string path)
    {
        if (!File.Exists(path)) throw new DataFileException(path, "image file not found");
        byte[] bytes;
        try
        {
            var length = new FileInfo(path).Length;
            if (length == 0) throw new DataFileException(path, "empty image file");
            if (length > MaxFileBytes) throw new DataFileException(path, $"{length} bytes is too large for an image of this data set");
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DataFileException(path, $"cannot read ({e.Message})", e);
        }

        using var codec = SKCodec.Create(new MemoryStream(bytes, writable: false), out var opened);
        if (codec is null) throw new DataFileException(path, $"not a decodable image ({Describe(opened)})");
        var (width, height) = (codec.Info.Width, codec.Info.Height);
        var allowed = Math.Min(MaxPixels, Math.Max(PixelsAnyFileMayClaim, PixelsPerFileByte * bytes.LongLength));
        if (width <= 0 || height <= 0 || (long)width * height > allowed)
            throw new DataFileException(path, $"image size {width}x{height} is more than a {bytes.Length}-byte file can hold (at most {allowed} pixels)");

        // No colour space in the target: Skia then converts no colours, as PIL ignores ICC profiles.
        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var bitmap = new SKBitmap(info);
        var result = codec.GetPixels(info, bitmap.GetPixels());
        if (result != SKCodecResult.Success)
        {
            bitmap.Dispose();
            throw new DataFileException(path, $"corrupt image data ({Describe(result)})");
        }
        var rgba = bitmap.GetPixelSpan();
        for (var i = 3; i < rgba.Length; i += 4) rgba[i] = 255;
        return bitmap;
    }

    /// <summary>Resizes (stretching) to <paramref name="width"/> x <paramref name="height"/>; returns the RGBA bytes, row-major.</summary>
    public static byte[] ResizeRgba(SKBitmap source, int width, int height)
    {
        using var target = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        if (!source.ScalePixels(target, Sampling)) throw new InvalidOperationException($"Skia could not scale a {source.Width}x{source.Height} bitmap to {width}x{height}");
        var bytes = new byte[width * height * 4];
        Marshal.Copy(target.GetPixels(), bytes, 0, bytes.Length);
        return bytes;
    }

    private static string Describe(SKCodecResult result) => result switch
    {
        SKCodecResult.IncompleteInput => "truncated",
        SKCodecResult.ErrorInInput => "error in the compressed data",
        SKCodecResult.Unimplemented => "unsupported format or variant",
        SKCodecResult.InvalidInput => "unrecognised format",
        _ => result.ToString(),
    };
}
