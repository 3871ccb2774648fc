using Retain.Data;
using SkiaSharp;

namespace Retain.Tests;

/// <summary>CUB-200-2011 and image-folder readers, on folders of images made with SkiaSharp.</summary>
public class ReadersImageTests : TempFolderTests
{
    /// <summary>
    /// A CUB_200_2011 folder with three images of unequal sides: a white 64x32 PNG (train, class 3), a red 20x40 JPEG
    /// (test, class 1) and a blue 10x10 PNG (train, class 2); ids listed out of order in images.txt.
    /// </summary>
    internal static string WriteCub(string root)
    {
        var folder = Path.Combine(root, "CUB_200_2011");
        Directory.CreateDirectory(Path.Combine(folder, "images", "001.A"));
        Directory.CreateDirectory(Path.Combine(folder, "images", "002.B"));
        File.WriteAllBytes(Path.Combine(folder, "images", "002.B", "wide.png"), TestImages.Solid(64, 32, SKColors.White));
        File.WriteAllBytes(Path.Combine(folder, "images", "001.A", "tall.jpg"), TestImages.Solid(20, 40, new SKColor(255, 0, 0), SKEncodedImageFormat.Jpeg));
        File.WriteAllBytes(Path.Combine(folder, "images", "001.A", "small.png"), TestImages.Solid(10, 10, new SKColor(0, 0, 255)));
        File.WriteAllText(Path.Combine(folder, "classes.txt"), "1 001.A\n2 002.B\n3 003.C\n");
        File.WriteAllText(Path.Combine(folder, "images.txt"), "2 001.A/tall.jpg\n1 002.B/wide.png\n3 001.A/small.png\n");
        File.WriteAllText(Path.Combine(folder, "train_test_split.txt"), "1 1\n2 0\n3 1\n");
        File.WriteAllText(Path.Combine(folder, "image_class_labels.txt"), "1 3\n2 1\n3 2\n\n");
        return folder;
    }

    private static byte Pixel(ImageSet set, int image, int channel, int y, int x) =>
        set.Pixels[((image * set.Channels + channel) * set.Height + y) * set.Width + x];

    [Fact]
    public void CubImagesAreFittedIntoTheCentreOfABlack32x32Square()
    {
        var (train, test) = Cub200Reader.Load(WriteCub(Folder));
        Assert.Equal((2, 3, 32, 32), (train.Count, train.Channels, train.Height, train.Width));
        Assert.Equal(new byte[] { 2, 1 }, train.Labels); // class ids 3 and 2, shifted to start at 0
        Assert.Equal(new byte[] { 0 }, test.Labels);

        // 64x32 white -> scale 0.5 -> 32x16, rows 8..23 white, the rest black.
        for (var y = 0; y < 32; y++)
            for (var x = 0; x < 32; x++)
                for (var c = 0; c < 3; c++)
                    Assert.Equal(y is >= 8 and < 24 ? 255 : 0, Pixel(train, 0, c, y, x));

        // 10x10 blue -> scale 3.2 -> 32x32: fills the square.
        Assert.All(Enumerable.Range(0, 32 * 32), p => Assert.Equal(255, Pixel(train, 1, 2, p / 32, p % 32)));
        Assert.All(Enumerable.Range(0, 32 * 32), p => Assert.Equal(0, Pixel(train, 1, 0, p / 32, p % 32)));

        // 20x40 red JPEG -> scale 0.8 -> 16x32 at columns 8..23; JPEG is lossy, so red is near 255.
        for (var y = 0; y < 32; y++)
            for (var x = 0; x < 32; x++)
            {
                var inside = x is >= 8 and < 24;
                Assert.True(inside ? Pixel(test, 0, 0, y, x) > 240 : Pixel(test, 0, 0, y, x) == 0, $"red at ({y},{x})");
                Assert.True(inside ? Pixel(test, 0, 1, y, x) < 15 : Pixel(test, 0, 1, y, x) == 0, $"green at ({y},{x})");
            }
    }

    [Fact]
    public void MissingOrCorruptCubImageNamesTheImageFile()
    {
        var folder = WriteCub(Folder);
        var image = Path.Combine(folder, "images", "001.A", "small.png");
        File.WriteAllBytes(image, TestImages.Solid(10, 10, SKColors.Blue)[..40]);
        Assert.StartsWith(image, Assert.Throws<DataFileException>(() => Cub200Reader.Load(folder)).Message);
        File.Delete(image);
        var e = Assert.Throws<DataFileException>(() => Cub200Reader.Load(folder));
        Assert.StartsWith(image, e.Message);
        Assert.Contains("not found", e.Message);
    }

    [Fact]
    public void InconsistentCubIndexFilesAreClearErrors()
    {
        var folder = WriteCub(Folder);
        File.WriteAllText(Path.Combine(folder, "image_class_labels.txt"), "1 3\n2 1\n");
        Assert.Contains("image_class_labels.txt: no line for image id 3", Assert.Throws<DataFileException>(() => Cub200Reader.Load(folder)).Message);
        File.WriteAllText(Path.Combine(folder, "image_class_labels.txt"), "1 3\n2 1\n3 9\n");
        Assert.Contains("class '9' of image id 3 is not in classes.txt", Assert.Throws<DataFileException>(() => Cub200Reader.Load(folder)).Message);
        File.WriteAllText(Path.Combine(folder, "image_class_labels.txt"), "1 3\n2 1\n2 2\n");
        Assert.Contains("line 3: id 2 appears twice", Assert.Throws<DataFileException>(() => Cub200Reader.Load(folder)).Message);
        File.WriteAllText(Path.Combine(folder, "image_class_labels.txt"), "1 3\n2 1\n3\n");
        Assert.Contains("line 3 is not \"<id> <value>\"", Assert.Throws<DataFileException>(() => Cub200Reader.Load(folder)).Message);
        File.Delete(Path.Combine(folder, "train_test_split.txt"));
        Assert.Contains("train_test_split.txt: file not found", Assert.Throws<DataFileException>(() => Cub200Reader.Load(folder)).Message);
    }

    [Fact]
    public void ImageFolderReadsClassesInNameOrderStretchedToTheRequestedSize()
    {
        var root = Path.Combine(Folder, "custom");
        Directory.CreateDirectory(Path.Combine(root, "zebra"));
        Directory.CreateDirectory(Path.Combine(root, "apple", "more"));
        File.WriteAllBytes(Path.Combine(root, "zebra", "b.png"), TestImages.Solid(7, 3, new SKColor(0, 255, 0)));
        File.WriteAllBytes(Path.Combine(root, "zebra", "a.JPG"), TestImages.Solid(30, 30, new SKColor(255, 255, 255), SKEncodedImageFormat.Jpeg));
        File.WriteAllBytes(Path.Combine(root, "apple", "more", "c.png"), TestImages.Encode(40, 20, (x, _) => x < 20 ? SKColors.Black : SKColors.White));
        File.WriteAllText(Path.Combine(root, "apple", "notes.txt"), "not an image");

        var rgb = ImageFolderReader.Read(root, channels: 3, height: 8, width: 8);
        Assert.Equal(["apple", "zebra"], rgb.ClassNames);
        Assert.Equal(new byte[] { 0, 1, 1 }, rgb.Images.Labels);
        Assert.Equal((3, 8, 8), (rgb.Images.Channels, rgb.Images.Height, rgb.Images.Width));
        // apple/more/c.png: left half black, right half white, stretched to 8x8.
        Assert.Equal(0, Pixel(rgb.Images, 0, 0, 4, 0));
        Assert.Equal(255, Pixel(rgb.Images, 0, 2, 4, 7));
        // zebra/a.JPG comes before zebra/b.png; b.png is pure green.
        Assert.True(Pixel(rgb.Images, 1, 0, 3, 3) > 245);
        Assert.Equal((0, 255, 0), (Pixel(rgb.Images, 2, 0, 5, 5), Pixel(rgb.Images, 2, 1, 5, 5), Pixel(rgb.Images, 2, 2, 5, 5)));

        var grey = ImageFolderReader.Read(root, channels: 1, height: 4, width: 6);
        Assert.Equal((1, 4, 6), (grey.Images.Channels, grey.Images.Height, grey.Images.Width));
        // Luminance of pure green, as PIL's convert("L"): round(0.587 * 255) = 150.
        Assert.Equal(150, Pixel(grey.Images, 2, 0, 2, 3));
    }

    [Fact]
    public void ImageFolderProblemsAreClearErrors()
    {
        var root = Path.Combine(Folder, "bad");
        Directory.CreateDirectory(root);
        Assert.Contains("no class folders", Assert.Throws<DataFileException>(() => ImageFolderReader.Read(root, 3, 8, 8)).Message);
        Directory.CreateDirectory(Path.Combine(root, "empty"));
        Assert.Contains("no .png/.jpg/.jpeg images", Assert.Throws<DataFileException>(() => ImageFolderReader.Read(root, 3, 8, 8)).Message);
        var broken = Path.Combine(root, "empty", "broken.png");
        File.WriteAllText(broken, "not a png");
        Assert.StartsWith(broken, Assert.Throws<DataFileException>(() => ImageFolderReader.Read(root, 3, 8, 8)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => ImageFolderReader.Read(root, 2, 8, 8));
    }
}
