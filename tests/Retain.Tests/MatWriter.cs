using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace Retain.Tests;

/// <summary>
/// Writes MATLAB Level 5 MAT-files as MATLAB/scipy do (checked against scipy.io.loadmat): 128-byte header, then one
/// miMATRIX per variable (array flags, dimensions, name, real part), each optionally wrapped in miCOMPRESSED.
/// </summary>
public static class MatWriter
{
    public const int MiInt8 = 1, MiUInt8 = 2, MiInt32 = 5, MiUInt32 = 6, MiDouble = 9, MiMatrix = 14, MiCompressed = 15;
    public const int MxDouble = 6, MxUInt8 = 9;

    /// <summary>One variable: name, MATLAB class, dimensions, storage type and its (little-endian) element bytes.</summary>
    public sealed record Variable(string Name, int Class, int[] Dims, int StorageType, byte[] Data);

    public static Variable UInt8(string name, int[] dims, byte[] data) => new(name, MxUInt8, dims, MiUInt8, data);

    public static Variable Doubles(string name, int[] dims, double[] values)
    {
        var data = new byte[values.Length * 8];
        for (var i = 0; i < values.Length; i++) BinaryPrimitives.WriteDoubleLittleEndian(data.AsSpan(8 * i), values[i]);
        return new Variable(name, MxDouble, dims, MiDouble, data);
    }

    public static byte[] Write(bool compressed, bool bigEndian, params Variable[] variables)
    {
        var output = new MemoryStream();
        var header = new byte[128];
        Encoding.ASCII.GetBytes("MATLAB 5.0 MAT-file, written by the Retain tests".PadRight(116)).CopyTo(header, 0);
        if (bigEndian) { header[124] = 0x01; header[125] = 0x00; header[126] = (byte)'M'; header[127] = (byte)'I'; }
        else { header[124] = 0x00; header[125] = 0x01; header[126] = (byte)'I'; header[127] = (byte)'M'; }
        output.Write(header);
        foreach (var variable in variables)
        {
            var matrix = Matrix(variable, bigEndian);
            if (!compressed) { output.Write(matrix); continue; }
            var zipped = new MemoryStream();
            using (var zlib = new ZLibStream(zipped, CompressionLevel.Optimal, leaveOpen: true)) zlib.Write(matrix);
            output.Write(Tag(MiCompressed, (int)zipped.Length, bigEndian));
            output.Write(zipped.ToArray());
        }
        return output.ToArray();
    }

    private static byte[] Matrix(Variable v, bool bigEndian)
    {
        var body = new MemoryStream();
        var flags = new byte[8];
        WriteUInt32(flags, (uint)v.Class, bigEndian);
        body.Write(Element(MiUInt32, flags, bigEndian));
        var dims = new byte[4 * v.Dims.Length];
        for (var d = 0; d < v.Dims.Length; d++) WriteUInt32(dims.AsSpan(4 * d), (uint)v.Dims[d], bigEndian);
        body.Write(Element(MiInt32, dims, bigEndian));
        body.Write(Element(MiInt8, Encoding.ASCII.GetBytes(v.Name), bigEndian));
        var data = (byte[])v.Data.Clone();
        var size = v.StorageType switch { MiDouble => 8, MiInt32 or MiUInt32 => 4, _ => 1 };
        if (bigEndian) for (var i = 0; i < data.Length; i += size) data.AsSpan(i, size).Reverse();
        body.Write(Element(v.StorageType, data, bigEndian, allowSmall: false));
        var content = body.ToArray();
        return [.. Tag(MiMatrix, content.Length, bigEndian), .. content];
    }

    /// <summary>A sub-element: the small form (tag + up to 4 bytes) where it fits, else tag + data padded to 8.</summary>
    private static byte[] Element(int type, byte[] data, bool bigEndian, bool allowSmall = true)
    {
        if (allowSmall && data.Length is > 0 and <= 4)
        {
            var small = new byte[8];
            WriteUInt32(small, (uint)(data.Length << 16 | type), bigEndian);
            data.CopyTo(small, 4);
            return small;
        }
        var padded = new byte[8 + (data.Length + 7) / 8 * 8];
        Tag(type, data.Length, bigEndian).CopyTo(padded, 0);
        data.CopyTo(padded, 8);
        return padded;
    }

    private static byte[] Tag(int type, int size, bool bigEndian)
    {
        var tag = new byte[8];
        WriteUInt32(tag, (uint)type, bigEndian);
        WriteUInt32(tag.AsSpan(4), (uint)size, bigEndian);
        return tag;
    }

    private static void WriteUInt32(Span<byte> span, uint value, bool bigEndian)
    {
        if (bigEndian) BinaryPrimitives.WriteUInt32BigEndian(span, value);
        else BinaryPrimitives.WriteUInt32LittleEndian(span, value);
    }
}
