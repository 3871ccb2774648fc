using System.Diagnostics;
using System.IO.Compression;
using System.Text.Json;
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
/// <see cref="StateDict"/>) and one entry per tensor in TorchSharp's tensor format. Written to a temporary file and
/// renamed into place, so a run killed while writing leaves the previous checkpoint intact. Zip (in the box) rather
/// than a hand-made container: any tool can list and extract it.
/// </summary>
public static class CheckpointFile
{
    private const string ValuesEntry = "values.json", TensorPrefix = "tensors/";

    /// <summary>The value holding the run's identity (<see cref="RunPlan.Identity"/>), which a resumed run must match.</summary>
    public const string IdentityKey = "run/identity";

    public static string PathFor(string output) => Path.ChangeExtension(output, ".ckpt");

    public static void Write(string path, StateDict state)
    {
        ResultFiles.WriteAtomically(path, tmp =>
        {
            using var zip = ZipFile.Open(tmp, ZipArchiveMode.Create);
            using (var values = new StreamWriter(zip.CreateEntry(ValuesEntry, CompressionLevel.Fastest).Open()))
                values.Write(state.AllValues.ToJsonString());
            foreach (var (name, tensor) in state.AllTensors)
            {
                using var stream = zip.CreateEntry(TensorPrefix + name, CompressionLevel.NoCompression).Open();
                using var writer = new BinaryWriter(stream);
                using var cpu = tensor.detach().cpu();
                cpu.Save(writer);
            }
        });
    }

    /// <summary>
    /// The whole checkpoint: <paramref name="values"/>, read before by <see cref="ReadValues(string)"/>, with its
    /// tensors (on the CPU) read now; the caller disposes it.
    /// </summary>
    public static StateDict ReadTensors(string path, StateDict values)
    {
        try
        {
            using var zip = ZipFile.OpenRead(path);
            var tensors = new Dictionary<string, Tensor>();
            foreach (var entry in zip.Entries.Where(e => e.FullName.StartsWith(TensorPrefix, StringComparison.Ordinal)))
            {
                using var reader = new BinaryReader(entry.Open());
                tensors[entry.FullName[TensorPrefix.Length..]] = Tensor.Load(reader);
            }
            return StateDict.From(tensors, values.AllValues);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or JsonException)
        {
            throw new DataFileException(path, $"not a readable checkpoint ({e.Message})", e);
        }
    }

    /// <summary>The whole checkpoint, its tensors on the CPU (what <see cref="Learner.Restore"/> continues from); the caller disposes it.</summary>
    public static StateDict Read(string path)
    {
        using var values = ReadValues(path);
        return ReadTensors(path, values);
    }

    /// <summary>Only the plain values (configuration, position, records), without loading any tensor.</summary>
    public static StateDict ReadValues(string path)
    {
        try
        {
            using var zip = ZipFile.OpenRead(path);
            return StateDict.From([], ReadValues(zip, path));
        }
        catch (Exception e) when (e is InvalidDataException or IOException or JsonException)
        {
            throw new DataFileException(path, $"not a readable checkpoint ({e.Message})", e);
        }
    }

    private static JsonObject ReadValues(ZipArchive zip, string path)
    {
        var entry = zip.GetEntry(ValuesEntry) ?? throw new DataFileException(path, $"not a checkpoint (no {ValuesEntry})");
        using var stream = entry.Open();
        return JsonNode.Parse(stream) as JsonObject ?? throw new DataFileException(path, $"{ValuesEntry} is not a JSON object");
    }
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
