using Retain.Data;

namespace Retain.Tests;

public class ReadersCifarBinaryTests : TempFolderTests
{
    /// <summary>Records of label byte(s) then 3072 pixel bytes, as the binary distribution stores them.</summary>
    internal static byte[] Records(IEnumerable<byte[]> labelBytes, int seed = 0) =>
        labelBytes.SelectMany((labels, i) => labels.Concat(Pixels(i, seed))).ToArray();

    internal static byte[] Pixels(int image, int seed = 0) => Enumerable.Range(0, 3072).Select(p => (byte)(p * 7 + image * 13 + seed)).ToArray();

    [Fact]
    public void ReadsCifar10Records()
    {
        var set = CifarBinaryReader.ReadCifar10(Write("data_batch_1.bin", Records([[6], [9], [0]])));
        Assert.Equal((3, 3, 32, 32), (set.Count, set.Channels, set.Height, set.Width));
        Assert.Equal(new byte[] { 6, 9, 0 }, set.Labels);
        Assert.Equal(Pixels(0).Concat(Pixels(1)).Concat(Pixels(2)), set.Pixels);
    }

    [Fact]
    public void ReadsCifar100FineLabels()
    {
        var set = CifarBinaryReader.ReadCifar100(Write("train.bin", Records([[19, 99], [0, 3]])));
        Assert.Equal(new byte[] { 99, 3 }, set.Labels);
        Assert.Equal(Pixels(0).Concat(Pixels(1)), set.Pixels);
    }

    [Fact]
    public void PartialRecordIsAClearError()
    {
        var path = Write("short.bin", Records([[1], [2]])[..^1]);
        var e = Assert.Throws<DataFileException>(() => CifarBinaryReader.ReadCifar10(path));
        Assert.StartsWith(path, e.Message);
        Assert.Contains("not a whole number of 3073-byte records", e.Message);
    }

    [Fact]
    public void LabelOutOfRangeIsAClearError()
    {
        Assert.Contains("label 10 of record 1 is outside 0..9",
            Assert.Throws<DataFileException>(() => CifarBinaryReader.ReadCifar10(Write("a.bin", Records([[1], [10]])))).Message);
        Assert.Contains("coarse label 20 of record 0 is outside 0..19",
            Assert.Throws<DataFileException>(() => CifarBinaryReader.ReadCifar100(Write("b.bin", Records([[20, 1]])))).Message);
    }

    [Fact]
    public void EmptyOrMissingFileIsAClearError()
    {
        Assert.Contains("empty file", Assert.Throws<DataFileException>(() => CifarBinaryReader.ReadCifar10(Write("e.bin", []))).Message);
        Assert.Contains("file not found", Assert.Throws<DataFileException>(() => CifarBinaryReader.ReadCifar10(Path.Combine(Folder, "none.bin"))).Message);
    }
}
