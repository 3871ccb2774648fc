using System.Buffers.Binary;
using System.IO.Compression;
using Retain.Data;

namespace Retain.Tests;

public class IdxReaderTests : TempFolderTests
{
    /// <summary>Writes an IDX file: big-endian magic (0x0800 | rank), big-endian dimensions, the bytes.</summary>
    internal static byte[] Idx(int[] shape, byte[] data, int magic = -1)
    {
        var bytes = new byte[4 + 4 * shape.Length + data.Length];
        BinaryPrimitives.WriteInt32BigEndian(bytes, magic >= 0 ? magic : 0x0800 | shape.Length);
        for (var d = 0; d < shape.Length; d++) BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4 + 4 * d), shape[d]);
        data.CopyTo(bytes, 4 + 4 * shape.Length);
        return bytes;
    }

    internal static byte[] Gzip(byte[] raw)
    {
        using var output = new MemoryStream();
        using (var gz = new GZipStream(output, CompressionLevel.Fastest)) gz.Write(raw);
        return output.ToArray();
    }

    private static readonly byte[] TwoImages = Enumerable.Range(0, 2 * 3 * 4).Select(i => (byte)i).ToArray();

    [Fact]
    public void ReadsRawAndGzipImageFiles()
    {
        foreach (var bytes in new[] { Idx([2, 3, 4], TwoImages), Gzip(Idx([2, 3, 4], TwoImages)) })
        {
            var array = IdxReader.Read(Write("images", bytes), 3);
            Assert.Equal([2, 3, 4], array.Shape);
            Assert.Equal(TwoImages, array.Data);
        }
    }

    [Fact]
    public void ReadsMatchingImagesAndLabels()
    {
        var images = Write("img.gz", Gzip(Idx([2, 3, 4], TwoImages)));
        var labels = Write("lbl", Idx([2], [7, 1]));
        var (read, l) = IdxReader.ReadImagesAndLabels(images, labels, 10);
        Assert.Equal(2, read.Count);
        Assert.Equal(new byte[] { 7, 1 }, l);
    }

    [Fact]
    public void TruncatedRawFileIsAClearError()
    {
        var path = Write("short", Idx([2, 3, 4], TwoImages)[..^5]);
        var e = Assert.Throws<DataFileException>(() => IdxReader.Read(path, 3));
        Assert.Contains("truncated", e.Message);
        Assert.StartsWith(path, e.Message);
    }

    [Fact]
    public void TruncatedGzipFileIsAClearError()
    {
        var path = Write("short.gz", Gzip(Idx([2, 3, 4], TwoImages))[..^6]);
        var e = Assert.Throws<DataFileException>(() => IdxReader.Read(path, 3));
        Assert.StartsWith(path, e.Message);
    }

    [Fact]
    public void CorruptGzipDataIsReportedAsSuchNotAsAnUnsupportedMethod()
    {
        var pixels = Enumerable.Range(0, 4 * 28 * 28).Select(i => (byte)(i * 7919 % 251)).ToArray();
        var gzip = Gzip(Idx([4, 28, 28], pixels));
        for (var i = 12; i < 40; i++) gzip[i] ^= 0xa5; // inside the deflate stream, after the 10-byte gzip header
        var path = Write("corrupt.gz", gzip);
        var e = Assert.Throws<DataFileException>(() => IdxReader.Read(path, 3));
        Assert.Equal($"{path}: corrupt or truncated gzip file: its compressed data cannot be decoded", e.Message);
    }

    [Fact]
    public void BadMagicIsAClearError()
    {
        var path = Write("magic", Idx([2, 3, 4], TwoImages, magic: 0x12345678));
        var e = Assert.Throws<DataFileException>(() => IdxReader.Read(path, 3));
        Assert.Contains("bad magic number", e.Message);
    }

    [Fact]
    public void WrongRankIsAClearError()
    {
        var path = Write("rank", Idx([24], TwoImages));
        var e = Assert.Throws<DataFileException>(() => IdxReader.Read(path, 3));
        Assert.Contains("rank 1, expected 3", e.Message);
    }

    [Fact]
    public void HeaderPromisingMoreThanTheFileHoldsFailsBeforeAllocating()
    {
        // 2^31-1 x 1000 x 1000 bytes would be petabytes: the size check must fire, not an OutOfMemoryException.
        var path = Write("huge", Idx([int.MaxValue, 1000, 1000], TwoImages));
        Assert.Throws<DataFileException>(() => IdxReader.Read(path, 3));
        var gz = Write("huge.gz", Gzip(Idx([100_000, 1000, 10], TwoImages)));
        Assert.Throws<DataFileException>(() => IdxReader.Read(gz, 3));
    }

    [Fact]
    public void LabelCountMismatchIsAClearError()
    {
        var images = Write("img", Idx([2, 3, 4], TwoImages));
        var labels = Write("lbl", Idx([3], [1, 2, 3]));
        var e = Assert.Throws<DataFileException>(() => IdxReader.ReadImagesAndLabels(images, labels, 10));
        Assert.Contains("3 labels for 2 images", e.Message);
    }

    [Fact]
    public void LabelOutOfRangeIsAClearError()
    {
        var images = Write("img", Idx([2, 3, 4], TwoImages));
        var labels = Write("lbl", Idx([2], [1, 12]));
        var e = Assert.Throws<DataFileException>(() => IdxReader.ReadImagesAndLabels(images, labels, 10));
        Assert.Contains("label 12 at index 1", e.Message);
    }

    [Fact]
    public void MissingFileIsAClearError() =>
        Assert.Contains("file not found", Assert.Throws<DataFileException>(() => IdxReader.Read(Path.Combine(Folder, "nope"), 1)).Message);
}
