using System.Text;

namespace Retain.Evaluation;

/// <summary>
/// Writes numpy's .npy format (version 1.0, little-endian float32, C order), so arrays the port saves load with
/// <c>numpy.load</c> as the seed's pickled arrays did.
/// </summary>
internal static class NpyFile
{
    public static void Write(string path, ReadOnlySpan<float> values, IReadOnlyList<long> shape)
    {
        var count = shape.Aggregate(1L, (a, b) => a * b);
        if (count != values.Length) throw new ArgumentException($"shape [{string.Join(",", shape)}] needs {count} values (got {values.Length})");
        var dims = shape.Count == 1 ? $"{shape[0]}," : string.Join(", ", shape);
        var header = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({dims}), }}";
        // Magic (6) + version (2) + header length (2) + header, padded with spaces and a newline to a multiple of 64.
        var total = 10 + header.Length + 1;
        header = header.PadRight(header.Length + (64 - total % 64) % 64) + "\n";
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        using var file = File.Create(path);
        using var writer = new BinaryWriter(file);
        writer.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0]);
        writer.Write((ushort)header.Length);
        writer.Write(Encoding.ASCII.GetBytes(header));
        foreach (var v in values) writer.Write(v);   // BinaryWriter writes little-endian
    }

    /// <summary>Reads back a file written by <see cref="Write"/> (float32, C order): its shape and values.</summary>
    public static (long[] Shape, float[] Values) Read(string path)
    {
        using var reader = new BinaryReader(File.OpenRead(path));
        var magic = reader.ReadBytes(8);
        if (magic.Length < 8 || magic[0] != 0x93 || Encoding.ASCII.GetString(magic, 1, 5) != "NUMPY")
            throw new DataFileException(path, "not a .npy file");
        var header = Encoding.ASCII.GetString(reader.ReadBytes(reader.ReadUInt16()));
        if (!header.Contains("'<f4'") || header.Contains("'fortran_order': True"))
            throw new DataFileException(path, "only little-endian float32 arrays in C order are supported");
        var dims = header[(header.IndexOf('(') + 1)..header.IndexOf(')')];
        var shape = dims.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(long.Parse).ToArray();
        var values = new float[shape.Aggregate(1L, (a, b) => a * b)];
        for (var i = 0; i < values.Length; i++) values[i] = reader.ReadSingle();
        return (shape, values);
    }
}
