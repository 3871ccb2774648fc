using System.ComponentModel;
using System.Globalization;
using Retain.Approaches;
using Retain.Data;
using Retain.Evaluation;
using Retain.Experiments;
using Retain.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Retain.Cli;

public sealed class RunSettings : CommandSettings
{
    [CommandOption("-e|--experiment <NAME>")]
    [Description("Experiment: mnist2, pmnist, split-fashion, cifar, mixture.")]
    public string Experiment { get; init; } = "";

    [CommandOption("-a|--approach <NAME>")]
    [Description("Approach: sgd, sgd-restart, sgd-frozen, joint, random, ewc, hat, hat-test, lwf, lfl, imm-mean, imm-mode, progressive, pathnet, dwa.")]
    public string Approach { get; init; } = "";

    [CommandOption("--seed <N>")]
    [Description("Seed of every random generator; also fixes task order and validation split.")]
    [DefaultValue(0)]
    public int Seed { get; init; }

    [CommandOption("--nepochs <N>")]
    [Description("Maximum epochs per task (the approach's default if omitted; sgd: 100).")]
    public int? Epochs { get; init; }

    [CommandOption("--lr <RATE>")]
    [Description("Initial learning rate (the approach's default if omitted; sgd: 0.05).")]
    public double? LearningRate { get; init; }

    [CommandOption("--lr-min <RATE>")]
    [Description("Stop training a task once the learning rate falls below this (default 1e-4).")]
    public double? MinLearningRate { get; init; }

    [CommandOption("--lr-factor <F>")]
    [Description("Divide the learning rate by F after --lr-patience epochs without a better validation loss (default 3).")]
    public double? LearningRateFactor { get; init; }

    [CommandOption("--lr-patience <N>")]
    [Description("Epochs without improvement before the learning rate is divided (default 5).")]
    public int? Patience { get; init; }

    [CommandOption("--sbatch <N>")]
    [Description("Batch size (default 64).")]
    public int? BatchSize { get; init; }

    [CommandOption("--clipgrad <NORM>")]
    [Description("Clip the global gradient L2 norm to this (default 10000).")]
    public double? ClipGradient { get; init; }

    [CommandOption("--warmup <EPOCHS,DIVISOR>")]
    [Description("Train the first EPOCHS epochs at lr/DIVISOR, e.g. 10,750.")]
    public string? Warmup { get; init; }

    [CommandOption("--curriculum <SCHEDULE>")]
    [Description("Entropy curriculum: train each epoch only on samples at most as complex as the schedule's threshold, e.g. linear:100:0.2 (types linear, exp, log).")]
    public string? Curriculum { get; init; }

    [CommandOption("--weight-init <SCHEMES>")]
    [Description("The seed's CONV[[,BIAS]]:LINEAR[[,BIAS]] initialisation, schemes xavier, kaiming, normal, uniform, ones, zeros; e.g. kaiming:xavier.")]
    public string? WeightInit { get; init; }

    [CommandOption("--log-path <DIR>")]
    [Description("Also write per-epoch logs (<output name>_logs.json) and the trained model (.weights + .model.json) here.")]
    public string? LogPath { get; init; }

    [CommandOption("--datasets <LIST>")]
    [Description("mixture: the data sets to use, comma-separated (cifar10, cifar100, mnist, svhn, fashion_mnist, traffic_signs, facescrub, not_mnist, cub200); default the seed's first eight, all of which must be present.")]
    public string? Datasets { get; init; }

    [CommandOption("--test-mode <N>")]
    [Description("Train only the first N tasks.")]
    public int? TestMode { get; init; }

    [CommandOption("--limit <N>")]
    [Description("Keep at most N samples of each task's train, validation and test splits (evenly spaced), for quick trial runs.")]
    public int? Limit { get; init; }

    [CommandOption("-o|--output <FILE>")]
    [Description("Accuracy-matrix file (default res/<experiment>_<approach>_<seed>[[_<name>]].txt); the JSON record goes beside it.")]
    public string? Output { get; init; }

    [CommandOption("--name <NAME>")]
    [Description("Suffix of the default output name.")]
    public string? Name { get; init; }

    [CommandOption("--data <DIR>")]
    [Description("Data folder (default: $RETAIN_DATA, else ./dat).")]
    public string? DataDir { get; init; }

    [CommandOption("--network <BACKBONE>")]
    [Description("Backbone: mlp or alexnet (default: the experiment's; mlp for mnist2/pmnist, alexnet otherwise).")]
    public string? Network { get; init; }

    [CommandOption("--device <DEVICE>")]
    [Description("cpu or cuda[[:N]].")]
    [DefaultValue("cpu")]
    public string Device { get; init; } = "cpu";

    public override ValidationResult Validate()
    {
        if (string.IsNullOrEmpty(Experiment)) return ValidationResult.Error($"--experiment is required ({string.Join(", ", ExperimentCatalog.Names)})");
        if (string.IsNullOrEmpty(Approach)) return ValidationResult.Error($"--approach is required ({string.Join(", ", ApproachRegistry.All.Select(a => a.Name))})");
        return ValidationResult.Success();
    }
}

public sealed class RunCommand : Command<RunSettings>
{
    public override int Execute(CommandContext context, RunSettings s, CancellationToken cancellation)
    {
        var config = new RunConfig
        {
            Experiment = s.Experiment, Approach = s.Approach, Seed = s.Seed, Device = s.Device, TestMode = s.TestMode, Limit = s.Limit,
            DataDir = s.DataDir ?? Environment.GetEnvironmentVariable("RETAIN_DATA") ?? "dat",
            Output = s.Output ?? ResultFiles.DefaultOutput("res", s.Experiment, s.Approach, s.Seed, s.Name),
            Epochs = s.Epochs, LearningRate = s.LearningRate, MinLearningRate = s.MinLearningRate,
            LearningRateFactor = s.LearningRateFactor, Patience = s.Patience, BatchSize = s.BatchSize,
            ClipGradient = s.ClipGradient, Warmup = Retain.Training.Warmup.Parse(s.Warmup),
            Curriculum = Retain.Curriculum.CurriculumSchedule.Parse(s.Curriculum),
            WeightInit = Networks.WeightInit.Parse(s.WeightInit), LogPath = s.LogPath,
            Datasets = s.Datasets?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
            Network = ParseNetwork(s.Network), Parameters = ApproachParameters(context),
        };
        var info = ApproachRegistry.Get(config.Approach);
        config.ResolveTraining(info.Defaults); // bad options fail at once
        var options = info.Options(info.BindOptions(config.Parameters));
        AnsiConsole.MarkupLine($"[bold]retain run[/] experiment [cyan]{config.Experiment}[/], approach [cyan]{config.Approach}[/], seed {config.Seed}, device {config.Device}");
        if (options.Count > 0)
            AnsiConsole.MarkupLine(Markup.Escape($"  {config.Approach}: " + string.Join(", ", options.Select(o => $"{o.Name} {o.Value}"))));

        RunRecord record;
        if (AnsiConsole.Profile.Capabilities.Interactive)
        {
            record = null!;
            AnsiConsole.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new ElapsedTimeColumn())
                .Start(ctx => record = ExperimentRunner.Run(config, new ProgressObserver(ctx)));
        }
        else
        {
            record = ExperimentRunner.Run(config, new LineObserver());
        }

        PrintMatrix(record);
        AnsiConsole.MarkupLine($"Wrote [green]{Markup.Escape(config.Output)}[/] and [green]{Markup.Escape(ResultFiles.JsonPathFor(config.Output))}[/] ({record.Seconds:F1} s)");
        return 0;
    }

    internal static Networks.BackboneKind? ParseNetwork(string? name) => name switch
    {
        null => null,
        "mlp" => Networks.BackboneKind.Mlp,
        "alexnet" => Networks.BackboneKind.AlexNet,
        _ => throw new RetainException($"--network: expected mlp or alexnet (got '{name}')"),
    };

    /// <summary>
    /// Options the run command does not declare are the approach's own (<c>--lamb 5000</c>); the approach's options
    /// record checks their names and types.
    /// </summary>
    internal static Dictionary<string, string> ApproachParameters(CommandContext context)
    {
        var parameters = new Dictionary<string, string>();
        foreach (var group in context.Remaining.Parsed)
        {
            var value = group.LastOrDefault() ?? throw new RetainException($"--{group.Key}: needs a value");
            parameters[group.Key.TrimStart('-')] = value;
        }
        if (context.Remaining.Raw.Count > 0 && context.Remaining.Parsed.Count == 0)
            throw new RetainException($"unexpected argument '{context.Remaining.Raw[0]}'");
        return parameters;
    }

    private static void PrintMatrix(RunRecord record)
    {
        var table = new Table().Title("Test accuracy (%) after each task").Border(TableBorder.Rounded);
        table.AddColumn("after \\ on");
        for (var u = 0; u < record.TaskNames.Length; u++) table.AddColumn(new TableColumn(record.TaskNames[u]).RightAligned());
        for (var t = 0; t < record.TasksCompleted; t++)
            table.AddRow(new[] { record.TaskNames[t] }.Concat(record.Accuracy[t].Select((a, u) =>
                u <= t ? (100 * a).ToString("F1", CultureInfo.InvariantCulture) : "")).ToArray());
        AnsiConsole.Write(table);
    }

    internal static string Describe(EpochRecord e) => string.Create(CultureInfo.InvariantCulture,
        $"epoch {e.Epoch + 1,3}  train loss {e.TrainLoss:F4} acc {100 * e.TrainAccuracy:F1}%  valid loss {e.ValidLoss:F4} acc {100 * e.ValidAccuracy:F1}%  lr {e.LearningRate:G3}{(e.Improved ? " *" : "")}  {e.Seconds:F1}s");

    /// <summary>The seed's model report (parameters per tensor and in total), then the base-loop options in force.</summary>
    internal static void PrintModelReport(Networks.MultiHeadNetwork network, TrainingOptions training, TextWriter output)
    {
        foreach (var (name, shape, count) in network.Report())
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {name,-40} {shape,-22} {count,12:N0}"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  Num parameters = {network.ParameterCount:N0}"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  nepochs {training.Epochs}, sbatch {training.BatchSize}, lr {training.LearningRate}, lr_min {training.MinLearningRate}, " +
            $"lr_factor {training.LearningRateFactor}, lr_patience {training.Patience}, clipgrad {training.ClipGradient}, " +
            $"warmup {(training.Warmup is { } w ? $"{w.Epochs},{w.Divisor}" : "none")}, curriculum {training.Curriculum?.ToString() ?? "none"}"));
    }

    /// <summary>A live progress bar per task, its description showing the last epoch.</summary>
    private sealed class ProgressObserver(ProgressContext ctx) : IRunObserver
    {
        private ProgressTask? _bar;
        private string _name = "";

        public void NetworkBuilt(Networks.MultiHeadNetwork network, TrainingOptions training)
        {
            var text = new StringWriter();
            PrintModelReport(network, training, text);
            ctx.Refresh();
            AnsiConsole.Write(new Text(text.ToString()));
        }

        public void TaskStarted(int task, string name, int maxEpochs)
        {
            _name = $"task {task} {name}";
            _bar = ctx.AddTask(Markup.Escape(_name), maxValue: maxEpochs);
        }

        public void EpochFinished(EpochRecord epoch)
        {
            _bar!.Description = Markup.Escape($"{_name}  {Describe(epoch)}");
            _bar.Increment(1);
        }

        public void TaskFinished(int task, IReadOnlyList<EvalResult> testSoFar)
        {
            _bar!.Value = _bar.MaxValue; // early stop fills the bar
            _bar.StopTask();
        }

        public void Note(string line) => AnsiConsole.MarkupLine(Markup.Escape(line));
    }

    /// <summary>One line per epoch when the output is not a terminal (logs, CI).</summary>
    private sealed class LineObserver : IRunObserver
    {
        public void NetworkBuilt(Networks.MultiHeadNetwork network, TrainingOptions training) => PrintModelReport(network, training, Console.Out);

        public void TaskStarted(int task, string name, int maxEpochs) => Console.WriteLine($"task {task} {name} (at most {maxEpochs} epochs)");
        public void EpochFinished(EpochRecord epoch) => Console.WriteLine("  " + Describe(epoch));
        public void TaskFinished(int task, IReadOnlyList<EvalResult> testSoFar) =>
            Console.WriteLine("  test accuracy: " + string.Join("  ", testSoFar.Select((r, u) => string.Create(CultureInfo.InvariantCulture, $"task {u} {100 * r.Accuracy:F1}%"))));
        public void Note(string line) => Console.WriteLine(line);
    }
}
