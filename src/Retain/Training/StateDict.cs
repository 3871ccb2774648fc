using System.Text.Json;
using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace Retain.Training;

/// <summary>
/// Something whose state must survive an interruption: it writes everything it needs to continue exactly where it
/// stopped into a <see cref="StateDict"/>, and reads it back into a freshly built instance. Every approach implements
/// it (the registry-driven resume tests check that a resumed run is bit-identical to an uninterrupted one).
/// </summary>
public interface IStateful
{
    void Save(StateDict state);
    void Load(StateDict state);
}

/// <summary>
/// TorchSharp's <c>state_dict</c>, extended to plain values: named tensors plus JSON values, both under
/// slash-separated names (<c>approach/fisher/backbone.fc1.weight</c>). Saving keeps references (the checkpoint is
/// written before training continues); loaded tensors live on the CPU and belong to the dictionary until disposed.
/// </summary>
public sealed class StateDict : IDisposable
{
    private static readonly JsonSerializerOptions Json = new()
    {
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
        IncludeFields = true,
    };

    private readonly Dictionary<string, Tensor> _tensors;
    private readonly JsonObject _values;
    private readonly string _prefix;

    public StateDict() : this([], [], "") { }

    private StateDict(Dictionary<string, Tensor> tensors, JsonObject values, string prefix) =>
        (_tensors, _values, _prefix) = (tensors, values, prefix);

    /// <summary>A view whose names are prefixed with <paramref name="name"/>/ (one component's part of the whole).</summary>
    public StateDict Scope(string name) => new(_tensors, _values, _prefix + name + "/");

    // ---- tensors ----------------------------------------------------------------------------------------------

    public StateDict Set(string name, Tensor tensor)
    {
        _tensors[_prefix + name] = tensor;
        return this;
    }

    /// <summary>A named set of tensors (a copy of a model's parameters, a Fisher diagonal); null is stored as absent.</summary>
    public StateDict Set(string name, IReadOnlyDictionary<string, Tensor>? tensors)
    {
        SetValue(name + "#present", tensors is not null);
        if (tensors is null) return this;
        SetValue(name + "#names", tensors.Keys.ToArray());
        foreach (var (key, tensor) in tensors) Set($"{name}/{key}", tensor);
        return this;
    }

    /// <summary>Whether a named set was stored under <paramref name="name"/> (as a set or as absent).</summary>
    public bool ContainsTensors(string name) => Contains(name + "#present");

    public Tensor Tensor(string name) =>
        _tensors.TryGetValue(_prefix + name, out var t) ? t : throw new KeyNotFoundException($"state has no tensor '{_prefix + name}'");

    /// <summary>The named set stored by <see cref="Set(string, IReadOnlyDictionary{string, Tensor}?)"/>, as clones on <paramref name="device"/>.</summary>
    public Dictionary<string, Tensor>? Tensors(string name, Device device)
    {
        if (!Value<bool>(name + "#present")) return null;
        return Value<string[]>(name + "#names").ToDictionary(key => key, key => Tensor($"{name}/{key}").to(device, copy: true));
    }

    // ---- plain values -----------------------------------------------------------------------------------------

    public StateDict SetValue<T>(string name, T value)
    {
        _values[_prefix + name] = JsonSerializer.SerializeToNode(value, Json);
        return this;
    }

    public T Value<T>(string name) =>
        _values.TryGetPropertyValue(_prefix + name, out var node)
            ? node is null ? default! : node.Deserialize<T>(Json)!
            : throw new KeyNotFoundException($"state has no value '{_prefix + name}'");

    public bool Contains(string name) => _values.ContainsKey(_prefix + name) || _tensors.ContainsKey(_prefix + name);

    // ---- whole-dictionary access for the checkpoint file ----------------------------------------------------------

    /// <summary>Every tensor of the whole dictionary (not only this view's), by full name.</summary>
    public IReadOnlyDictionary<string, Tensor> AllTensors => _tensors;

    /// <summary>Every plain value of the whole dictionary, as one JSON object.</summary>
    public JsonObject AllValues => _values;

    public static StateDict From(Dictionary<string, Tensor> tensors, JsonObject values) => new(tensors, values, "");

    /// <summary>Disposes the tensors (only for a dictionary that owns them: one read from a file).</summary>
    public void Dispose()
    {
        foreach (var t in _tensors.Values) t.Dispose();
        _tensors.Clear();
    }
}
