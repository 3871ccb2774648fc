using Retain.Approaches;
using Retain.Evaluation;
using Retain.Networks;

namespace Retain.Experiments;

/// <summary>What rebuilds a saved network: the approach builds it from the backbone, the data's shape and its options.</summary>
public sealed record ModelDescription
{
    public required string Experiment { get; init; }
    public required string Approach { get; init; }
    public required int Seed { get; init; }
    /// <summary>The backbone: mlp or alexnet.</summary>
    public required string Network { get; init; }
    public required int[] InputSize { get; init; }
    public required int[] ClassCounts { get; init; }
    public required string[] TaskNames { get; init; }
    /// <summary>Tasks trained when the model was saved (the first ones of <see cref="TaskNames"/>).</summary>
    public required int TasksCompleted { get; init; }
    /// <summary>The approach's own options, as text (all of them, defaults included).</summary>
    public required Dictionary<string, string> Parameters { get; init; }
}

/// <summary>
/// A trained network on disk: <c>&lt;name&gt;.model</c> holds the weights (TorchSharp's <c>Module.save</c> format),
/// <c>&lt;name&gt;.model.json</c> the <see cref="ModelDescription"/> from which the same network is rebuilt before the
/// weights are loaded into it.
/// </summary>
public static class SavedModel
{
    /// <summary>The model file of a run whose accuracy matrix goes to <paramref name="output"/>: same name, extension .model.</summary>
    public static string PathFor(string output) => Path.ChangeExtension(output, ".model");

    public static string DescriptionPathFor(string modelPath) => modelPath + ".json";

    public static void Save(string path, MultiHeadNetwork network, ModelDescription description)
    {
        ResultFiles.WriteAtomically(path, tmp => network.save(tmp));
        ResultFiles.WriteRecord(DescriptionPathFor(path), description);
    }

    public static (MultiHeadNetwork Network, ModelDescription Description) Load(string path)
    {
        if (!File.Exists(path)) throw new DataFileException(path, "model file not found");
        var sidecar = DescriptionPathFor(path);
        if (!File.Exists(sidecar)) throw new DataFileException(sidecar, $"description of {Path.GetFileName(path)} not found (it is written beside the model)");
        var description = ResultFiles.ReadRecord<ModelDescription>(sidecar);
        if (!Enum.TryParse<BackboneKind>(description.Network, ignoreCase: true, out var backbone))
            throw new DataFileException(sidecar, $"unknown network '{description.Network}'");
        var info = ApproachRegistry.Get(description.Approach);
        var network = info.CreateNetwork(new NetworkRequest(backbone, description.InputSize, description.ClassCounts, info.BindOptions(description.Parameters)));
        try
        {
            network.load(path);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or IOException or NotImplementedException)
        {
            network.Dispose();
            throw new DataFileException(path, $"does not fit the {description.Approach} network its description builds ({e.Message})", e);
        }
        return (network, description);
    }
}
