using System.ComponentModel;
using System.Globalization;
using Retain.Approaches;
using Retain.Data;
using Retain.Experiments;
using Retain.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Retain.Cli;

public sealed class CompressSettings : CommandSettings
{
    [CommandOption("-e|--experiment <NAME>")]
    [Description("Experiment whose first task is trained (the HAT paper used mixture).")]
    public string Experiment { get; init; } = "";

    [CommandOption("--lamb <C>")]
    [Description("Weight of HAT's attention regulariser: larger values compress more.")]
    [DefaultValue(0.75)]
    public double Lamb { get; init; } = 0.75;

    [CommandOption("--smax <S>")]
    [Description("Largest gate sharpness.")]
    [DefaultValue(400.0)]
    public double Smax { get; init; } = 400;

    [CommandOption("--seed <SEEDS>")]
    [Description("Seed, or seeds separated by commas: one run each (on mixture each seed puts another data set first; run_compression.sh used 0,1,2,3,6,10,13,25).")]
    [DefaultValue("0")]
    public string Seeds { get; init; } = "0";

    [CommandOption("--nepochs <N>")]
    [Description("Maximum epochs (default 100; the lr schedule may stop earlier).")]
    public int? Epochs { get; init; }

    [CommandOption("--sbatch <N>")]
    [Description("Batch size (default 64).")]
    public int? BatchSize { get; init; }

    [CommandOption("--lr <RATE>")]
    [Description("Initial learning rate (default 0.05).")]
    public double? LearningRate { get; init; }

    [CommandOption("--limit <N>")]
    [Description("Keep at most N samples of each split of the task (class-stratified, as for run), for quick trials.")]
    public int? Limit { get; init; }

    [CommandOption("--network <BACKBONE>")]
    [Description("Backbone: mlp (mlp_hat) or alexnet (alexnet_hat); default: the experiment's.")]
    public string? Network { get; init; }

    [CommandOption("--datasets <LIST>")]
    [Description("mixture: the data sets to use, comma-separated (as for run); the seed puts one of them first.")]
    public string? Datasets { get; init; }

    [CommandOption("-o|--output <PATH>")]
    [Description("Result files without extension (default res/compression_<experiment>_lamb<C>_smax<S>); .csv, .json and .png are written.")]
    public string? Output { get; init; }

    [CommandOption("--overwrite")]
    [Description("Replace the results of an earlier compression experiment at --output (never a run's record).")]
    public bool Overwrite { get; init; }

    [CommandOption("--data <DIR>")]
    [Description("Data folder (default: $RETAIN_DATA, else ./dat).")]
    public string? DataDir { get; init; }

    [CommandOption("--device <DEVICE>")]
    [Description("cpu or cuda[[:N]].")]
    [DefaultValue("cpu")]
    public string Device { get; init; } = "cpu";

    public override ValidationResult Validate() => string.IsNullOrEmpty(Experiment)
        ? ValidationResult.Error($"--experiment is required ({string.Join(", ", ExperimentCatalog.Names)})")
        : ValidationResult.Success();
}

/// <summary>
/// <c>retain compress</c>: HAT's compression experiment (the seed's run_compression.sh, hat-test with single_task).
/// Trains HAT on the first task with every unit in use at the start and prints, epoch by epoch, the test accuracy and
/// the share of the network the task still uses; writes the curves and their plot.
/// </summary>
public sealed class CompressCommand(IAnsiConsole console) : Command<CompressSettings>
{
    public override int Execute(CommandContext context, CompressSettings s, CancellationToken cancellation)
    {
        var hat = new HatTestOptions { Lamb = s.Lamb, Smax = s.Smax };
        var config = new CompressionConfig
        {
            Experiment = s.Experiment, Seeds = ParseSeeds(s.Seeds), Hat = hat, Device = s.Device,
            DataDir = s.DataDir ?? Environment.GetEnvironmentVariable("RETAIN_DATA") ?? "dat",
            Output = s.Output ?? CompressionConfig.DefaultOutput("res", s.Experiment, hat),
            Network = RunCommand.ParseNetwork(s.Network), Epochs = s.Epochs, BatchSize = s.BatchSize, LearningRate = s.LearningRate, Limit = s.Limit,
            Datasets = s.Datasets?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
        };
        CompressionExperiment.Check(config, s.Overwrite);
        using var claim = OutputLock.Acquire(config.Output, config.Output);
        CompressionExperiment.Check(config, s.Overwrite); // again under the claim: another process may have written there meanwhile
        console.MarkupLine(Markup.Escape($"retain compress: {config.Experiment}, lamb {hat.Lamb:G}, smax {hat.Smax:G}, seeds {string.Join(",", config.Seeds)}"));
        var record = CompressionExperiment.Run(config, new LineObserver(console));

        var table = new Table().Title("Best (restored) model per seed: test accuracy, weights in use, units in use per layer (%)").Border(TableBorder.Rounded);
        table.AddColumns("seed", "task", "epoch", "test acc", "weights");
        foreach (var layer in record.Runs[0].Best.Layers) table.AddColumn(new TableColumn(layer.Layer).RightAligned());
        foreach (var run in record.Runs)
            table.AddRow(new[] { run.Seed.ToString(CultureInfo.InvariantCulture), run.Task, run.Best.Epoch.ToString(CultureInfo.InvariantCulture),
                    Percent(run.Best.TestAccuracy), Percent(run.Best.UsedWeights) }
                .Concat(run.Best.Layers.Select(l => Percent(l.UsedUnits))).Select(Markup.Escape).ToArray());
        console.Write(table);
        console.MarkupLine($"Wrote [green]{Markup.Escape(config.Output)}[/].csv, .json and .png");
        return 0;
    }

    private static string Percent(double share) => (100 * share).ToString("F1", CultureInfo.InvariantCulture);

    /// <summary>Each seed is a training run: more than this is a mistake, refused before anything is allocated.</summary>
    private const int MaxSeeds = 1000;

    private static int[] ParseSeeds(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length > MaxSeeds) throw new RetainException($"--seed: {parts.Length} seeds, at most {MaxSeeds} (each is a training run)");
        var seeds = new int[parts.Length];
        for (var i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out seeds[i]) || seeds[i] < 0)
                throw new RetainException($"--seed: expected a seed or seeds separated by commas, such as 0,1,2 (got '{text}')");
        if (seeds.Length == 0) throw new RetainException("--seed: give at least one seed");
        return seeds;
    }

    private sealed class LineObserver(IAnsiConsole console) : ICompressionObserver
    {
        public void SeedStarted(int seed, string task, int maxEpochs) =>
            console.WriteLine($"seed {seed}: task {task} (at most {maxEpochs} epochs)");

        public void EpochMeasured(EpochRecord epoch, CompressionPoint point)
        {
            // Short enough for an 80-column log: accuracy, capacity, then units in use per layer.
            var units = string.Join(" ", point.Layers.Select(l => $"{l.Layer} {100 * l.UsedUnits:F0}"));
            console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  epoch {epoch.Epoch + 1,3}{(epoch.Improved ? "*" : " ")} test {100 * point.TestAccuracy:F1}%  weights {100 * point.UsedWeights:F1}%  units% {units}"));
        }
    }
}
