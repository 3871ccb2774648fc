using System.Diagnostics;
using System.IO.Compression;
using System.Text.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Retain.Evaluation;
using Retain.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Retain.Experiments;

/// <summary>Where in a run a checkpoint was taken: the task, and within it the epoch and the next batch (if inside an epoch).</summary>
public sealed record CheckpointPosition(int TasksCompleted, int? Task, int? Epoch, int? Batch)
{
    public override string ToString() => Task is not { } t ? $"after task {TasksCompleted - 1}"
        : Batch is { } b ? $"task {t}, epoch {Epoch + 1}, before batch {b + 1}"
        : $"task {t}, after epoch {Epoch}";
}

/// <summary>
/// A checkpoint on disk: one zip archive holding <c>values.json</c> (every plain value of the run's
/// <see cref="StateDict"/>), one entry per tensor in TorchSharp's tensor format, and <c>checksums.json</c>, the SHA-256
/// of every other entry. Written to a temporary file and renamed into place, so a run killed while writing leaves the
/// previous checkpoint intact. Zip (in the box) rather than a hand-made container: any tool can list and extract it.
/// A checkpoint is Retain's own state, not an input to edit: one changed or damaged after it was written (by hand, by
/// a disk) fails its checksums, and is refused with one line before anything of it is used.
/// </summary>
public static class CheckpointFile
{
    public const string Extension = ".ckpt";

    private const string ValuesEntry = "values.json", ChecksumsEntry = "checksums.json", TensorPrefix = "tensors/";

    /// <summary>The value holding the run's identity (<see cref="RunPlan.Identity"/>), which a resumed run must match.</summary>
    public const string IdentityKey = "run/identity";

    public static string PathFor(string output) => Path.ChangeExtension(output, Extension);

    public static void Write(string path, StateDict state)
    {
        ResultFiles.WriteAtomically(path, tmp =>
        {
            using var zip = ZipFile.Open(tmp, ZipArchiveMode.Create);
            var checksums = new SortedDictionary<string, string>(StringComparer.Ordinal);
            void Add(string name, byte[] bytes, CompressionLevel level)
            {
                checksums[name] = Convert.ToHexString(SHA256.HashData(bytes));
                using var entry = zip.CreateEntry(name, level).Open();
                entry.Write(bytes);
            }
            Add(ValuesEntry, Encoding.UTF8.GetBytes(state.AllValues.ToJsonString()), CompressionLevel.Fastest);
            foreach (var (name, tensor) in state.AllTensors)
            {
                using var bytes = new MemoryStream();
                // Each temporary in a using variable: one that nothing references may be finalized by a collection
                // on another thread while native code still reads it (see TorchRandom).
                using (var writer = new BinaryWriter(bytes, Encoding.UTF8, leaveOpen: true))
                using (var detached = tensor.detach())
                using (var cpu = detached.cpu())
                    cpu.Save(writer);
                Add(TensorPrefix + name, bytes.ToArray(), CompressionLevel.NoCompression);
            }
            using var list = zip.CreateEntry(ChecksumsEntry, CompressionLevel.Fastest).Open();
            JsonSerializer.Serialize(list, checksums);
        });
    }

    /// <summary>
    /// The whole checkpoint: <paramref name="values"/>, read before by <see cref="ReadValues(string)"/>, with its
    /// tensors (on the CPU) read now, every entry checked again against its checksum; the caller disposes it.
    /// </summary>
    public static StateDict ReadTensors(string path, StateDict values)
    {
        var tensors = new Dictionary<string, Tensor>();
        try
        {
            var (_, tensorEntries) = ReadVerified(path);
            foreach (var (name, bytes) in tensorEntries)
            {
                using var reader = new BinaryReader(new MemoryStream(bytes, writable: false));
                tensors[name[TensorPrefix.Length..]] = Tensor.Load(reader);
            }
            return StateDict.From(tensors, values.AllValues);
        }
        catch
        {
            foreach (var tensor in tensors.Values) tensor.Dispose();
            throw;
        }
    }

    /// <summary>The whole checkpoint, its tensors on the CPU (what <see cref="Learner.Restore"/> continues from); the caller disposes it.</summary>
    public static StateDict Read(string path)
    {
        using var values = ReadValues(path);
        return ReadTensors(path, values);
    }

    /// <summary>
    /// Only the plain values (configuration, position, records), without creating any tensor; the whole checkpoint
    /// is checked as <see cref="ReadTensors"/> checks it, so that a damaged one is refused before the run loads its data.
    /// </summary>
    public static StateDict ReadValues(string path) => StateDict.From([], ReadVerified(path).Values);

    /// <summary>The values and each tensor entry's bytes, once every entry matches its checksum and every tensor header its length.</summary>
    private static (JsonObject Values, List<(string Name, byte[] Bytes)> Tensors) ReadVerified(string path)
    {
        try
        {
            using var zip = Open(path);
            var checksums = Checksums(zip, path);
            if (checksums.Keys.FirstOrDefault(name => zip.GetEntry(name) is null) is { } lost)
                throw Damaged(path, $"its entry {lost} is gone");
            var values = ParseValues(Entry(zip, ValuesEntry, checksums, path), path);
            var tensors = new List<(string, byte[])>();
            foreach (var entry in zip.Entries.Where(e => e.FullName != ValuesEntry && e.FullName != ChecksumsEntry))
            {
                if (!entry.FullName.StartsWith(TensorPrefix, StringComparison.Ordinal)) throw Damaged(path, $"it holds an unknown entry {entry.FullName}");
                var bytes = Entry(zip, entry.FullName, checksums, path);
                RequireTensorHeader(bytes, entry.FullName, path);
                tensors.Add((entry.FullName, bytes));
            }
            return (values, tensors);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or JsonException or UnauthorizedAccessException)
        {
            throw new DataFileException(path, $"not a readable checkpoint ({e.Message.ReplaceLineEndings(" ").TrimEnd('.')})", e);
        }
    }

    private static ZipArchive Open(string path)
    {
        if (Directory.Exists(path)) throw new DataFileException(path, "is a folder, where the run's checkpoint goes");
        return ZipFile.OpenRead(path);
    }

    private static Dictionary<string, string> Checksums(ZipArchive zip, string path)
    {
        var entry = zip.GetEntry(ChecksumsEntry)
            ?? throw Damaged(path, $"it has no {ChecksumsEntry} (a checkpoint of an older Retain, or not one of Retain's)");
        using var stream = entry.Open();
        return JsonSerializer.Deserialize<Dictionary<string, string>>(Bounded(stream, entry, path))
            ?? throw Damaged(path, $"{ChecksumsEntry} is empty");
    }

    /// <summary>An entry's bytes, once they match their checksum.</summary>
    private static byte[] Entry(ZipArchive zip, string name, Dictionary<string, string> checksums, string path)
    {
        var entry = zip.GetEntry(name) ?? throw Damaged(path, $"it has no {name}");
        if (!checksums.TryGetValue(name, out var expected)) throw Damaged(path, $"{name} is not in {ChecksumsEntry}");
        using var stream = entry.Open();
        var bytes = Bounded(stream, entry, path);
        if (!string.Equals(Convert.ToHexString(SHA256.HashData(bytes)), expected, StringComparison.OrdinalIgnoreCase))
            throw Damaged(path, $"{name} does not match its checksum");
        return bytes;
    }

    /// <summary>The whole of an entry, refusing one that claims or yields more than an array can hold.</summary>
    private static byte[] Bounded(Stream stream, ZipArchiveEntry entry, string path)
    {
        if (entry.Length > Array.MaxLength) throw Damaged(path, $"{entry.FullName} claims {entry.Length} bytes");
        var bytes = new byte[entry.Length];
        stream.ReadExactly(bytes);
        if (stream.ReadByte() != -1) throw Damaged(path, $"{entry.FullName} holds more than its {entry.Length} bytes");
        return bytes;
    }

    private static JsonObject ParseValues(byte[] bytes, string path) =>
        JsonNode.Parse(bytes) as JsonObject ?? throw Damaged(path, $"{ValuesEntry} is not a JSON object");

    /// <summary>
    /// TorchSharp's tensor format (element type, rank, sizes, each LEB128; then the elements): the header is checked
    /// against the entry's length, so that torch never allocates what a damaged header claims.
    /// </summary>
    private static void RequireTensorHeader(byte[] bytes, string name, string path)
    {
        using var stream = new MemoryStream(bytes, writable: false);
        using var reader = new BinaryReader(stream);
        var type = Decode(reader, name, path);
        var rank = Decode(reader, name, path);
        if (type > sbyte.MaxValue || !Enum.IsDefined((ScalarType)type) || ElementBytes((ScalarType)type) is not { } size || rank > 16)
            throw Damaged(path, $"{name} is not a tensor of a known element type and rank");
        var elements = 1L;
        for (var i = 0; i < rank; i++)
        {
            var dimension = Decode(reader, name, path);
            if (dimension > Array.MaxLength || (elements = elements * dimension) > Array.MaxLength)
                throw Damaged(path, $"{name} claims a tensor larger than its entry");
        }
        if (elements * size != stream.Length - stream.Position) throw Damaged(path, $"{name}: its sizes do not match its {bytes.Length} bytes");
    }

    private static long Decode(BinaryReader reader, string name, string path)
    {
        long value = 0;
        for (var shift = 0; shift < 63; shift += 7)
        {
            if (reader.BaseStream.Position >= reader.BaseStream.Length) break;
            var b = reader.ReadByte();
            value |= (long)(b & 0x7f) << shift;
            if ((b & 0x80) == 0) return value;
        }
        throw Damaged(path, $"{name} has no readable tensor header");
    }

    private static long? ElementBytes(ScalarType type) => type switch
    {
        ScalarType.Byte or ScalarType.Int8 or ScalarType.Bool => 1,
        ScalarType.Int16 or ScalarType.Float16 or ScalarType.BFloat16 => 2,
        ScalarType.Int32 or ScalarType.Float32 => 4,
        ScalarType.Int64 or ScalarType.Float64 or ScalarType.ComplexFloat32 => 8,
        ScalarType.ComplexFloat64 => 16,
        _ => null,
    };

    private static DataFileException Damaged(string path, string problem) =>
        new(path, $"not a checkpoint as Retain wrote it: {problem}; remove it, or start the run again with --overwrite");
}

/// <summary>
/// Writes the run's checkpoint: at every task boundary, when the run is interrupted, and at the end of an epoch every
/// <c>--checkpoint-every</c> epochs, or by default whenever the time since the last checkpoint is at least
/// <see cref="AutomaticCostFactor"/> times what the last one took to write (so checkpoints cost under 5% of the run).
/// </summary>
/// <param name="identity">what the run's results depend on (<see cref="RunPlan.Identity"/>), saved so that a resumed run can be checked against it.</param>
public sealed class CheckpointSink(string path, int? everyEpochs, IReadOnlyList<KeyValuePair<string, string>> identity) : IRunAttachedSink
{
    /// <summary>With the automatic interval, at least this many times the last write's duration passes between checkpoints.</summary>
    public const double AutomaticCostFactor = 20;

    private readonly Stopwatch _sinceLast = Stopwatch.StartNew();
    private TimeSpan _lastWrite = TimeSpan.Zero;
    private int _epochsSinceLast;
    private Learner? _learner;

    public string Path => path;

    public void Attach(Learner learner) => _learner = learner;

    public void EpochFinished(EpochRecord epoch) => _epochsSinceLast++;

    public void CheckpointDue(CheckpointReason reason)
    {
        var due = reason != CheckpointReason.EpochEnd || everyEpochs switch
        {
            null => _sinceLast.Elapsed >= AutomaticCostFactor * _lastWrite,
            0 => false,
            { } k => _epochsSinceLast >= k,
        };
        if (due) Write();
    }

    public void RunFinished(RunRecord record)
    {
        // A complete run needs no checkpoint: its result files hold everything.
        if (File.Exists(path)) File.Delete(path);
    }

    private void Write()
    {
        var clock = Stopwatch.StartNew();
        var state = (_learner ?? throw new InvalidOperationException("a checkpoint is due before the run was attached")).State();
        state.SetValue(CheckpointFile.IdentityKey, identity.ToDictionary(kv => kv.Key, kv => kv.Value));
        CheckpointFile.Write(path, state);
        _lastWrite = clock.Elapsed;
        _sinceLast.Restart();
        _epochsSinceLast = 0;
    }
}
