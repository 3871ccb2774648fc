using Retain.Data;

namespace Retain.Tests;

public class ImageCacheTests : TempFolderTests
{
    private static ImageSet Sample(byte shade) => new([shade, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, shade], [0, 1, 2], 1, 2, 2);

    [Fact]
    public void BuildsOnceThenReadsTheSameImages()
    {
        var dir = Folder;
        var source = Path.Combine(dir, "source.bin");
        File.WriteAllText(source, "v1");
        var builds = 0;
        ImageSet Build() { builds++; return Sample(200); }
        var first = ImageCache.GetOrBuild(dir, "toy.train", [source], Build);
        var second = ImageCache.GetOrBuild(dir, "toy.train", [source], Build);
        Assert.Equal(1, builds);
        Assert.Equal(first.Pixels, second.Pixels);
        Assert.Equal(first.Labels, second.Labels);
        Assert.Equal((1, 2, 2), (second.Channels, second.Height, second.Width));
    }

    [Fact]
    public void RebuildsWhenTheSourceChangesOrTheEntryIsCorrupt()
    {
        var dir = Folder;
        var source = Path.Combine(dir, "source.bin");
        File.WriteAllText(source, "v1");
        var builds = 0;
        ImageSet Build() { builds++; return Sample((byte)builds); }
        ImageCache.GetOrBuild(dir, "toy.train", [source], Build);

        File.WriteAllText(source, "version 2"); // stale: size and time changed
        Assert.Equal(2, ImageCache.GetOrBuild(dir, "toy.train", [source], Build).Pixels[0]);

        var entry = ImageCache.PathFor(dir, "toy.train");
        var bytes = File.ReadAllBytes(entry);
        bytes[^1] ^= 0xff; // corrupt: checksum fails
        File.WriteAllBytes(entry, bytes);
        Assert.Equal(3, ImageCache.GetOrBuild(dir, "toy.train", [source], Build).Pixels[0]);

        File.WriteAllBytes(entry, bytes[..20]); // truncated
        Assert.Equal(4, ImageCache.GetOrBuild(dir, "toy.train", [source], Build).Pixels[0]);
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(entry)!, "*.tmp"));
    }
}
