using System.Buffers.Binary;
using System.IO.Compression;

namespace Retain.Data;

/// <summary>An unsigned-byte IDX array: <see cref="Shape"/> (outermost first) and the row-major bytes.</summary>
internal sealed record IdxArray(int[] Shape, byte[] Data)
{
    public int Count => Shape[0];
}

/// <summary>
/// Reader for the IDX format of MNIST and Fashion-MNIST, raw or gzip'd (detected from the first bytes). The header is
/// checked against the file before anything large is allocated: a raw file must have exactly the bytes its header
/// promises; a gzip'd one must promise no more than deflate can expand its compressed size to, and must agree with the
/// uncompressed length in the gzip trailer.
/// </summary>
internal static class IdxReader
{
    private const byte UnsignedByteType = 0x08;
    private const long DeflateMaxRatio = 1032; // deflate cannot expand a stream by more than about 1032:1

    public static IdxArray Read(string path, int expectedRank)
    {
        if (!File.Exists(path)) throw new DataFileException(path, "file not found");
        using var file = OpenForRead(path);
        var fileLength = file.Length;
        var gzip = IsGzip(file);
        long? promisedLength = gzip ? GzipTrailerLength(file) : fileLength;
        using Stream stream = gzip ? new GZipStream(file, CompressionMode.Decompress) : file;
        try
        {
            return ReadIdx(path, stream, expectedRank, fileLength, gzip, promisedLength.Value);
        }
        catch (InvalidDataException e)
        {
            // .NET words every undecodable deflate stream as "unsupported compression method", which misleads here.
            throw new DataFileException(path, "corrupt or truncated gzip file: its compressed data cannot be decoded", e);
        }
    }

    private static FileStream OpenForRead(string path)
    {
        try { return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DataFileException(path, $"cannot open ({e.Message})", e);
        }
    }

    private static bool IsGzip(FileStream file)
    {
        Span<byte> head = stackalloc byte[2];
        var n = file.Read(head);
        file.Position = 0;
        return n == 2 && head[0] == 0x1f && head[1] == 0x8b;
    }

    /// <summary>The uncompressed size mod 2^32 that a gzip member stores in its last four bytes.</summary>
    private static long GzipTrailerLength(FileStream file)
    {
        if (file.Length < 18) return -1;
        Span<byte> tail = stackalloc byte[4];
        file.Position = file.Length - 4;
        file.ReadExactly(tail);
        file.Position = 0;
        return BinaryPrimitives.ReadUInt32LittleEndian(tail);
    }

    private static IdxArray ReadIdx(string path, Stream stream, int expectedRank, long fileLength, bool gzip, long promisedLength)
    {
        Span<byte> word = stackalloc byte[4];
        if (!TryReadExactly(stream, word)) throw new DataFileException(path, "truncated: shorter than the 4-byte IDX magic number");
        if (word[0] != 0 || word[1] != 0)
            throw new DataFileException(path, $"bad magic number 0x{BinaryPrimitives.ReadUInt32BigEndian(word):x8}: not an IDX file");
        if (word[2] != UnsignedByteType)
            throw new DataFileException(path, $"IDX element type 0x{word[2]:x2} is not supported (only unsigned bytes, 0x08)");
        int rank = word[3];
        if (rank != expectedRank)
            throw new DataFileException(path, $"IDX rank {rank}, expected {expectedRank} (magic {2048 + expectedRank})");

        var shape = new int[rank];
        long elements = 1;
        for (var d = 0; d < rank; d++)
        {
            if (!TryReadExactly(stream, word)) throw new DataFileException(path, "truncated inside the IDX header");
            var size = BinaryPrimitives.ReadUInt32BigEndian(word);
            if (size > int.MaxValue) throw new DataFileException(path, $"dimension {d} has an impossible size {size}");
            shape[d] = (int)size;
            elements *= size;
            if (elements > Array.MaxLength) throw new DataFileException(path, $"IDX shape [{string.Join(",", shape.Take(d + 1))}...] is too large for one array");
        }

        long headerLength = 4 + 4L * rank;
        var expectedLength = headerLength + elements;
        if (!gzip && fileLength != expectedLength)
            throw new DataFileException(path, fileLength < expectedLength
                ? $"truncated: header [{string.Join(",", shape)}] needs {expectedLength} bytes, file has {fileLength}"
                : $"{fileLength - expectedLength} unexpected bytes after the {expectedLength} that header [{string.Join(",", shape)}] describes");
        if (gzip && expectedLength > fileLength * DeflateMaxRatio)
            throw new DataFileException(path, $"header [{string.Join(",", shape)}] promises {expectedLength} bytes, more than {fileLength} compressed bytes can hold");
        if (gzip && promisedLength >= 0 && promisedLength != (expectedLength & 0xffffffffL))
            throw new DataFileException(path, $"header [{string.Join(",", shape)}] needs {expectedLength} bytes but the gzip trailer records {promisedLength} (truncated or corrupt)");

        var data = new byte[elements];
        if (!TryReadExactly(stream, data)) throw new DataFileException(path, $"truncated: header [{string.Join(",", shape)}] needs {elements} data bytes");
        if (gzip && stream.ReadByte() >= 0)
            throw new DataFileException(path, $"unexpected bytes after the {expectedLength} that header [{string.Join(",", shape)}] describes");
        return new IdxArray(shape, data);
    }

    private static bool TryReadExactly(Stream stream, Span<byte> buffer)
    {
        var read = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        return read == buffer.Length;
    }

    /// <summary>
    /// Reads an image file (rank 3: N x H x W) and its label file (rank 1: N) and checks that they belong together.
    /// </summary>
    public static (IdxArray Images, byte[] Labels) ReadImagesAndLabels(string imagesPath, string labelsPath, int classCount)
    {
        var images = Read(imagesPath, 3);
        var labels = Read(labelsPath, 1);
        if (labels.Count != images.Count)
            throw new DataFileException(labelsPath, $"{labels.Count} labels for {images.Count} images in {Path.GetFileName(imagesPath)}");
        var bad = Array.FindIndex(labels.Data, l => l >= classCount);
        if (bad >= 0) throw new DataFileException(labelsPath, $"label {labels.Data[bad]} at index {bad} is outside 0..{classCount - 1}");
        return (images, labels.Data);
    }
}
