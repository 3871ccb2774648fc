using System.Runtime.InteropServices;
using Retain.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Retain.Approaches;

/// <summary>What one anchor search found (for logs and tests).</summary>
internal sealed record AnchorSearch(int Task, int Epoch, int AnchorSamples, double NegativeLoss, double? TaskNegativeLoss, double PositiveNorm);

/// <summary>
/// Everything DWA carries from batch to batch and task to task (docs/dwa.md): the current anchors P
/// (positive), N (negative) and N_T (task negative, kept from the previous task until replaced), the latest positive
/// anchor of every finished task, and the merged Fisher diagonal of the masked layers' weights (by parameter name).
/// Anchors are plain arrays; <see cref="ToFile"/> / <see cref="FromFile"/> convert the whole state to and from a
/// serialisable record.
/// </summary>
internal sealed class DwaState : IDisposable
{
    public float[]? Positive { get; set; }
    public float[]? Negative { get; set; }
    public float[]? TaskNegative { get; set; }
    /// <summary>anchor_store: the positive anchor of each finished task.</summary>
    public SortedDictionary<int, float[]> AnchorStore { get; } = [];
    /// <summary>Merged Fisher diagonal F of each masked layer's weight, by parameter name (<c>backbone.c2.weight</c>); null before the first task ends.</summary>
    public Dictionary<string, Tensor>? Fisher { get; set; }
    /// <summary>
    /// The inputs (on the CPU) of each finished task's first 10 · sbatch training samples in stored order: the task
    /// predictors' memory. Their embeddings are recomputed with the context processor as it is when predicting, since
    /// embeddings stored when a task ended no longer describe where its inputs land after later tasks. Saved with the
    /// checkpoint's tensors, not in <see cref="ToFile"/>.
    /// </summary>
    public SortedDictionary<int, Tensor> TaskInputs { get; } = [];
    /// <summary>The task classifier over the stem's features, trained after each task from the second on; null before.</summary>
    public DwaTaskClassifier? TaskClassifier { get; set; }
    public List<AnchorSearch> Searches { get; } = [];
    /// <summary>Per epoch, the means of the auxiliary terms and the masks' use.</summary>
    public List<DwaEpochTerms> Terms { get; } = [];

    /// <param name="includeFisher">The Fisher diagonal is as large as the masked weights (6.5 M values for AlexNet).</param>
    public DwaStateFile ToFile(bool includeFisher = true) => new()
    {
        Positive = Positive, Negative = Negative, TaskNegative = TaskNegative,
        AnchorStore = AnchorStore.ToDictionary(kv => kv.Key, kv => kv.Value),
        Fisher = !includeFisher ? null : Fisher?.ToDictionary(kv => kv.Key, kv => new StoredTensor(kv.Value.shape, ToArray(kv.Value))),
        Searches = [.. Searches],
        Terms = [.. Terms],
    };

    public static DwaState FromFile(DwaStateFile file, Device device)
    {
        var state = new DwaState();
        state.Restore(file, file.Fisher?.ToDictionary(kv => kv.Key, kv => tensor(kv.Value.Values, kv.Value.Shape, device: device)));
        return state;
    }

    /// <summary>Replaces this state by <paramref name="file"/>'s, with <paramref name="fisher"/> as the Fisher diagonal (kept, not copied).</summary>
    public void Restore(DwaStateFile file, Dictionary<string, Tensor>? fisher)
    {
        Dispose();
        (Positive, Negative, TaskNegative, Fisher) = (file.Positive, file.Negative, file.TaskNegative, fisher);
        AnchorStore.Clear();
        foreach (var (task, anchor) in file.AnchorStore) AnchorStore[task] = anchor;
        Searches.Clear();
        Searches.AddRange(file.Searches);
        Terms.Clear();
        Terms.AddRange(file.Terms);
    }

    public static float[] ToArray(Tensor t)
    {
        using var scope = NewDisposeScope();   // holds the chain's temporaries until their native calls return (see TorchRandom)
        var flat = t.detach().to_type(ScalarType.Float32).cpu().contiguous().flatten();
        return MemoryMarshal.Cast<byte, float>(flat.bytes).ToArray();
    }

    /// <summary>Replaces the stored inputs by <paramref name="inputs"/> (by task id as text, as <see cref="TaskInputsByName"/> gives them; kept, not copied).</summary>
    public void RestoreTaskInputs(IReadOnlyDictionary<string, Tensor>? inputs) => RestoreByTask(TaskInputs, inputs);

    /// <summary>The stored inputs by task id as text, the form a checkpoint's named tensors take.</summary>
    public Dictionary<string, Tensor> TaskInputsByName => ByName(TaskInputs);

    private static void RestoreByTask(SortedDictionary<int, Tensor> target, IReadOnlyDictionary<string, Tensor>? source)
    {
        foreach (var stored in target.Values) stored.Dispose();
        target.Clear();
        foreach (var (task, stored) in source ?? new Dictionary<string, Tensor>()) target[int.Parse(task, System.Globalization.CultureInfo.InvariantCulture)] = stored;
    }

    private static Dictionary<string, Tensor> ByName(SortedDictionary<int, Tensor> byTask) =>
        byTask.ToDictionary(kv => kv.Key.ToString(System.Globalization.CultureInfo.InvariantCulture), kv => kv.Value);

    public void Dispose()
    {
        ParameterSet.DisposeAll(Fisher);
        RestoreByTask(TaskInputs, null);
        TaskClassifier?.Dispose();
        TaskClassifier = null;
    }
}

/// <summary>A tensor as plain data: its shape and its values in row-major order.</summary>
internal sealed record StoredTensor(long[] Shape, float[] Values);

/// <summary>The serialisable form of <see cref="DwaState"/>.</summary>
internal sealed record DwaStateFile
{
    public float[]? Positive { get; init; }
    public float[]? Negative { get; init; }
    public float[]? TaskNegative { get; init; }
    public Dictionary<int, float[]> AnchorStore { get; init; } = [];
    public Dictionary<string, StoredTensor>? Fisher { get; init; }
    public List<AnchorSearch> Searches { get; init; } = [];
    public List<DwaEpochTerms> Terms { get; init; } = [];
}
