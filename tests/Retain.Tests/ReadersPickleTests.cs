using Retain.Data;

namespace Retain.Tests;

/// <summary>The pickle readers (CIFAR python version, GTSRB, FaceScrub, notMNIST) on pickles in every flavour the data comes in.</summary>
public class ReadersPickleTests : TempFolderTests
{
    public static TheoryData<PickleFlavour> Flavours() => new(Enum.GetValues<PickleFlavour>());

    private static byte[] Bytes(int count, int seed) => Enumerable.Range(0, count).Select(i => (byte)(i * 31 + seed)).ToArray();

    /// <summary>A CIFAR batch as the python version stores it: data [N,3072] uint8 and a list of labels.</summary>
    internal static byte[] CifarPickle(PickleFlavour flavour, byte[] pixels, int[] labels, bool cifar100 = false)
    {
        var dict = new Dictionary<string, object> { ["batch_label"] = "training batch 1 of 5" };
        if (cifar100)
        {
            dict["fine_labels"] = labels;
            dict["coarse_labels"] = labels.Select(l => l / 5).ToArray();
        }
        else dict["labels"] = labels;
        dict["data"] = NdArray.UInt8([labels.Length, 3072], pixels);
        dict["filenames"] = labels.Select((_, i) => $"image_{i}.png").ToArray();
        return PickleWriter.Dumps(dict, flavour);
    }

    [Theory, MemberData(nameof(Flavours))]
    public void ReadsCifar10Batches(PickleFlavour flavour)
    {
        var pixels = Bytes(3 * 3072, 5);
        var set = CifarPickleReader.ReadCifar10(Write("data_batch_1", CifarPickle(flavour, pixels, [9, 0, 4])));
        Assert.Equal((3, 32, 32), (set.Channels, set.Height, set.Width));
        Assert.Equal(new byte[] { 9, 0, 4 }, set.Labels);
        Assert.Equal(pixels, set.Pixels); // the python version is already channel-major
    }

    [Theory, MemberData(nameof(Flavours))]
    public void ReadsCifar100FineLabels(PickleFlavour flavour)
    {
        var pixels = Bytes(2 * 3072, 1);
        var set = CifarPickleReader.ReadCifar100(Write("train", CifarPickle(flavour, pixels, [99, 42], cifar100: true)));
        Assert.Equal(new byte[] { 99, 42 }, set.Labels);
        Assert.Equal(pixels, set.Pixels);
    }

    [Fact]
    public void CifarLabelsMayBeNumpyArraysOfAnyIntegerType()
    {
        var pickle = PickleWriter.Dumps(new Dictionary<string, object>
        {
            ["data"] = NdArray.UInt8([2, 3072], Bytes(2 * 3072, 0)),
            ["labels"] = NdArray.Int64(7, 2),
        }, PickleFlavour.Protocol4);
        Assert.Equal(new byte[] { 7, 2 }, CifarPickleReader.ReadCifar10(Write("b", pickle)).Labels);
    }

    [Theory, MemberData(nameof(Flavours))]
    public void LabelsMayBeListsOfNumpyScalars(PickleFlavour flavour)
    {
        var pickle = PickleWriter.Dumps(new Dictionary<string, object>
        {
            ["features"] = NdArray.UInt8([2, 32, 32, 3], Bytes(2 * 3072, 0)),
            ["labels"] = new object[] { NdScalar.Int64(41), NdScalar.Int64(3) },
        }, flavour);
        Assert.Equal(new byte[] { 41, 3 }, FeaturesPickleReader.ReadTrafficSigns(Write("scalars.p", pickle)).Labels);
    }

    [Fact]
    public void CifarWrongShapeIsAClearError()
    {
        var pickle = PickleWriter.Dumps(new Dictionary<string, object>
        {
            ["data"] = NdArray.UInt8([2, 3, 1024], Bytes(2 * 3072, 0)),
            ["labels"] = new[] { 1, 2 },
        }, PickleFlavour.Python2);
        var path = Write("wrong_shape", pickle);
        var e = Assert.Throws<DataFileException>(() => CifarPickleReader.ReadCifar10(path));
        Assert.StartsWith(path, e.Message);
        Assert.Contains("'data' has shape [2,3,1024], expected [N,3072]", e.Message);
    }

    [Fact]
    public void CifarLabelCountMismatchIsAClearError()
    {
        var pickle = PickleWriter.Dumps(new Dictionary<string, object>
        {
            ["data"] = NdArray.UInt8([2, 3072], Bytes(2 * 3072, 0)),
            ["labels"] = new[] { 1, 2, 3 },
        }, PickleFlavour.Python2);
        var path = Write("count", pickle);
        Assert.Contains("3 labels in 'labels' for 2 images", Assert.Throws<DataFileException>(() => CifarPickleReader.ReadCifar10(path)).Message);
    }

    [Fact]
    public void CifarLabelOutOfRangeIsAClearError()
    {
        var path = Write("range", CifarPickle(PickleFlavour.Python2, Bytes(2 * 3072, 0), [1, 10]));
        Assert.Contains("label 10 at index 1 of 'labels' is outside 0..9", Assert.Throws<DataFileException>(() => CifarPickleReader.ReadCifar10(path)).Message);
    }

    [Fact]
    public void MissingKeyNamesTheKeysThereAre()
    {
        var path = Write("keys", CifarPickle(PickleFlavour.Python2, Bytes(3072, 0), [1]));
        var e = Assert.Throws<DataFileException>(() => CifarPickleReader.ReadCifar100(path));
        Assert.Contains("no 'fine_labels' entry in the pickled dict (keys: batch_label, data, filenames, labels)", e.Message);
    }

    [Theory, MemberData(nameof(Flavours))]
    public void TruncatedPickleIsAClearError(PickleFlavour flavour)
    {
        var bytes = CifarPickle(flavour, Bytes(2 * 3072, 0), [1, 2]);
        foreach (var keep in new[] { 1, 20, bytes.Length / 2, bytes.Length - 1 })
        {
            var path = Write($"cut{keep}", bytes[..keep]);
            var e = Assert.Throws<DataFileException>(() => CifarPickleReader.ReadCifar10(path));
            Assert.StartsWith(path, e.Message);
        }
    }

    [Fact]
    public void ArrayWhoseShapeDisagreesWithItsBytesIsRejectedBeforeUse()
    {
        // A shape of 2^31 x 3072 with 6 KB of data: the size check must fire, not an allocation.
        var pickle = PickleWriter.Dumps(new Dictionary<string, object>
        {
            ["data"] = NdArray.UInt8([int.MaxValue, 3072], Bytes(2 * 3072, 0)),
            ["labels"] = new[] { 1, 2 },
        }, PickleFlavour.Protocol4);
        var e = Assert.Throws<DataFileException>(() => CifarPickleReader.ReadCifar10(Write("huge", pickle)));
        Assert.Contains("shape", e.Message);
    }

    [Fact]
    public void HugeTextIntegerIsRejectedWithoutParsingIt()
    {
        // LONG with a million digits: BigInteger.Parse would take seconds; Python itself refuses over 4300 digits.
        byte[] pickle = [0x80, 2, (byte)'L', .. Enumerable.Repeat((byte)'7', 1_000_000), (byte)'L', (byte)'\n', (byte)'.'];
        var e = Assert.Throws<DataFileException>(() => CifarPickleReader.ReadCifar10(Write("long", pickle)));
        Assert.Contains("a text integer of 1000001 characters at byte 2", e.Message);
    }

    [Fact]
    public void PickleThatWouldBuildFarMoreThanItsSizeIsRejectedBeforeUnpickling()
    {
        // 20 million EMPTY_DICT opcodes: 20 MB of file, but gigabytes of Hashtables once built.
        byte[] pickle = [0x80, 2, .. Enumerable.Repeat((byte)'}', 20_000_000), (byte)'.'];
        var e = Assert.Throws<DataFileException>(() => CifarPickleReader.ReadCifar10(Write("dicts", pickle)));
        Assert.Contains("would already build over 4 GB of objects", e.Message);
    }

    [Fact]
    public void NotAPickleIsAClearError()
    {
        var path = Write("text", "this is not a pickle\n"u8.ToArray());
        Assert.Contains("not a valid pickle", Assert.Throws<DataFileException>(() => CifarPickleReader.ReadCifar10(path)).Message);
        Assert.Contains("file not found", Assert.Throws<DataFileException>(() => CifarPickleReader.ReadCifar10(Path.Combine(Folder, "nope"))).Message);
        var list = Write("list", PickleWriter.Dumps(new[] { 1, 2 }, PickleFlavour.Protocol4));
        Assert.Contains("holds a list, not a dict", Assert.Throws<DataFileException>(() => CifarPickleReader.ReadCifar10(list)).Message);
    }

    [Theory, MemberData(nameof(Flavours))]
    public void ReadsTrafficSignsTransposingHwcToChw(PickleFlavour flavour)
    {
        // Pixel (y, x, c) of image n holds a value that encodes all four.
        static byte Value(int n, int y, int x, int c) => (byte)(n * 97 + y * 13 + x * 3 + c);
        var hwc = new byte[2 * 32 * 32 * 3];
        for (var n = 0; n < 2; n++)
            for (var y = 0; y < 32; y++)
                for (var x = 0; x < 32; x++)
                    for (var c = 0; c < 3; c++)
                        hwc[((n * 32 + y) * 32 + x) * 3 + c] = Value(n, y, x, c);
        var pickle = PickleWriter.Dumps(new Dictionary<string, object>
        {
            ["coords"] = NdArray.UInt8([2, 4], new byte[8]),
            ["features"] = NdArray.UInt8([2, 32, 32, 3], hwc),
            ["labels"] = new NdArray([2], "u1", [42, 0]),
        }, flavour);
        var set = FeaturesPickleReader.ReadTrafficSigns(Write("train.p", pickle));
        Assert.Equal((2, 3, 32, 32), (set.Count, set.Channels, set.Height, set.Width));
        Assert.Equal(new byte[] { 42, 0 }, set.Labels);
        for (var n = 0; n < 2; n++)
            foreach (var (y, x, c) in new[] { (0, 0, 0), (5, 7, 1), (31, 30, 2), (12, 0, 2) })
                Assert.Equal(Value(n, y, x, c), set.Pixels[((n * 3 + c) * 32 + y) * 32 + x]);
    }

    [Fact]
    public void TrafficSignLabelOutOfRangeIsAClearError()
    {
        var pickle = PickleWriter.Dumps(new Dictionary<string, object>
        {
            ["features"] = NdArray.UInt8([1, 32, 32, 3], new byte[3072]),
            ["labels"] = NdArray.Int64(43),
        }, PickleFlavour.Protocol4);
        Assert.Contains("label 43 at index 0 of 'labels' is outside 0..42",
            Assert.Throws<DataFileException>(() => FeaturesPickleReader.ReadTrafficSigns(Write("t.p", pickle))).Message);
    }

    [Theory, MemberData(nameof(Flavours))]
    public void ReadsFaceScrubAsTheStoredBytesInStorageOrder(PickleFlavour flavour)
    {
        // int8 values -128..127: the stored bytes, cast to uint8, are the pixels, in storage order (the seed's quirk).
        var stored = Bytes(2 * 3072, 200);
        var pickle = PickleWriter.Dumps(new Dictionary<string, object>
        {
            ["features"] = NdArray.Int8([2, 3, 32, 32], stored),
            ["labels"] = NdArray.Int64(99, 0),
        }, flavour);
        var set = FeaturesPickleReader.ReadFaceScrub(Write("facescrub_train_100.pkl", pickle));
        Assert.Equal((2, 3, 32, 32), (set.Count, set.Channels, set.Height, set.Width));
        Assert.Equal(stored, set.Pixels);
        Assert.Equal(new byte[] { 99, 0 }, set.Labels);
    }

    [Theory, MemberData(nameof(Flavours))]
    public void ReadsNotMnistAsGreyImages(PickleFlavour flavour)
    {
        var stored = Bytes(3 * 1024, 9);
        var pickle = PickleWriter.Dumps(new Dictionary<string, object>
        {
            ["features"] = NdArray.UInt8([3, 1, 32, 32], stored),
            ["labels"] = new NdArray([3], "u1", [0, 9, 4]),
        }, flavour);
        var set = FeaturesPickleReader.ReadNotMnist(Write("notmnist_train.pkl", pickle));
        Assert.Equal((3, 1, 32, 32), (set.Count, set.Channels, set.Height, set.Width));
        Assert.Equal(stored, set.Pixels);
        Assert.Equal(new byte[] { 0, 9, 4 }, set.Labels);
    }

    [Fact]
    public void NotMnistWithSeveralChannelsKeepsChannelZero()
    {
        var stored = Bytes(2 * 2 * 1024, 3);
        var pickle = PickleWriter.Dumps(new Dictionary<string, object>
        {
            ["features"] = NdArray.UInt8([2, 2, 32, 32], stored),
            ["labels"] = new NdArray([2], "u1", [1, 2]),
        }, PickleFlavour.Protocol4);
        var set = FeaturesPickleReader.ReadNotMnist(Write("n.pkl", pickle));
        Assert.Equal(stored[..1024], set.Pixels[..1024]);
        Assert.Equal(stored[2048..3072], set.Pixels[1024..]);
    }

    [Fact]
    public void FortranOrderedAndBigEndianArraysAreReadInCOrder()
    {
        // numpy stores a Fortran-ordered [2,3] array column by column; labels as big-endian int32.
        var pickle = PickleWriter.Dumps(new Dictionary<string, object>
        {
            ["features"] = new NdArray([1, 1, 32, 32], "u1", Bytes(1024, 0), Fortran: true),
            ["labels"] = new NdArray([1], "i4", [0, 0, 0, 7], '>'),
        }, PickleFlavour.Protocol4);
        var set = FeaturesPickleReader.ReadNotMnist(Write("f.pkl", pickle));
        Assert.Equal(7, set.Labels[0]);
        var stored = Bytes(1024, 0);
        // element (row r, column c) of the 32x32 image sits at c*32 + r in column-major storage.
        Assert.Equal(stored[5 * 32 + 2], set.Pixels[2 * 32 + 5]);
    }

    [Fact]
    public void FeaturesOfWrongElementTypeAreAClearError()
    {
        var pickle = PickleWriter.Dumps(new Dictionary<string, object>
        {
            ["features"] = new NdArray([1, 3, 32, 32], "f4", new byte[4 * 3072], '<'),
            ["labels"] = NdArray.Int64(1),
        }, PickleFlavour.Protocol4);
        Assert.Contains("'features' has element type f4, expected uint8 or int8",
            Assert.Throws<DataFileException>(() => FeaturesPickleReader.ReadFaceScrub(Write("f.pkl", pickle))).Message);
    }
}
