namespace Retain.Data;

/// <summary>Images read from a folder of class folders, and the class names (label i is <c>ClassNames[i]</c>).</summary>
public sealed record ImageFolder(ImageSet Images, IReadOnlyList<string> ClassNames);

/// <summary>
/// Reader for custom benchmarks laid out as torchvision's ImageFolder: one subfolder per class, classes numbered in
/// ordinal order of their names, images (PNG, JPEG; by extension) anywhere below each class folder, taken in ordinal
/// order of their paths. Each image is decoded with SkiaSharp, stretched to the requested size and converted to the
/// requested channel count: 3 = RGB, 1 = luminance 0.299 R + 0.587 G + 0.114 B, rounded (PIL's <c>convert("L")</c>).
/// </summary>
internal static class ImageFolderReader
{
    private static readonly string[] Extensions = [".png", ".jpg", ".jpeg"];
    private const int MaxClasses = 256; // labels are bytes
    /// <summary>The largest image side a benchmark may ask for.</summary>
    public const int MaxSide = 4096;

    public static ImageFolder Read(string folder, int channels, int height, int width)
    {
        if (channels is not (1 or 3)) throw new ArgumentOutOfRangeException(nameof(channels), channels, "1 (grey) or 3 (RGB)");
        if (height is < 1 or > MaxSide || width is < 1 or > MaxSide)
            throw new ArgumentOutOfRangeException(nameof(height), $"{height}x{width}: sides must be 1..{MaxSide}");
        if (!Directory.Exists(folder)) throw new DataFileException(folder, "folder not found");

        var classFolders = Directory.GetDirectories(folder).Order(StringComparer.Ordinal).ToArray();
        if (classFolders.Length == 0) throw new DataFileException(folder, "no class folders (expected one subfolder per class)");
        if (classFolders.Length > MaxClasses) throw new DataFileException(folder, $"{classFolders.Length} class folders, at most {MaxClasses} are supported");

        var files = new List<(string Path, byte Label)>();
        for (var label = 0; label < classFolders.Length; label++)
        {
            var images = Directory.EnumerateFiles(classFolders[label], "*", SearchOption.AllDirectories)
                .Where(f => Extensions.Contains(Path.GetExtension(f), StringComparer.OrdinalIgnoreCase))
                .Order(StringComparer.Ordinal)
                .ToArray();
            if (images.Length == 0) throw new DataFileException(classFolders[label], $"no {string.Join("/", Extensions)} images in this class folder");
            files.AddRange(images.Select(f => (f, (byte)label)));
        }

        var imageBytes = channels * height * width;
        if ((long)files.Count * imageBytes > Array.MaxLength)
            throw new DataFileException(folder, $"{files.Count} images of {channels}x{height}x{width} need {(long)files.Count * imageBytes} bytes, more than one array holds ({Array.MaxLength}): give a smaller \"image\" size");
        var pixels = new byte[(long)files.Count * imageBytes];
        var errors = new DataFileException?[files.Count];
        Parallel.For(0, files.Count, i =>
        {
            try { Convert(files[i].Path, channels, height, width).CopyTo(pixels, (long)i * imageBytes); }
            catch (DataFileException e) { errors[i] = e; }
        });
        if (errors.FirstOrDefault(e => e is not null) is { } error) throw error;
        var names = classFolders.Select(f => Path.GetFileName(f)).ToArray();
        return new ImageFolder(new ImageSet(pixels, files.Select(f => f.Label).ToArray(), channels, height, width), names);
    }

    private static byte[] Convert(string path, int channels, int height, int width)
    {
        using var image = SkiaImageDecoder.DecodeRgb(path);
        var rgba = SkiaImageDecoder.ResizeRgba(image, width, height);
        var plane = height * width;
        var chw = new byte[channels * plane];
        for (var p = 0; p < plane; p++)
        {
            if (channels == 3)
                for (var c = 0; c < 3; c++) chw[c * plane + p] = rgba[4 * p + c];
            else
                // PIL's fixed-point form of the ITU-R 601 weights (they sum to 65536).
                chw[p] = (byte)((rgba[4 * p] * 19595 + rgba[4 * p + 1] * 38470 + rgba[4 * p + 2] * 7471 + 0x8000) >> 16);
        }
        return chw;
    }
}
