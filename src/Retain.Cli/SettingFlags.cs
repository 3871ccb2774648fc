using System.Reflection;
using Retain.Approaches;
using Retain.Experiments;
using Retain.Networks.Dwa;
using Retain.Training;

namespace Retain.Cli;

/// <summary>
/// The command line's names of the library's settings: an error of the library names a setting by its type and property
/// (<see cref="SettingException"/>: <c>TrainingOptions.BatchSize must be at least 1</c>); the user of the command line
/// reads it under the option they typed (<c>--sbatch must be at least 1</c>).
/// </summary>
public static class SettingFlags
{
    private static readonly Dictionary<(Type, string), string> Flags = new()
    {
        [(typeof(TrainingOptions), nameof(TrainingOptions.Epochs))] = "--nepochs",
        [(typeof(TrainingOptions), nameof(TrainingOptions.BatchSize))] = "--sbatch",
        [(typeof(TrainingOptions), nameof(TrainingOptions.LearningRate))] = "--lr",
        [(typeof(TrainingOptions), nameof(TrainingOptions.MinLearningRate))] = "--lr-min",
        [(typeof(TrainingOptions), nameof(TrainingOptions.LearningRateFactor))] = "--lr-factor",
        [(typeof(TrainingOptions), nameof(TrainingOptions.Patience))] = "--lr-patience",
        [(typeof(TrainingOptions), nameof(TrainingOptions.ClipGradient))] = "--clipgrad",
        [(typeof(TrainingOptions), nameof(TrainingOptions.Warmup))] = "--warmup",
        [(typeof(TrainingOptions), nameof(TrainingOptions.Curriculum))] = "--curriculum",
        [(typeof(RunSetup), nameof(RunSetup.Seed))] = "--seed",
        [(typeof(RunSetup), nameof(RunSetup.Device))] = "--device",
        [(typeof(RunSetup), nameof(RunSetup.TestMode))] = "--test-mode",
        [(typeof(RunSetup), nameof(RunSetup.Evaluation))] = "--eval",
        [(typeof(RunSetup), nameof(RunSetup.Scenario))] = "--scenario",
        // DWA's network options are given as DWA's own options.
        [(typeof(DwaNetworkOptions), nameof(DwaNetworkOptions.StemLayers))] = DwaOption(nameof(DwaOptions.StemLayers)),
        [(typeof(DwaNetworkOptions), nameof(DwaNetworkOptions.BottleneckFeatures))] = DwaOption(nameof(DwaOptions.ProcessorFeatures)),
        [(typeof(DwaNetworkOptions), nameof(DwaNetworkOptions.ProcessorFeatures))] = DwaOption(nameof(DwaOptions.ProcessorFeatures)),
        [(typeof(DwaNetworkOptions), nameof(DwaNetworkOptions.EmbeddingSize))] = DwaOption(nameof(DwaOptions.EmbeddingSize)),
    };

    private static string DwaOption(string property) =>
        "--" + typeof(DwaOptions).GetProperty(property)!.GetCustomAttribute<OptionAttribute>()!.Name;

    /// <summary>
    /// A user error's message as the command line says it: a setting named as its option (the library's name where the
    /// command line has none), anything else as it is.
    /// </summary>
    public static string MessageOf(Exception e) =>
        e is SettingException s && Flags.TryGetValue((s.Owner, s.Property), out var flag) ? $"{flag} {s.Problem}" : e.Message;
}
