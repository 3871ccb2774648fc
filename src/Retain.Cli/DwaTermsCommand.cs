using System.ComponentModel;
using System.Globalization;
using Retain.Experiments;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Retain.Cli;

public sealed class DwaTermsSettings : CommandSettings
{
    [CommandOption("-e|--experiment <NAME>")]
    [Description("Experiment of at least two tasks: mnist2, pmnist, split-fashion, cifar, mixture.")]
    public string Experiment { get; init; } = "";

    [CommandOption("--seed <N>")]
    [DefaultValue(0)]
    public int Seed { get; init; }

    [CommandOption("--network <BACKBONE>")]
    [Description("mlp or alexnet (default: the experiment's).")]
    public string? Network { get; init; }

    [CommandOption("--limit <N>")]
    [Description("Keep at most N samples of each task's splits (the Fisher pass then has fewer batches than on the full data).")]
    public int? Limit { get; init; }

    [CommandOption("--train-epochs <N>")]
    [Description("Train task 0 for N epochs before measuring (default 0: the initialised network).")]
    [DefaultValue(0)]
    public int TrainEpochs { get; init; }

    [CommandOption("--batches <N>")]
    [Description("Batches of task 1 to measure on (default 4).")]
    [DefaultValue(4)]
    public int Batches { get; init; }

    [CommandOption("--lr <RATE>")]
    public double? LearningRate { get; init; }

    [CommandOption("--warmup <EPOCHS,DIVISOR>")]
    public string? Warmup { get; init; }

    [CommandOption("--curriculum <SCHEDULE>")]
    public string? Curriculum { get; init; }

    [CommandOption("--datasets <LIST>")]
    public string? Datasets { get; init; }

    [CommandOption("--data <DIR>")]
    public string? DataDir { get; init; }

    [CommandOption("--device <DEVICE>")]
    [DefaultValue("cpu")]
    public string Device { get; init; } = "cpu";

    public override ValidationResult Validate() => string.IsNullOrEmpty(Experiment)
        ? ValidationResult.Error("--experiment is required") : ValidationResult.Success();
}

/// <summary>
/// <c>retain dwa-terms</c>: DWA's auxiliary terms in the seed's form (the published run) and in the corrected form on
/// the same model and batches (<see cref="DwaCalibration"/>), with the factors by which their magnitude changed and the
/// λ that would give the corrected terms the published magnitude. DWA's own options follow as in <c>retain run</c>.
/// </summary>
public sealed class DwaTermsCommand : Command<DwaTermsSettings>
{
    public override int Execute(CommandContext context, DwaTermsSettings s, CancellationToken cancellation)
    {
        var config = new RunConfig
        {
            Experiment = s.Experiment, Approach = "dwa", Seed = s.Seed, Device = s.Device, Limit = s.Limit, Output = "",
            DataDir = s.DataDir ?? Environment.GetEnvironmentVariable("RETAIN_DATA") ?? "dat",
            LearningRate = s.LearningRate, Warmup = Training.Warmup.Parse(s.Warmup), Curriculum = Curriculum.CurriculumSchedule.Parse(s.Curriculum),
            Datasets = s.Datasets?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
            Network = RunCommand.ParseNetwork(s.Network), Parameters = RunCommand.ApproachParameters(context, "dwa", typeof(DwaTermsSettings)),
        };
        var r = DwaCalibration.Measure(config, s.TrainEpochs, s.Batches, new Observer());

        string F(double v) => v.ToString("G4", CultureInfo.InvariantCulture);
        // Plain lines, never wrapped: the numbers stay readable in a log of any width.
        var output = Console.Out;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{s.Experiment} ({r.Network}{(s.Limit is { } n ? $", --limit {n}" : "")}), task 0 trained {r.TrainedEpochs} epochs; " +
            $"Fisher of task 0 on {r.FisherSamples} samples, K = {r.FisherBatches} batches of 20: mean {F(r.SeedFisherMean)} (seed) vs {F(r.CorrectedFisherMean)} " +
            $"(per batch), ratio {F(r.SeedFisherMean / r.CorrectedFisherMean)}; measured on {r.Samples} samples of task 1 in {r.Batches} batches; " +
            $"mask use {r.MaskUsage:F3}; cross-entropy gradient norm {F(r.CrossEntropyGradient)}"));
        output.WriteLine("term      λ (seed form)  value seed / corrected (factor)   gradient norm seed / corrected (factor)   rescaled λ");
        foreach (var t in r.Terms)
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{t.Term,-9} {F(t.PublishedWeight),13}  {F(t.SeedValue),10} / {F(t.CorrectedValue),-10} ({F(t.ValueFactor)}){"",-3}  {F(t.SeedGradient),10} / {F(t.CorrectedGradient),-10} ({F(t.GradientFactor)}){"",-10}  {F(t.RescaledWeight)}"));
        return 0;
    }

    /// <summary>Task 0's epochs, one line each.</summary>
    private sealed class Observer : Training.ITrainingEvents
    {
        public void EpochFinished(Training.EpochRecord epoch) => Console.WriteLine("  " + RunCommand.Describe(epoch));
        public void Note(string line) => Console.WriteLine(line);
    }
}
