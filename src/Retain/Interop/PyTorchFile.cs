using System.Collections;
using Retain.Evaluation;
using Retain.Networks;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Retain.Interop;

/// <summary>
/// A trained model as PyTorch reads it: one <c>torch.save</c> file (written by TorchSharp.PyBridge, read with
/// <c>torch.load</c>, also with <c>weights_only=True</c>) holding a dictionary, as PyTorch checkpoints usually are:
/// <list type="bullet">
/// <item><c>model</c>: the network's state dict under the seed's names (<see cref="SeedNames"/>), so
/// <c>net.load_state_dict(file["model"])</c> loads it into the seed's module;</item>
/// <item><c>state</c>: the approach's state that matters (<see cref="ApproachState"/>): group → name → tensor, and
/// <c>scalars</c>: name → 0-d float64 tensor;</item>
/// <item><c>format</c>, <c>version</c> and the description (<see cref="ModelDescription"/>): <c>approach</c>,
/// <c>network</c>, <c>input_size</c>, <c>class_counts</c>, <c>task_names</c>, <c>tasks_trained</c>, <c>options</c>
/// (text), <c>experiment</c> and <c>seed</c> when known.</item>
/// </list>
/// Tensors are written from the CPU in their own dtype (float32 for every parameter).
/// </summary>
public static class PyTorchFile
{
    public const string Format = "retain-pytorch";
    public const int Version = 1;

    /// <summary>Writes <paramref name="network"/> and <paramref name="state"/> to <paramref name="path"/> (replacing it atomically).</summary>
    public static void Save(string path, MultiHeadNetwork network, ModelDescription description, ApproachState? state = null)
    {
        using var scope = NewDisposeScope();
        var names = SeedNames.For(network);
        var parameters = SeedNames.Tensors(network);
        var model = new Dictionary<string, object>();
        foreach (var name in names.RetainNames) model[names.ToSeed(name)] = Portable(names.ToSeedShape(name, parameters[name]));
        var groups = new Dictionary<string, object>();
        foreach (var (group, tensors) in state?.Groups ?? [])
            groups[group] = tensors.ToDictionary(kv => names.IsTensorOfTheNetwork(kv.Key) ? names.ToSeed(kv.Key) : kv.Key,
                kv => (object)Portable(names.IsTensorOfTheNetwork(kv.Key) ? names.ToSeedShape(kv.Key, kv.Value) : kv.Value));
        var file = new Dictionary<string, object?>
        {
            ["format"] = Format, ["version"] = Version,
            ["approach"] = description.Approach, ["network"] = description.Network,
            ["input_size"] = List(description.InputSize), ["class_counts"] = List(description.ClassCounts),
            ["task_names"] = List(description.TaskNames), ["tasks_trained"] = description.TasksTrained,
            ["options"] = description.Options.ToDictionary(kv => kv.Key, kv => (object)kv.Value),
            ["experiment"] = description.Experiment, ["seed"] = description.Seed,
            ["model"] = model,
            ["state"] = groups,
            // As 0-d float64 tensors: torch 1.13's weights_only reader rejects pickled floats.
            ["scalars"] = (state?.Scalars ?? []).ToDictionary(kv => kv.Key, kv => (object)tensor(kv.Value, ScalarType.Float64)),
        };
        ResultFiles.WriteAtomically(path, tmp =>
        {
            using var stream = File.Create(tmp);
            PyTorchPickler.PickleStateDict(stream, file);
        });
    }

    /// <summary>
    /// Reads <paramref name="path"/> into <paramref name="network"/> (which must have the file's architecture: every
    /// tensor present, of the same shape, and no other) and returns the file's description and approach state (tensors
    /// keyed by Retain's names again, owned by the caller).
    /// </summary>
    public static (ModelDescription Description, ApproachState State) Load(string path, MultiHeadNetwork network)
    {
        var file = Read(path);
        try { return (DescriptionOf(file, path), LoadInto(network, file, path)); }
        finally { DisposeTensors(file); }
    }

    /// <summary>Rebuilds the described network (through the approach and backbone registries) and reads the file into it.</summary>
    public static (ModelDescription Description, MultiHeadNetwork Network, ApproachState State) Load(string path)
    {
        var file = Read(path);
        try
        {
            var description = DescriptionOf(file, path);
            var network = description.CreateNetwork(path);
            try { return (description, network, LoadInto(network, file, path)); }
            catch
            {
                network.Dispose();
                throw;
            }
        }
        finally { DisposeTensors(file); }
    }

    /// <summary>Only the description (the file is read whole: torch's format has no index of its entries).</summary>
    public static ModelDescription ReadDescription(string path)
    {
        var file = Read(path);
        try { return DescriptionOf(file, path); }
        finally { DisposeTensors(file); }
    }

    /// <summary>Copies the file's model into <paramref name="network"/>; returns its approach state as copies under Retain's names.</summary>
    private static ApproachState LoadInto(MultiHeadNetwork network, Hashtable file, string path)
    {
        var names = SeedNames.For(network);
        var model = Dictionary(file, "model", path);
        var parameters = SeedNames.Tensors(network);
        var missing = names.RetainNames.Where(n => !model.ContainsKey(names.ToSeed(n))).ToArray();
        if (missing.Length > 0)
            throw new DataFileException(path, $"the network has {names.ToSeed(missing[0])} but the file does not ({missing.Length} missing): not a model of this architecture");
        using (no_grad())
        {
            foreach (DictionaryEntry entry in model)
            {
                var seed = (string)entry.Key;
                var target = names.ToRetain(seed) is { } retain ? parameters[retain]
                    : throw new DataFileException(path, $"{seed} is not a tensor of this network: not a model of this architecture");
                var value = TensorOf(entry.Value, $"model/{seed}", path);
                if (value.numel() != target.numel())
                    throw new DataFileException(path, $"{seed} has shape [{string.Join(", ", value.shape)}], the network's [{string.Join(", ", target.shape)}]");
                using var shaped = value.view_as(target);
                target.copy_(shaped);
            }
        }
        var state = new ApproachState();
        foreach (DictionaryEntry group in Dictionary(file, "state", path))
        {
            var tensors = new Dictionary<string, Tensor>();
            foreach (DictionaryEntry entry in AsDictionary(group.Value, $"state/{group.Key}", path))
            {
                var key = (string)entry.Key;
                var value = TensorOf(entry.Value, $"state/{group.Key}/{key}", path);
                var retain = names.ToRetain(key);
                if (retain is not null && value.numel() != parameters[retain].numel())
                    throw new DataFileException(path, $"state/{group.Key}/{key} has shape [{string.Join(", ", value.shape)}], the parameter's [{string.Join(", ", parameters[retain].shape)}]");
                using var shaped = retain is null ? value.alias() : value.view_as(parameters[retain]);
                tensors[retain ?? key] = shaped.clone();
            }
            state.Groups[(string)group.Key] = tensors;
        }
        foreach (DictionaryEntry scalar in Dictionary(file, "scalars", path))
        {
            using var value = TensorOf(scalar.Value, $"scalars/{scalar.Key}", path).to_type(ScalarType.Float64);
            state.Scalars[(string)scalar.Key] = value.item<double>();
        }
        return state;
    }

    private static Hashtable Read(string path)
    {
        if (!File.Exists(path)) throw new DataFileException(path, "file not found");
        Hashtable file;
        try
        {
            using var stream = File.OpenRead(path);
            file = PyTorchUnpickler.UnpickleStateDict(stream);
        }
        catch (Exception e) when (e is not RetainException)
        {
            throw new DataFileException(path, $"not a file torch.save wrote ({e.Message})", e);
        }
        if (file["format"] as string != Format)
            throw new DataFileException(path, $"not a model Retain exported (no format '{Format}')");
        if (file["version"] is not int version || version > Version)
            throw new DataFileException(path, $"format version {file["version"]}; this Retain reads up to {Version}");
        return file;
    }

    private static ModelDescription DescriptionOf(Hashtable file, string path) => new()
    {
        Approach = Text(file, "approach", path), Network = Text(file, "network", path),
        InputSize = Ints(file, "input_size", path), ClassCounts = Ints(file, "class_counts", path),
        TaskNames = Items(file, "task_names", path).Select(o => o as string ?? throw Malformed(path, "task_names")).ToArray(),
        TasksTrained = file["tasks_trained"] as int? ?? throw Malformed(path, "tasks_trained"),
        Options = Dictionary(file, "options", path).Cast<DictionaryEntry>()
            .ToDictionary(e => (string)e.Key, e => e.Value as string ?? throw Malformed(path, $"options/{e.Key}")),
        Experiment = file["experiment"] as string, Seed = file["seed"] as int?,
    };

    /// <summary>A CPU copy with its own storage (PyBridge writes a tensor's storage from offset 0).</summary>
    private static Tensor Portable(Tensor tensor)
    {
        // The temporaries in using variables, referenced until the native call that reads them returns (see TorchRandom).
        using var detached = tensor.detach();
        using var cpu = detached.cpu();
        return cpu.clone();
    }

    private static List<object> List<T>(IEnumerable<T> items) => items.Select(i => (object)i!).ToList();

    private static string Text(Hashtable file, string key, string path) => file[key] as string ?? throw Malformed(path, key);

    private static IEnumerable<object> Items(Hashtable file, string key, string path) =>
        (file[key] as IEnumerable ?? throw Malformed(path, key)).Cast<object>();

    private static int[] Ints(Hashtable file, string key, string path) =>
        Items(file, key, path).Select(o => o as int? ?? throw Malformed(path, key)).ToArray();

    private static Hashtable Dictionary(Hashtable file, string key, string path) => AsDictionary(file[key], key, path);

    private static Hashtable AsDictionary(object? value, string key, string path) => value as Hashtable ?? throw Malformed(path, key);

    private static Tensor TensorOf(object? value, string key, string path) => value as Tensor ?? throw Malformed(path, key);

    private static DataFileException Malformed(string path, string key) => new(path, $"'{key}' is missing or of the wrong type");

    private static void DisposeTensors(object? value)
    {
        switch (value)
        {
            case Tensor tensor: tensor.Dispose(); break;
            case Hashtable table: foreach (var item in table.Values) DisposeTensors(item); break;
        }
    }
}
