using Retain.Data;

namespace Retain.Tests;

public class ReadersSvhnTests : TempFolderTests
{
    /// <summary>A distinct value for (row, column, channel, image), so that any transposition mistake shows.</summary>
    private static byte Value(int row, int column, int channel, int image) => (byte)(row * 5 + column * 3 + channel * 101 + image * 37);

    /// <summary>X as MATLAB stores a 32x32x3xN array: column-major, the first index (row) varying fastest.</summary>
    internal static byte[] ColumnMajorX(int count)
    {
        var x = new byte[32 * 32 * 3 * count];
        for (var n = 0; n < count; n++)
            for (var c = 0; c < 3; c++)
                for (var column = 0; column < 32; column++)
                    for (var row = 0; row < 32; row++)
                        x[row + 32 * (column + 32 * (c + 3 * n))] = Value(row, column, c, n);
        return x;
    }

    internal static byte[] SvhnFile(bool compressed, double[] labels, bool bigEndian = false, bool labelsAsUInt8 = false) =>
        MatWriter.Write(compressed, bigEndian,
            MatWriter.UInt8("X", [32, 32, 3, labels.Length], ColumnMajorX(labels.Length)),
            labelsAsUInt8
                // MATLAB stores a double array of small whole numbers with uint8 storage.
                ? new MatWriter.Variable("y", MatWriter.MxDouble, [labels.Length, 1], MatWriter.MiUInt8, labels.Select(l => (byte)l).ToArray())
                : MatWriter.Doubles("y", [labels.Length, 1], labels));

    [Theory]
    [InlineData(false, false, false)]
    [InlineData(true, false, false)]
    [InlineData(false, true, false)]
    [InlineData(true, true, false)]
    [InlineData(true, false, true)]
    public void ReadsColumnMajorImagesAsChannelMajorAndMapsLabel10ToDigit0(bool compressed, bool bigEndian, bool labelsAsUInt8)
    {
        var set = SvhnReader.Read(Write("train_32x32.mat", SvhnFile(compressed, [10, 3], bigEndian, labelsAsUInt8)));
        Assert.Equal((2, 3, 32, 32), (set.Count, set.Channels, set.Height, set.Width));
        Assert.Equal(new byte[] { 0, 3 }, set.Labels);
        for (var n = 0; n < 2; n++)
            for (var c = 0; c < 3; c++)
                for (var row = 0; row < 32; row++)
                    for (var column = 0; column < 32; column++)
                        Assert.Equal(Value(row, column, c, n), set.Pixels[((n * 3 + c) * 32 + row) * 32 + column]);
    }

    [Fact]
    public void OtherVariablesAreSkipped()
    {
        var bytes = MatWriter.Write(true, false,
            MatWriter.Doubles("__extra", [1, 2], [1, 2]),
            MatWriter.UInt8("X", [32, 32, 3], ColumnMajorX(1)),
            MatWriter.Doubles("y", [1, 1], [7]));
        var set = SvhnReader.Read(Write("one.mat", bytes));
        Assert.Equal(new byte[] { 7 }, set.Labels);
    }

    [Fact]
    public void LabelOutsideOneToTenIsAClearError()
    {
        var path = Write("bad_label.mat", SvhnFile(false, [1, 11]));
        Assert.Contains("label 11 at index 1 of 'y' is not one of 1..10", Assert.Throws<DataFileException>(() => SvhnReader.Read(path)).Message);
    }

    [Fact]
    public void LabelCountMismatchIsAClearError()
    {
        var bytes = MatWriter.Write(false, false,
            MatWriter.UInt8("X", [32, 32, 3, 2], ColumnMajorX(2)),
            MatWriter.Doubles("y", [3, 1], [1, 2, 3]));
        var path = Write("count.mat", bytes);
        Assert.Contains("'y' is 3x1, expected 2x1", Assert.Throws<DataFileException>(() => SvhnReader.Read(path)).Message);
    }

    [Fact]
    public void DimensionsThatDisagreeWithTheDataAreAClearError()
    {
        var bytes = MatWriter.Write(false, false,
            MatWriter.UInt8("X", [32, 32, 3, 3], ColumnMajorX(2)),
            MatWriter.Doubles("y", [3, 1], [1, 2, 3]));
        var e = Assert.Throws<DataFileException>(() => SvhnReader.Read(Write("dims.mat", bytes)));
        Assert.Contains("'X' is 32x32x3x3 (9216 elements) but its data holds 6144 bytes", e.Message);
    }

    [Fact]
    public void WrongImageShapeIsAClearError()
    {
        var bytes = MatWriter.Write(false, false,
            MatWriter.UInt8("X", [32, 32, 6], ColumnMajorX(2)),
            MatWriter.Doubles("y", [1, 1], [1]));
        Assert.Contains("'X' is 32x32x6, expected 32x32x3xN", Assert.Throws<DataFileException>(() => SvhnReader.Read(Write("s.mat", bytes))).Message);
    }

    [Fact]
    public void TruncatedOrCorruptFilesAreClearErrors()
    {
        foreach (var compressed in new[] { false, true })
        {
            var bytes = SvhnFile(compressed, [1, 2]);
            foreach (var keep in new[] { 0, 100, 128, 136, bytes.Length / 2, bytes.Length - 1 })
            {
                var path = Write($"cut_{compressed}_{keep}.mat", bytes[..keep]);
                Assert.StartsWith(path, Assert.Throws<DataFileException>(() => SvhnReader.Read(path)).Message);
            }
        }
        var mangled = SvhnFile(true, [1, 2]);
        for (var i = 200; i < 260; i++) mangled[i] ^= 0x5a;
        var corrupt = Write("corrupt.mat", mangled);
        var corruptError = Assert.Throws<DataFileException>(() => SvhnReader.Read(corrupt)).Message;
        Assert.StartsWith(corrupt, corruptError);
        Assert.DoesNotContain("unsupported compression method", corruptError);
        // The file ends with the zlib checksum of y: a wrong one must be noticed.
        var badChecksum = SvhnFile(true, [1, 2]);
        badChecksum[^1] ^= 1;
        var checksum = Write("checksum.mat", badChecksum);
        Assert.StartsWith(checksum, Assert.Throws<DataFileException>(() => SvhnReader.Read(checksum)).Message);
    }

    [Fact]
    public void CompressedElementClaimingFarMoreThanItHoldsIsRejectedBeforeAllocating()
    {
        // A compressed element whose inner miMATRIX tag claims 4 GB: far more than 20-odd compressed bytes inflate to.
        var innerTag = new byte[16];
        BitConverter.GetBytes(MatWriter.MiMatrix).CopyTo(innerTag, 0);
        BitConverter.GetBytes(0xFFFFFFF0u).CopyTo(innerTag, 4);
        var zipped = new MemoryStream();
        using (var zlib = new System.IO.Compression.ZLibStream(zipped, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true)) zlib.Write(innerTag);
        var element = new byte[8 + zipped.Length];
        BitConverter.GetBytes(MatWriter.MiCompressed).CopyTo(element, 0);
        BitConverter.GetBytes((int)zipped.Length).CopyTo(element, 4);
        zipped.ToArray().CopyTo(element, 8);
        var valid = SvhnFile(true, [1]);
        var path = Write("bomb.mat", [.. valid[..128], .. element, .. valid[128..]]);
        Assert.Contains("more than its", Assert.Throws<DataFileException>(() => SvhnReader.Read(path)).Message);
    }

    [Fact]
    public void NotAMatFileIsAClearError()
    {
        var path = Write("text.mat", new byte[200]);
        Assert.Contains("not a MATLAB 5 MAT-file", Assert.Throws<DataFileException>(() => SvhnReader.Read(path)).Message);
        var v73 = SvhnFile(false, [1]);
        v73[124] = 0x00; v73[125] = 0x02;
        Assert.Contains("7.3", Assert.Throws<DataFileException>(() => SvhnReader.Read(Write("v73.mat", v73))).Message);
        var noY = MatWriter.Write(true, false, MatWriter.UInt8("X", [32, 32, 3], ColumnMajorX(1)));
        Assert.Contains("no variable named 'y'", Assert.Throws<DataFileException>(() => SvhnReader.Read(Write("noy.mat", noY))).Message);
    }
}
