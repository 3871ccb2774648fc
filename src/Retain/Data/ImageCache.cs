using System.Buffers.Binary;
using System.Text;

namespace Retain.Data;

/// <summary>
/// A cache of decoded image sets in <c>&lt;data&gt;/cache/</c>, so that gzip, JSON, pickle or JPEG sources are parsed
/// once. An entry is keyed by the dataset and the transform applied (e.g. <c>mnist-pad32-rgb.train</c>) and stamped
/// with the size and modification time of its source files: a stale, truncated or corrupt entry (length or checksum
/// wrong) is rebuilt. Entries are written to a temporary file and renamed, so a crash never leaves half an entry.
/// Splits and normalisation depend on the seed and are cheap, so they are applied after the cache.
/// </summary>
internal static class ImageCache
{
    private static readonly byte[] Magic = "RETAINIMG1"u8.ToArray();
    private const int HeaderLength = 10 + 8 + 4 * 4 + 8;

    public static string PathFor(string dataDir, string key) => Path.Combine(dataDir, "cache", key + ".images");

    /// <summary>The cached set for <paramref name="key"/>, or <paramref name="build"/>'s result, stored for next time.</summary>
    public static ImageSet GetOrBuild(string dataDir, string key, IReadOnlyList<string> sources, Func<ImageSet> build)
    {
        var path = PathFor(dataDir, key);
        var stamp = Stamp(sources);
        if (TryRead(path, stamp) is { } cached) return cached;
        var set = build();
        TryWrite(path, stamp, set);
        return set;
    }

    /// <summary>A fingerprint of the sources (paths, sizes, modification times): it changes when a source does.</summary>
    public static ulong Stamp(IEnumerable<string> sources)
    {
        var text = new StringBuilder();
        foreach (var source in sources)
        {
            var info = new FileInfo(source);
            text.Append(Path.GetFullPath(source)).Append('|').Append(info.Exists ? info.Length : -1).Append('|')
                .Append(info.Exists ? info.LastWriteTimeUtc.Ticks : 0).Append('\n');
        }
        return Fnv1a(Encoding.UTF8.GetBytes(text.ToString()), 14695981039346656037UL);
    }

    /// <summary>The entry, or null when it is missing, stale or corrupt.</summary>
    public static ImageSet? TryRead(string path, ulong stamp)
    {
        if (!File.Exists(path)) return null;
        try
        {
            var bytes = File.ReadAllBytes(path);
            if (bytes.Length < HeaderLength || !bytes.AsSpan(0, Magic.Length).SequenceEqual(Magic)) return null;
            var span = bytes.AsSpan(Magic.Length);
            if (BinaryPrimitives.ReadUInt64LittleEndian(span) != stamp) return null;
            var count = BinaryPrimitives.ReadInt32LittleEndian(span[8..]);
            var channels = BinaryPrimitives.ReadInt32LittleEndian(span[12..]);
            var height = BinaryPrimitives.ReadInt32LittleEndian(span[16..]);
            var width = BinaryPrimitives.ReadInt32LittleEndian(span[20..]);
            var checksum = BinaryPrimitives.ReadUInt64LittleEndian(span[24..]);
            if (count < 0 || channels < 1 || height < 1 || width < 1) return null;
            var imageBytes = (long)channels * height * width;
            if (HeaderLength + count + count * imageBytes != bytes.Length) return null;
            var body = bytes.AsSpan(HeaderLength);
            if (Fnv1a(body[count..], Fnv1a(body[..count], stamp)) != checksum) return null;
            return new ImageSet(body[count..].ToArray(), body[..count].ToArray(), channels, height, width);
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>Stores the entry; a cache that cannot be written (read-only data folder) is not an error.</summary>
    public static void TryWrite(string path, ulong stamp, ImageSet set)
    {
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var header = new byte[HeaderLength];
            Magic.CopyTo(header, 0);
            var span = header.AsSpan(Magic.Length);
            BinaryPrimitives.WriteUInt64LittleEndian(span, stamp);
            BinaryPrimitives.WriteInt32LittleEndian(span[8..], set.Count);
            BinaryPrimitives.WriteInt32LittleEndian(span[12..], set.Channels);
            BinaryPrimitives.WriteInt32LittleEndian(span[16..], set.Height);
            BinaryPrimitives.WriteInt32LittleEndian(span[20..], set.Width);
            BinaryPrimitives.WriteUInt64LittleEndian(span[24..], Fnv1a(set.Pixels, Fnv1a(set.Labels, stamp)));
            var tmp = $"{path}.{Environment.ProcessId}.tmp";
            using (var file = File.Create(tmp))
            {
                file.Write(header);
                file.Write(set.Labels);
                file.Write(set.Pixels);
            }
            File.Move(tmp, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Caching is an optimisation; the data itself was read correctly.
        }
    }

    /// <summary>FNV-1a, 64 bit, over 8-byte words (fast enough to check 50 MB in a few tens of milliseconds).</summary>
    private static ulong Fnv1a(ReadOnlySpan<byte> data, ulong hash)
    {
        const ulong prime = 1099511628211UL;
        var words = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ulong>(data);
        foreach (var w in words) hash = (hash ^ w) * prime;
        foreach (var b in data[(words.Length * 8)..]) hash = (hash ^ b) * prime;
        return hash;
    }
}
