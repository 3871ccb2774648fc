using Retain.Data;
using Retain.Interop;
using Retain.Training;
using static TorchSharp.torch;

namespace Retain.Experiments;

/// <summary>
/// A run's trained model and approach state, kept beside its results when the run is made with
/// <c>--save-model</c>: <c>&lt;output name&gt;.model</c>, written when the run completes, in the checkpoint's format
/// (<see cref="CheckpointFile"/>) with everything <see cref="Approach.Save"/> writes (so nothing is lost for a later
/// export or library use) and the model's <see cref="ModelDescription"/>. Runs do not keep it by default: a study of
/// hundreds of runs would keep gigabytes (an AlexNet EWC model with its Fisher diagonal and anchor is about 80 MB).
/// </summary>
internal static class KeptModel
{
    private const string DescriptionKey = "model/description", TrainingKey = "model/training", ApproachScope = "approach";

    /// <summary>The kept model's extension: <c>--output</c> may not end in it.</summary>
    public const string Extension = ".model";

    public static string PathFor(string output) => Path.ChangeExtension(output, Extension);

    public static void Write(string path, Approach approach, RunRecord record)
    {
        var state = new StateDict();
        state.SetValue(DescriptionKey, ModelDescription.From(record)).SetValue(TrainingKey, record.Training);
        approach.Save(state.Scope(ApproachScope));
        CheckpointFile.Write(path, state);
    }

    /// <summary>Only the kept model's description (no tensor is read).</summary>
    public static ModelDescription ReadDescription(string path)
    {
        if (!File.Exists(path)) throw new DataFileException(path, "file not found");
        using var values = CheckpointFile.ReadValues(path);
        return Description(values, path);
    }

    private static ModelDescription Description(StateDict state, string path)
    {
        try { return state.Value<ModelDescription>(DescriptionKey); }
        catch (Exception e) when (e is KeyNotFoundException or System.Text.Json.JsonException)
        {
            throw new DataFileException(path, $"not a model kept by retain run --save-model ({e.Message})", e);
        }
    }

    /// <summary>
    /// Rebuilds the kept run's network and approach on the CPU, with the state they had when the run ended. The caller
    /// disposes the approach and its <see cref="Approach.Model"/>.
    /// </summary>
    public static (ModelDescription Description, Approach Approach) Read(string path)
    {
        if (!File.Exists(path)) throw new DataFileException(path, "file not found");
        using var values = CheckpointFile.ReadValues(path);
        var description = Description(values, path);
        using var state = CheckpointFile.ReadTensors(path, values);
        var training = state.Contains(TrainingKey) ? state.Value<TrainingOptions>(TrainingKey)
            : throw new DataFileException(path, $"not a model kept by retain run --save-model (no {TrainingKey})");
        var (_, backbone, setup) = description.Resolve(path);
        var prepared = setup.Prepare(backbone, description.Shape);
        var network = prepared.Network;
        var approach = prepared.Create(new ApproachContext(network, training, CPU, new NumpyRandomState(0))
        {
            CreateNetwork = () => setup.CreateNetwork(backbone, description.Shape),
        });
        try { approach.Load(state.Scope(ApproachScope)); }
        catch (KeyNotFoundException e)
        {
            approach.Dispose();
            network.Dispose();
            throw new DataFileException(path, $"the kept state does not fit a {description.Approach} model on {description.Network} ({e.Message})", e);
        }
        return (description, approach);
    }
}

/// <summary>
/// When the run completes: keeps its model (<see cref="KeptModel"/>) if asked to, and otherwise removes a model an
/// earlier run of the same results kept, which no longer belongs to them.
/// </summary>
public sealed class KeptModelSink(string path, bool keep) : IRunAttachedSink
{
    private Approach? _approach;

    public void Attach(Learner learner) => _approach = learner.Approach;

    public void RunFinished(RunRecord record)
    {
        if (keep) KeptModel.Write(path, _approach ?? throw new InvalidOperationException("the run finished before it was attached"), record);
        else if (File.Exists(path)) File.Delete(path);
    }
}
