namespace Retain.Data;

/// <summary>
/// Reader for the binary distribution of CIFAR: fixed-size records of label byte(s) and 3072 pixel bytes (red, green,
/// blue planes of 32x32, row-major). CIFAR-10 (<c>cifar-10-batches-bin/data_batch_1.bin</c> .. <c>test_batch.bin</c>):
/// one label byte; CIFAR-100 (<c>cifar-100-binary/train.bin</c>, <c>test.bin</c>): a coarse then a fine label byte,
/// of which the fine label is used (as with the python version).
/// </summary>
internal static class CifarBinaryReader
{
    private const int ImageBytes = 3 * 32 * 32;
    /// <summary>Well above the largest file (CIFAR-100 train.bin, 154 MB); bounds what a wrong path can make us read.</summary>
    private const long MaxFileBytes = 1L << 30;
    private const int CoarseClassCount = 20;

    public static ImageSet ReadCifar10(string path) => Read(path, labelBytes: 1, classCount: 10);

    public static ImageSet ReadCifar100(string path) => Read(path, labelBytes: 2, classCount: 100);

    private static ImageSet Read(string path, int labelBytes, int classCount)
    {
        if (!File.Exists(path)) throw new DataFileException(path, "file not found");
        var recordBytes = labelBytes + ImageBytes;
        byte[] file;
        try
        {
            var length = new FileInfo(path).Length;
            if (length == 0) throw new DataFileException(path, "empty file");
            if (length > MaxFileBytes) throw new DataFileException(path, $"{length} bytes is larger than any CIFAR file ({MaxFileBytes})");
            if (length % recordBytes != 0)
                throw new DataFileException(path, $"{length} bytes is not a whole number of {recordBytes}-byte records (truncated or not a CIFAR binary file)");
            file = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DataFileException(path, $"cannot read ({e.Message})", e);
        }
        if (file.Length % recordBytes != 0) throw new DataFileException(path, "file changed while it was read");

        var count = file.Length / recordBytes;
        var pixels = new byte[(long)count * ImageBytes];
        var labels = new byte[count];
        for (var i = 0; i < count; i++)
        {
            var record = file.AsSpan(i * recordBytes, recordBytes);
            if (labelBytes == 2 && record[0] >= CoarseClassCount)
                throw new DataFileException(path, $"coarse label {record[0]} of record {i} is outside 0..{CoarseClassCount - 1}");
            var label = record[labelBytes - 1];
            if (label >= classCount)
                throw new DataFileException(path, $"label {label} of record {i} is outside 0..{classCount - 1}");
            labels[i] = label;
            record[labelBytes..].CopyTo(pixels.AsSpan(i * ImageBytes, ImageBytes));
        }
        return new ImageSet(pixels, labels, 3, 32, 32);
    }
}
