using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace Retain.Data;

/// <summary>MATLAB array classes (the <c>mx*_CLASS</c> codes of the MAT-file format).</summary>
internal enum MatClass
{
    Cell = 1, Struct = 2, Object = 3, Char = 4, Sparse = 5, Double = 6, Single = 7,
    Int8 = 8, UInt8 = 9, Int16 = 10, UInt16 = 11, Int32 = 12, UInt32 = 13, Int64 = 14, UInt64 = 15,
}

/// <summary>
/// A real numeric MATLAB array: its class, dimensions (MATLAB order) and elements in MATLAB's column-major order,
/// kept in the storage type the file used (MATLAB stores e.g. a double array of small whole numbers as uint8).
/// </summary>
internal sealed class MatArray
{
    internal MatArray(string name, MatClass arrayClass, int[] dimensions, MatFile.StorageType storage, byte[] littleEndianData)
    {
        Name = name;
        Class = arrayClass;
        Dimensions = dimensions;
        _storage = storage;
        _data = littleEndianData;
    }

    private readonly MatFile.StorageType _storage;
    private readonly byte[] _data;

    public string Name { get; }
    public MatClass Class { get; }
    public int[] Dimensions { get; }
    public long Count => _data.LongLength / MatFile.ItemSize(_storage);
    public string DimensionsText => string.Join("x", Dimensions);

    /// <summary>Element <paramref name="index"/> (column-major) as a double.</summary>
    public double ValueAt(long index)
    {
        var size = MatFile.ItemSize(_storage);
        var b = _data.AsSpan(checked((int)(index * size)), size);
        return _storage switch
        {
            MatFile.StorageType.Int8 => (sbyte)b[0],
            MatFile.StorageType.UInt8 => b[0],
            MatFile.StorageType.Int16 => BinaryPrimitives.ReadInt16LittleEndian(b),
            MatFile.StorageType.UInt16 => BinaryPrimitives.ReadUInt16LittleEndian(b),
            MatFile.StorageType.Int32 => BinaryPrimitives.ReadInt32LittleEndian(b),
            MatFile.StorageType.UInt32 => BinaryPrimitives.ReadUInt32LittleEndian(b),
            MatFile.StorageType.Single => BinaryPrimitives.ReadSingleLittleEndian(b),
            MatFile.StorageType.Double => BinaryPrimitives.ReadDoubleLittleEndian(b),
            MatFile.StorageType.Int64 => BinaryPrimitives.ReadInt64LittleEndian(b),
            MatFile.StorageType.UInt64 => BinaryPrimitives.ReadUInt64LittleEndian(b),
            _ => throw new InvalidOperationException($"storage type {_storage} has no numeric reading"),
        };
    }

    /// <summary>The elements as bytes (column-major), or null if one is not a whole number in 0..255.</summary>
    public byte[]? ToBytes()
    {
        if (_storage == MatFile.StorageType.UInt8) return _data;
        var bytes = new byte[Count];
        for (long i = 0; i < bytes.LongLength; i++)
        {
            var v = ValueAt(i);
            if (!(v >= 0 && v <= 255 && Math.Floor(v) == v)) return null;
            bytes[i] = (byte)v;
        }
        return bytes;
    }
}

/// <summary>
/// Reader for MATLAB Level 5 MAT-files (v5 and v7: the format of SVHN's <c>*_32x32.mat</c>): a 128-byte header whose
/// last two bytes ('IM' or 'MI') give the byte order, then data elements, each a tag (type, byte count; or the
/// 4-byte "small element" form) and its data padded to 8 bytes. Variables are <c>miMATRIX</c> elements (array flags,
/// dimensions, name, real part), stored as they are or inside <c>miCOMPRESSED</c> (zlib) elements.
/// <para>Hand-written because no maintained .NET MAT-file library is served by the NuGet mirror here; it reads only
/// real numeric arrays, which is all the seed's data needs.</para>
/// <para>Every size is checked before anything is allocated: an element must fit in the bytes that remain, a
/// compressed variable may not claim more than deflate can expand its compressed bytes to, and an array's
/// dimensions must account for exactly the bytes of its data.</para>
/// </summary>
internal static class MatFile
{
    /// <summary>The <c>mi*</c> data types of the format.</summary>
    internal enum StorageType
    {
        Int8 = 1, UInt8 = 2, Int16 = 3, UInt16 = 4, Int32 = 5, UInt32 = 6, Single = 7, Double = 9,
        Int64 = 12, UInt64 = 13, Matrix = 14, Compressed = 15, Utf8 = 16, Utf16 = 17, Utf32 = 18,
    }

    private const int HeaderBytes = 128;
    private const long MaxFileBytes = 1L << 30; // SVHN's train_32x32.mat, the largest the seed reads, is 182 MB
    private const long DeflateMaxRatio = 1032;  // deflate cannot expand a stream by more than about 1032:1

    internal static int ItemSize(StorageType type) => type switch
    {
        StorageType.Int8 or StorageType.UInt8 or StorageType.Utf8 => 1,
        StorageType.Int16 or StorageType.UInt16 or StorageType.Utf16 => 2,
        StorageType.Int32 or StorageType.UInt32 or StorageType.Single or StorageType.Utf32 => 4,
        StorageType.Double or StorageType.Int64 or StorageType.UInt64 => 8,
        _ => 0,
    };

    private static bool IsNumericStorage(StorageType type) => type is StorageType.Int8 or StorageType.UInt8 or StorageType.Int16
        or StorageType.UInt16 or StorageType.Int32 or StorageType.UInt32 or StorageType.Single or StorageType.Double
        or StorageType.Int64 or StorageType.UInt64;

    /// <summary>
    /// Reads the named variables (each must be present, real and numeric); other variables are skipped without
    /// decompressing their data.
    /// </summary>
    public static IReadOnlyDictionary<string, MatArray> Read(string path, params string[] names)
    {
        var file = ReadFile(path);
        var bigEndian = (file[126], file[127]) switch
        {
            ((byte)'I', (byte)'M') => false,
            ((byte)'M', (byte)'I') => true,
            _ => throw new DataFileException(path, "not a MATLAB 5 MAT-file (no 'IM'/'MI' byte-order mark at bytes 126-127)"),
        };
        var version = bigEndian ? BinaryPrimitives.ReadUInt16BigEndian(file.AsSpan(124)) : BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan(124));
        if (version == 0x0200) throw new DataFileException(path, "MATLAB 7.3 MAT-files (HDF5) are not supported; save with -v7 or -v6");
        if (version != 0x0100) throw new DataFileException(path, $"MAT-file version 0x{version:x4} is not supported (expected 0x0100, Level 5)");

        var found = new Dictionary<string, MatArray>();
        long position = HeaderBytes;
        while (position < file.Length)
        {
            if (file.Length - position < 8) throw new DataFileException(path, $"truncated: {file.Length - position} stray bytes at {position}, too few for a data element tag");
            var (type, size, small) = Tag(file.AsSpan((int)position, 8), bigEndian);
            if (small) { position += 8; continue; }
            if (size > file.Length - position - 8)
                throw new DataFileException(path, $"truncated: data element at byte {position} declares {size} bytes, {file.Length - position - 8} remain");
            var body = new MemoryStream(file, (int)position + 8, (int)size, writable: false);
            if (type == StorageType.Compressed) ReadCompressed(path, body, size, bigEndian, names, found, position);
            else if (type == StorageType.Matrix) ReadMatrix(path, new ElementStream(path, body, size, bigEndian, position), names, found, verifyChecksum: false);
            // Compressed elements are not padded; every other element is padded to 8 bytes (the last one may stop early).
            position += 8 + size;
            if (type != StorageType.Compressed) position = Math.Min(file.Length, (position + 7) & ~7L);
        }
        var missing = names.Where(n => !found.ContainsKey(n)).ToArray();
        if (missing.Length > 0) throw new DataFileException(path, $"no variable named {string.Join(" or ", missing.Select(n => $"'{n}'"))}");
        return found;
    }

    private static byte[] ReadFile(string path)
    {
        if (!File.Exists(path)) throw new DataFileException(path, "file not found");
        try
        {
            var length = new FileInfo(path).Length;
            if (length < HeaderBytes) throw new DataFileException(path, $"truncated: {length} bytes, shorter than the {HeaderBytes}-byte MAT-file header");
            if (length > MaxFileBytes) throw new DataFileException(path, $"{length} bytes is larger than any MAT-file this reader expects ({MaxFileBytes})");
            var file = File.ReadAllBytes(path);
            return file.Length >= HeaderBytes ? file : throw new DataFileException(path, "file changed while it was read");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DataFileException(path, $"cannot read ({e.Message})", e);
        }
    }

    /// <summary>A tag: type and byte count, or the small-element form (count in the upper 16 bits, data in the tag).</summary>
    private static (StorageType Type, long Size, bool Small) Tag(ReadOnlySpan<byte> tag, bool bigEndian)
    {
        var first = bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(tag) : BinaryPrimitives.ReadUInt32LittleEndian(tag);
        if (first >> 16 != 0) return ((StorageType)(first & 0xffff), first >> 16, true);
        var size = bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(tag[4..]) : BinaryPrimitives.ReadUInt32LittleEndian(tag[4..]);
        return ((StorageType)first, size, false);
    }

    private static void ReadCompressed(string path, Stream body, long compressedSize, bool bigEndian, string[] names,
                                       Dictionary<string, MatArray> found, long position)
    {
        try
        {
            using var inflated = new ZLibStream(body, CompressionMode.Decompress);
            Span<byte> tag = stackalloc byte[8];
            if (inflated.ReadAtLeast(tag, 8, throwOnEndOfStream: false) < 8)
                throw new DataFileException(path, $"compressed element at byte {position} holds no complete data element");
            var (type, size, small) = Tag(tag, bigEndian);
            if (small || type != StorageType.Matrix) return; // not a variable: nothing the seed reads
            if (size > compressedSize * DeflateMaxRatio)
                throw new DataFileException(path, $"compressed element at byte {position} claims {size} bytes, more than its {compressedSize} compressed bytes can hold");
            ReadMatrix(path, new ElementStream(path, inflated, size, bigEndian, position), names, found, verifyChecksum: true);
        }
        // Some undecodable streams raise zlib's ZLibException, an IOException that .NET does not make public; the body is
        // already in memory, so any IOException here comes from the data.
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            // .NET words every undecodable deflate stream as "unsupported compression method", which misleads here.
            throw new DataFileException(path, $"corrupt or truncated compressed element at byte {position}: its zlib data cannot be decoded", e);
        }
    }

    /// <summary>
    /// Reads one <c>miMATRIX</c>: array flags, dimensions, name, and, for a wanted variable, the real part.
    /// <paramref name="verifyChecksum"/>: read the rest of a compressed stream, so that zlib checks its checksum.
    /// </summary>
    private static void ReadMatrix(string path, ElementStream matrix, string[] names, Dictionary<string, MatArray> found, bool verifyChecksum)
    {
        var (flagsType, flags) = matrix.ReadHeaderElement("array flags", 16);
        if (flagsType != StorageType.UInt32 || flags.Length != 8) throw matrix.Error("array flags are not two uint32 values");
        var flagWord = matrix.UInt32(flags);
        var arrayClass = (MatClass)(flagWord & 0xff);
        var complex = (flagWord & 0x0800) != 0;
        if (arrayClass is < MatClass.Cell or > MatClass.UInt64) throw matrix.Error($"unknown array class {flagWord & 0xff}");

        var (dimsType, dimsBytes) = matrix.ReadHeaderElement("dimensions", 4 * 32);
        if (dimsType != StorageType.Int32 || dimsBytes.Length % 4 != 0 || dimsBytes.Length < 8)
            throw matrix.Error("dimensions are not two or more int32 values");
        var dims = new int[dimsBytes.Length / 4];
        long elements = 1;
        for (var d = 0; d < dims.Length; d++)
        {
            dims[d] = (int)matrix.UInt32(dimsBytes.AsSpan(4 * d));
            if (dims[d] < 0) throw matrix.Error($"dimension {d} is negative");
            elements = elements == 0 || dims[d] == 0 ? 0 : elements * dims[d];
            if (elements > Array.MaxLength) throw matrix.Error($"dimensions [{string.Join("x", dims.Take(d + 1))}...] are too large for one array");
        }

        var (nameType, nameBytes) = matrix.ReadHeaderElement("array name", 256);
        if (nameType is not (StorageType.Int8 or StorageType.UInt8 or StorageType.Utf8)) throw matrix.Error("array name is not text");
        var name = Encoding.UTF8.GetString(nameBytes);
        if (!names.Contains(name)) return;
        if (found.ContainsKey(name)) throw matrix.Error($"variable '{name}' appears twice");
        if (arrayClass is < MatClass.Double) throw matrix.Error($"variable '{name}' is a {arrayClass} array, not a numeric one");
        if (complex) throw matrix.Error($"variable '{name}' is complex, expected real numbers");

        var (dataType, data) = matrix.ReadDataElement($"data of '{name}'");
        if (!IsNumericStorage(dataType)) throw matrix.Error($"data of '{name}' has storage type {(int)dataType}, not a number type");
        var itemSize = ItemSize(dataType);
        if (data.LongLength != elements * itemSize)
            throw matrix.Error($"'{name}' is {string.Join("x", dims)} ({elements} elements) but its data holds {data.LongLength} bytes of {dataType} ({data.LongLength / (double)itemSize} elements)");
        if (matrix.BigEndian && itemSize > 1)
            for (var i = 0; i < data.Length; i += itemSize) data.AsSpan(i, itemSize).Reverse();
        if (verifyChecksum) matrix.DrainRest();
        found[name] = new MatArray(name, arrayClass, dims, dataType, data);
    }

    /// <summary>The sub-elements of one <c>miMATRIX</c>, read from a stream with a byte budget (its declared size).</summary>
    private sealed class ElementStream(string path, Stream stream, long size, bool bigEndian, long position)
    {
        private long _remaining = size;
        public bool BigEndian => bigEndian;

        public DataFileException Error(string problem) => new(path, $"variable at byte {position}: {problem}");

        public uint UInt32(ReadOnlySpan<byte> bytes) =>
            bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(bytes) : BinaryPrimitives.ReadUInt32LittleEndian(bytes);

        /// <summary>A header sub-element, which may use the small form; at most <paramref name="maxBytes"/> long.</summary>
        public (StorageType, byte[]) ReadHeaderElement(string what, int maxBytes) => Read(what, maxBytes);

        /// <summary>The data sub-element, as long as the variable's declared size allows.</summary>
        public (StorageType, byte[]) ReadDataElement(string what) => Read(what, long.MaxValue);

        private (StorageType, byte[]) Read(string what, long maxBytes)
        {
            var tag = new byte[8];
            Take(tag, what);
            var (type, length, small) = Tag(tag, bigEndian);
            if (small)
            {
                if (length > 4) throw Error($"{what}: small element of {length} bytes (at most 4)");
                return (type, tag.AsSpan(4, (int)length).ToArray());
            }
            if (length > maxBytes || length > Array.MaxLength) throw Error($"{what}: {length} bytes is implausibly long");
            if (length > _remaining) throw Error($"{what}: {length} bytes, but only {_remaining} remain in the variable");
            var data = new byte[length];
            Take(data, what);
            var padding = (int)((8 - length % 8) % 8);
            if (padding > 0 && _remaining > 0) Take(new byte[Math.Min(padding, (int)_remaining)], what);
            return (type, data);
        }

        private void Take(byte[] buffer, string what)
        {
            if (buffer.Length > _remaining) throw Error($"{what}: truncated (the variable ends first)");
            if (stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false) < buffer.Length)
                throw Error($"{what}: truncated (the data ends first)");
            _remaining -= buffer.Length;
        }

        /// <summary>Reads what is left of the variable and then the end of the stream (where zlib checks its checksum).</summary>
        public void DrainRest()
        {
            var buffer = new byte[4096];
            while (_remaining > 0)
            {
                var n = stream.Read(buffer, 0, (int)Math.Min(buffer.Length, _remaining));
                if (n == 0) throw Error("truncated (the data ends before the declared size)");
                _remaining -= n;
            }
            if (stream.Read(buffer, 0, 1) != 0) throw Error("more compressed data than the variable declares");
        }
    }
}
