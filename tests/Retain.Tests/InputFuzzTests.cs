using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;
using CsCheck;
using Retain.Cli;
using Retain.Data;
using Retain.Evaluation;
using Retain.Experiments;
using Retain.Reports;
using Retain.Studies;
using Retain.Training;
using static TorchSharp.torch;

namespace Retain.Tests;

/// <summary>
/// Hostile input for the readers of what users write or edit: study files, run records, checkpoints and benchmark
/// descriptions, 1000 generated variants of a valid file each (edits of the JSON or YAML as a hand makes them, and
/// damaged bytes). Each must be read, or refused with a <see cref="RetainException"/> (one line, exit code 2): never
/// another exception, which the command line would report as a bug of Retain (exit code 70). The inputs come from a
/// fixed seed (<see cref="FixedSeedFuzz"/>); every input still writes files of its own.
/// </summary>
public class InputFuzzTests : TempFolderTests
{
    private const int Iterations = 1000;

    /// <summary>Runs <paramref name="read"/>; a user error is fine, anything else fails with the input that caused it.</summary>
    private static void ReadsOrRefuses(string input, Action read)
    {
        try { read(); }
        catch (Exception e) when (e is RetainException or Spectre.Console.Cli.CommandAppException)
        {
            Assert.False(e.Message.Contains('\n'), $"a message of several lines: {e.Message}");
        }
        catch (Exception e)
        {
            Assert.Fail($"{e.GetType().Name} ({e.Message}) on this input:\n{input}\n{e}");
        }
    }

    // ---- edits of a JSON document, as a hand makes them -----------------------------------------------------------

    /// <summary>
    /// One edit of a JSON document: at the node <see cref="At"/> (modulo the node count, in document order), remove it,
    /// make it null, replace it by another value (<see cref="Kind"/>), or change the length of an array.
    /// </summary>
    public sealed record JsonEdit(int At, int Kind, long Number, string Text)
    {
        public void Apply(JsonNode root)
        {
            var nodes = new List<JsonNode>();
            void Walk(JsonNode? node)
            {
                if (node is null) return;
                nodes.Add(node);
                if (node is JsonObject o) foreach (var (_, child) in o.ToArray()) Walk(child);
                else if (node is JsonArray a) foreach (var child in a.ToArray()) Walk(child);
            }
            Walk(root);
            var target = nodes[At % nodes.Count];
            if (target.Parent is not { } parent) return;
            JsonNode? replacement = (Kind % 9) switch
            {
                0 or 1 => null,
                2 => JsonValue.Create(Number),
                3 => JsonValue.Create(Text),
                4 => JsonValue.Create(Number % 3 == 0 ? double.MaxValue : Number % 3 == 1 ? -1.5 : 1e-300),
                5 => JsonValue.Create(Number % 2 == 0),
                6 => new JsonArray(JsonValue.Create(Number), null, JsonValue.Create(Text)),
                7 => new JsonObject { [Text] = JsonValue.Create(Number) },
                _ => target is JsonArray list ? Resized(list) : JsonValue.Create(Number),
            };
            if (Kind % 9 == 0)
            {
                if (parent is JsonObject po) po.Remove(po.First(kv => ReferenceEquals(kv.Value, target)).Key);
                else ((JsonArray)parent).Remove(target);
                return;
            }
            if (parent is JsonObject obj) obj[obj.First(kv => ReferenceEquals(kv.Value, target)).Key] = replacement;
            else { var array = (JsonArray)parent; array[array.IndexOf(target)] = replacement; }
        }

        private JsonArray Resized(JsonArray list)
        {
            var items = list.Select(n => n?.DeepClone()).ToList();
            if (Number % 2 == 0 && items.Count > 0) items.RemoveAt((int)(Number / 2 % items.Count));
            else items.Add(items.Count > 0 ? items[0]?.DeepClone() : JsonValue.Create(Number));
            return new JsonArray([.. items]);
        }
    }

    private static readonly Gen<JsonEdit> JsonEdits =
        Gen.Select(Gen.Int[0, int.MaxValue], Gen.Int[0, 8], Gen.Long[-3, 3_000_000_000], Gen.OneOf("", "x", "none", "NaN", "-1", "mlp", "joint", "random", "linear:0", "a/../b"),
            (at, kind, number, text) => new JsonEdit(at, kind, number, text));

    /// <summary>A JSON text after one to three edits, or (one time in four) after damage to its bytes.</summary>
    private static Gen<byte[]> EditedJson(string valid) =>
        Gen.Frequency(
            (3, JsonEdits.Array[1, 3].Select(edits =>
            {
                var root = JsonNode.Parse(valid)!;
                foreach (var edit in edits) edit.Apply(root);
                return Encoding.UTF8.GetBytes(root.ToJsonString());
            })),
            (1, ReadersFuzzTests.Mutations.Select(m => m.Apply(Encoding.UTF8.GetBytes(valid)))));

    // ---- the four readers -----------------------------------------------------------------------------------------

    /// <summary>A folder of its own for one sample.</summary>
    private string SampleFolder() => Directory.CreateDirectory(Path.Combine(Folder, Guid.NewGuid().ToString("N"))).FullName;

    [Fact]
    public void RunRecordReader()
    {
        ReportFixtures.Record(Folder, "exp3_sgd_0", ReportFixtures.Sgd0, [0.1, 0.6, 0.45], ReportFixtures.Sgd0, ReportFixtures.History("ewc/penalty"));
        var valid = File.ReadAllText(Path.Combine(Folder, "exp3_sgd_0.json"));
        EditedJson(valid).Check(bytes =>
        {
            var folder = SampleFolder();
            ReportFixtures.Matrix(folder, "exp3_sgd_0", ReportFixtures.Sgd0);
            var (json, txt) = (Path.Combine(folder, "exp3_sgd_0.json"), Path.Combine(folder, "exp3_sgd_0.txt"));
            File.WriteAllBytes(json, bytes);
            var input = Encoding.UTF8.GetString(bytes);
            // Every reader of a record, as metrics, reports, study summaries and resume use them.
            ReadsOrRefuses(input, () => RunRecordFile.ReadFields(json));
            ReadsOrRefuses(input, () => RunRecordFile.Read(json));
            ReadsOrRefuses(input, () => ExistingRun.Inspect(new RunPaths(txt, null, null)));
            ReadsOrRefuses(input, () => AccuracyBeforeTraining.TryRead(txt, 3));
            ReadsOrRefuses(input, () => AgnosticRecord.TryRead(txt));
            ReadsOrRefuses(input, () =>
            {
                var matrix = AccuracyMatrix.Read(txt);
                var description = RunDescription.Read(txt, ResultFileName.Parse(txt), matrix);
                RunCompatibility.AsSeeds(description, description);
                RunCompatibility.Unchecked(description, description);
            });
            ReadsOrRefuses(input, () =>
            {
                var run = ReportRun.Read(txt);
                ExperimentResults.Of(new ReportSources([run], [], folder));
            });
        }, iterations: Iterations);
    }

    [Fact]
    public void BenchmarkDescriptionReader()
    {
        // Four classes of 4x4 images in IDX files: 40 to train, 8 to test.
        byte[] Labels(int n) => [.. Enumerable.Range(0, n).Select(i => (byte)(i % 4))];
        foreach (var (prefix, labels) in new[] { ("train", Labels(40)), ("test", Labels(8)) })
        {
            Write($"{prefix}-images", IdxReaderTests.Idx([labels.Length, 4, 4], [.. labels.SelectMany(l => Enumerable.Repeat((byte)(60 * l), 16))]));
            Write($"{prefix}-labels", IdxReaderTests.Idx([labels.Length], labels));
        }
        const string valid = """
            { "name": "tiny", "network": "mlp",
              "datasets": [ { "name": "d", "format": "idx", "train_images": "train-images", "train_labels": "train-labels",
                              "test_images": "test-images", "test_labels": "test-labels" } ],
              "image": { "channels": 1, "height": 4, "width": 4 },
              "tasks": { "type": "class-groups", "dataset": "d", "groups": [[0, 1], [2, 3]], "count": 2 },
              "normalisation": { "mean": [0.3], "std": [0.2] }, "valid_fraction": 0.25, "shuffle_tasks": true }
            """;
        EditedJson(valid).Check(bytes =>
        {
            var path = Path.Combine(Folder, $"bench-{Guid.NewGuid():N}.json");
            File.WriteAllBytes(path, bytes);
            ReadsOrRefuses(Encoding.UTF8.GetString(bytes), () => ExperimentCatalog.Load(path, Folder, seed: 1).Dispose());
        }, iterations: Iterations);
    }

    [Fact]
    public void StudyFileParser()
    {
        const string valid = StudyFileTests.GridStudy + """
            runs:
              - {approach: dwa, name: tanh, gate: tanh, warmup: "1,10"}
            references: true
            """;
        StudyEdits(valid).Check(text =>
        {
            var path = Path.Combine(Folder, $"study-{Guid.NewGuid():N}.yaml");
            File.WriteAllText(path, text);
            // As every study command reads it: the file, then each run's options as retain run checks them (the
            // first few: every run is resolved alike).
            ReadsOrRefuses(text, () =>
            {
                var study = Study.Load(path, RunCommand.OptionNames);
                foreach (var run in study.Runs.Take(4)) RunCommand.Plan(run.Arguments);
            });
        }, iterations: Iterations);
    }

    /// <summary>The pieces of YAML a hand may type in the wrong place, and values no run should accept.</summary>
    private static readonly string[] YamlPieces =
    [
        "[", "]", "{", "}", ":", ": ", ",", "- ", "*a", "&a ", "!!int ", "|", ">", "'", "\"", "#", "\n", "  ", "\t", "? ",
        "---\n", "...", "%YAML 1.2\n", "2000000000", "-1", "1e309", ".nan", "null", "~", "many", "[[[[[[[[[[", "<<: *a",
        "grid:", "zip:", "seeds: ", "name: ", "experiments: ", "approaches:", "x.json", "../..", "\u00e9", "\0",
    ];

    /// <summary>One to four edits of the text: a piece inserted, a span deleted, a line doubled or two swapped.</summary>
    private static Gen<string> StudyEdits(string valid) =>
        Gen.Select(Gen.Int[0, 3], Gen.Int[0, int.MaxValue], Gen.Int[0, int.MaxValue], Gen.Int[0, YamlPieces.Length - 1],
                (kind, a, b, piece) => (Kind: kind, A: a, B: b, Piece: piece)).Array[1, 4]
            .Select(edits =>
            {
                var text = valid;
                foreach (var (kind, a, b, piece) in edits)
                {
                    var lines = text.Split('\n').ToList();
                    switch (kind)
                    {
                        case 0: text = text.Insert(a % (text.Length + 1), YamlPieces[piece]); break;
                        case 1 when text.Length > 0: var at = a % text.Length; text = text.Remove(at, Math.Min(1 + b % 12, text.Length - at)); break;
                        case 2: lines.Insert(a % (lines.Count + 1), lines[b % lines.Count]); text = string.Join('\n', lines); break;
                        default: (lines[a % lines.Count], lines[b % lines.Count]) = (lines[b % lines.Count], lines[a % lines.Count]); text = string.Join('\n', lines); break;
                    }
                }
                return text;
            });

    [Fact]
    public void CheckpointReader()
    {
        // A checkpoint as a run writes it (values, and tensors of the element types runs store), small.
        var checkpoint = Path.Combine(Folder, "run.ckpt");
        using (var state = new StateDict())
        using (var weights = arange(12, dtype: ScalarType.Float32).reshape(3, 4))
        using (var order = tensor(new long[] { 4, 1, 3, 0, 2 }))
        using (var rng = ones(16, dtype: ScalarType.Byte))
        {
            state.SetValue("run/next_task", 1).SetValue("run/identity", new Dictionary<string, string> { ["--lr"] = "0.05" })
                .SetValue("run/record", new { accuracy = new[] { new[] { 0.5, 0 }, new[] { 0.4, 0.6 } } })
                .Set("model/fc.weight", weights).Set("rng/torch", rng).Set("training/order", order);
            CheckpointFile.Write(checkpoint, state);
        }
        var valid = File.ReadAllBytes(checkpoint);
        using var original = CheckpointFile.ReadTensors(checkpoint, CheckpointFile.ReadValues(checkpoint));
        var originalValues = original.AllValues.ToJsonString();

        // Damage to the zip's bytes, or an entry edited inside an intact zip: its checksum kept, or made to match (as a
        // hand that knows the format might), which only the checks of the entry itself can catch.
        var damaged = Gen.Frequency(
            (1, ReadersFuzzTests.Mutations.Select(m => (Bytes: m.Apply(valid), Rehashed: false))),
            (1, Gen.Select(Gen.Int[0, 3], ReadersFuzzTests.Mutations, Gen.Bool, (entry, m, rehash) => (Bytes: EditEntry(valid, entry, m, rehash), Rehashed: rehash))));
        damaged.Check(input =>
        {
            var path = Path.Combine(Folder, $"{Guid.NewGuid():N}.ckpt");
            File.WriteAllBytes(path, input.Bytes);
            ReadsOrRefuses("(zip)", () =>
            {
                var valuesRead = CheckpointFile.ReadValues(path);
                var values = valuesRead.AllValues.ToJsonString();
                using var read = CheckpointFile.ReadTensors(path, valuesRead);
                if (input.Rehashed) return;
                // What reads is what was written: with their checksums intact, nothing else gets through.
                Assert.Equal(originalValues, values);
                Assert.Equal(originalValues, read.AllValues.ToJsonString());
                foreach (var (name, tensor) in original.AllTensors)
                    Assert.True(tensor.shape.SequenceEqual(read.AllTensors[name].shape) && tensor.eq(read.AllTensors[name]).all().item<bool>(), name);
            });
        }, iterations: Iterations);
    }

    /// <summary>The checkpoint with one of its entries damaged by <paramref name="damage"/>, its checksum recomputed when <paramref name="rehash"/>.</summary>
    private static byte[] EditEntry(byte[] checkpoint, int entryIndex, ReadersFuzzTests.Mutation damage, bool rehash)
    {
        using var copy = new MemoryStream();
        copy.Write(checkpoint);
        using (var zip = new ZipArchive(copy, ZipArchiveMode.Update, leaveOpen: true))
        {
            var entry = zip.Entries.Where(e => e.FullName != "checksums.json").OrderBy(e => e.FullName, StringComparer.Ordinal).ElementAt(entryIndex % 4);
            var name = entry.FullName;
            byte[] bytes;
            using (var stream = entry.Open())
            using (var read = new MemoryStream())
            {
                stream.CopyTo(read);
                bytes = damage.Apply(read.ToArray());
            }
            entry.Delete();
            using (var stream = zip.CreateEntry(name).Open()) stream.Write(bytes);
            if (rehash)
            {
                var sums = zip.GetEntry("checksums.json")!;
                JsonObject list;
                using (var stream = sums.Open()) list = JsonNode.Parse(stream)!.AsObject();
                list[name] = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(bytes));
                sums.Delete();
                using var target = zip.CreateEntry("checksums.json").Open();
                target.Write(Encoding.UTF8.GetBytes(list.ToJsonString()));
            }
        }
        return copy.ToArray();
    }
}
