using System.Runtime.InteropServices;
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
    [Description("Experiment: mnist2, pmnist, split-fashion, cifar, mixture, or a benchmark's JSON file.")]
    public string Experiment { get; init; } = "";

    [CommandOption("-a|--approach <NAME>")]
    [Description("Approach: sgd, sgd-restart, sgd-frozen, joint, random, ewc, hat, hat-test, lwf, lfl, imm-mean, imm-mode, progressive, pathnet, si, mas, packnet, er, agem, der, der++, dwa.")]
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
    [Description("Also write per-epoch logs (<output name>_logs.json) here, and DWA's introspection (<output name>.dwa/).")]
    public string? LogPath { get; init; }

    [CommandOption("--save-model")]
    [Description("Keep the trained model and the approach's state in <output name>.model beside the results when the run completes (for `retain export`).")]
    public bool SaveModel { get; init; }

    [CommandOption("--datasets <LIST>")]
    [Description("mixture: the data sets to use, comma-separated (cifar10, cifar100, mnist, svhn, fashion_mnist, traffic_signs, facescrub, not_mnist, cub200); default the seed's first eight, all of which must be present.")]
    public string? Datasets { get; init; }

    [CommandOption("--test-mode <N>")]
    [Description("Train only the first N tasks.")]
    public int? TestMode { get; init; }

    [CommandOption("--limit <N>")]
    [Description("Keep at most N samples of each task's train, validation and test splits (every class kept, in proportion to its size), for quick trial runs.")]
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
    [Description("Backbone, a registered name: mlp or alexnet (default: the experiment's; mlp for mnist2/pmnist, alexnet otherwise).")]
    public string? Network { get; init; }

    [CommandOption("--device <DEVICE>")]
    [Description("cpu or cuda[[:N]].")]
    [DefaultValue("cpu")]
    public string Device { get; init; } = "cpu";

    [CommandOption("--scenario <NAME>")]
    [Description("task (default): one head per task, the task id given at test; domain: one head shared by the tasks, no task id; class: one head over every class seen so far, no task id. Results go to res/<scenario>/ unless --output says otherwise.")]
    public string? Scenario { get; init; }

    [CommandOption("--eval <SETTING>")]
    [Description("both (default): after each task also evaluate without the task id, predicting each sample's task; aware: only with the task id.")]
    public string? Eval { get; init; }

    [CommandOption("--threads <N>")]
    [Description("Torch's intra-op threads (default: one per core). A study of N parallel runs gives each cores / N.")]
    public int? Threads { get; init; }

    [CommandOption("--resume")]
    [Description("Continue this run from its checkpoint (given the same options); start it if nothing of it exists; do nothing if it is complete.")]
    public bool Resume { get; init; }

    [CommandOption("--overwrite")]
    [Description("Start afresh although results of this run exist (a complete result is replaced only once the new run is complete).")]
    public bool Overwrite { get; init; }

    [CommandOption("--checkpoint-every <EPOCHS>")]
    [Description("Also checkpoint every N epochs (0: only after each task; default: automatically, costing under 5% of the run time).")]
    public int? CheckpointEvery { get; init; }

    [CommandOption("--tensorboard <DIR>")]
    [Description("Write TensorBoard event files here: per-epoch losses, accuracies, learning rate and the approach's scalars; per-task test accuracies.")]
    public string? TensorBoard { get; init; }

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
        var config = ConfigFrom(context, s);
        if (s.Threads is { } threads) TorchSharp.torch.set_num_threads(threads);
        var paths = new RunPaths(config.Output, config.LogPath, config.TensorBoard);
        RunOutputs.Check(paths);
        RunOutputs.RequireFree(paths);
        var plan = RunPlan.Resolve(config);
        // Held until the run ends: a second run onto these outputs is refused. What exists there is looked at again
        // under the claim, since another run may have written it in between.
        using var claim = RunOutputs.Lock(plan.Paths);
        plan = RunPlan.Resolve(config);
        RetainApp.CrashLog = plan.Paths.CrashLog;
        PrintPlan(plan);
        if (plan.Start == RunStart.AlreadyComplete)
        {
            if (RunOutputs.Complete(plan.Paths).MatrixRestored)
                AnsiConsole.MarkupLine(Markup.Escape($"{plan.Paths.Output} was missing: written again from {plan.Paths.Json}"));
            AnsiConsole.MarkupLine(Markup.Escape($"{plan.Paths.Json}: {plan.Existing}; nothing to resume."));
            return 0;
        }

        var interruption = new Interruption();
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => Interrupt(c, interruption, "SIGINT"));
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => Interrupt(c, interruption, "SIGTERM"));
        RunRecord record;
        try
        {
            if (AnsiConsole.Profile.Capabilities.Interactive)
            {
                record = null!;
                AnsiConsole.Progress()
                    .AutoClear(false)
                    .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new ElapsedTimeColumn())
                    .Start(ctx => record = ExperimentRunner.Run(plan, [.. plan.FileSinks(), DwaIntrospectionSink.For(plan), new ProgressSink(ctx)], interruption));
            }
            else
            {
                record = ExperimentRunner.Run(plan, [.. plan.FileSinks(), DwaIntrospectionSink.For(plan), new LineSink()], interruption);
            }
        }
        catch (RunInterruptedException e)
        {
            Console.Out.Flush();
            Console.Error.WriteLine($"retain: {e.Message}. Resume with: {ResumeCommand()}");
            return e.Signal == "SIGTERM" ? 143 : 130;
        }

        PrintMatrix(record);
        AnsiConsole.MarkupLine($"Wrote [green]{Markup.Escape(plan.Paths.Output)}[/] and [green]{Markup.Escape(plan.Paths.Json)}[/] ({record.Seconds:F1} s)");
        return 0;
    }

    /// <summary>The most torch threads a run may ask for: four per core, at least 64.</summary>
    internal static int MaxThreads => Math.Max(64, 4 * Environment.ProcessorCount);

    /// <summary>What the command line asks for, checked as far as it can be without the approach (that is <see cref="RunPlan.Resolve"/>'s).</summary>
    internal static RunConfig ConfigFrom(CommandContext context, RunSettings s)
    {
        if (s.Name is { } name && (name.IndexOfAny(['/', '\\']) >= 0 || name is "." or ".."))
            throw new RetainException($"--name {name}: a name, not a path (use --output for another folder)");
        // --name only names the default result file: beside --output it would be ignored.
        if (s.Name is { } named && s.Output is { } output)
            throw new RetainException($"--name {named}: names the default result file only; with --output {output}, give the file itself another name");
        if (s.Threads is { } threads)
        {
            OptionValues.RequireAtLeast("--threads", threads, 1);
            // Far more threads than cores only slows torch down; a million of them never starts.
            OptionValues.RequireAtMost("--threads", threads, MaxThreads);
        }
        var scenario = s.Scenario is null ? Retain.Scenario.Task : Scenarios.Parse(s.Scenario);
        return new RunConfig
        {
            Experiment = s.Experiment, Approach = s.Approach, Seed = s.Seed, Device = s.Device, TestMode = s.TestMode, Limit = s.Limit,
            DataDir = s.DataDir ?? Environment.GetEnvironmentVariable("RETAIN_DATA") ?? "dat",
            Output = s.Output ?? ResultFiles.DefaultOutput(ScenarioFolder("res", scenario), s.Experiment, s.Approach, s.Seed, s.Name),
            Scenario = scenario,
            Epochs = s.Epochs, LearningRate = s.LearningRate, MinLearningRate = s.MinLearningRate,
            LearningRateFactor = s.LearningRateFactor, Patience = s.Patience, BatchSize = s.BatchSize,
            ClipGradient = s.ClipGradient, Warmup = Retain.Training.Warmup.Parse(s.Warmup),
            Curriculum = Retain.Curriculum.CurriculumSchedule.Parse(s.Curriculum),
            WeightInit = Networks.WeightInit.Parse(s.WeightInit), LogPath = s.LogPath, TensorBoard = s.TensorBoard,
            Datasets = s.Datasets?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
            Network = ParseNetwork(s.Network), Parameters = ApproachParameters(context, s.Approach, typeof(RunSettings)),
            Resume = s.Resume, Overwrite = s.Overwrite, CheckpointEvery = s.CheckpointEvery, SaveModel = s.SaveModel,
            Evaluation = s.Eval switch
            {
                null or "both" => EvaluationSetting.Both,
                "aware" => EvaluationSetting.Aware,
                _ => throw new RetainException($"--eval: expected both or aware (got '{s.Eval}')"),
            },
        };
    }

    /// <summary>
    /// Where results of <paramref name="scenario"/> go under <paramref name="folder"/>: task-IL's in it (as always),
    /// the others' in a subfolder named after the scenario, so that a run finds its references (random, joint) of the
    /// same scenario beside it.
    /// </summary>
    public static string ScenarioFolder(string folder, Scenario scenario) =>
        scenario == Retain.Scenario.Task ? folder : Path.Combine(folder, scenario.Name());

    /// <summary>
    /// Resolves the plan of a <c>retain run</c> command line without running it (a study checks every run this way
    /// before starting any): the same parsing and checks as the command itself.
    /// </summary>
    public static RunPlan Plan(IReadOnlyList<string> runArguments)
    {
        var holder = new PlanHolder();
        var app = new CommandApp();
        app.Configure(c =>
        {
            c.PropagateExceptions();
            c.AddCommand<PlanOnlyCommand>("run").WithData(holder);
        });
        try { app.Run(runArguments); }
        catch (CommandRuntimeException e) when (e.InnerException is not null && RetainApp.UnconvertibleValue(runArguments, 1, typeof(RunSettings)) is { } explained)
        {
            throw new RetainException(explained, e);
        }
        return holder.Plan ?? throw new InvalidOperationException("the run's plan was not resolved");
    }

    private sealed class PlanHolder
    {
        public RunPlan? Plan { get; set; }
    }

    private sealed class PlanOnlyCommand : Command<RunSettings>
    {
        public override int Execute(CommandContext context, RunSettings s, CancellationToken cancellation)
        {
            ((PlanHolder)context.Data!).Plan = RunPlan.Resolve(ConfigFrom(context, s));
            return 0;
        }
    }

    /// <summary>The long names of every option of <c>retain run</c> (without dashes).</summary>
    public static IReadOnlySet<string> OptionNames { get; } = UndeclaredOptions.DeclaredOptions(typeof(RunSettings)).ToHashSet();

    /// <summary>The first signal asks the run to stop after its current step; a second one ends the process at once.</summary>
    private static void Interrupt(PosixSignalContext context, Interruption interruption, string signal)
    {
        if (interruption.Signal is not null) return;
        context.Cancel = true;
        interruption.Request(signal);
        Console.Error.WriteLine($"retain: {signal}: stopping after the current step and writing a checkpoint (again to stop at once)");
    }

    /// <summary>The command line that continues this run: the same one, with --resume instead of --overwrite.</summary>
    internal static string ResumeCommand()
    {
        var launcher = Environment.GetEnvironmentVariable("RETAIN_LAUNCHER") ?? "retain";
        var args = RetainApp.Arguments.Where(a => a != "--overwrite").ToList();
        if (!args.Contains("--resume")) args.Add("--resume");
        return string.Join(' ', new[] { launcher }.Concat(args.Select(Shell.Quote)));
    }


    private static void PrintPlan(RunPlan plan)
    {
        var (names, setup) = (plan.Names, plan.Setup);
        AnsiConsole.MarkupLine($"[bold]retain run[/] experiment [cyan]{Markup.Escape(names.Experiment)}[/], approach [cyan]{Markup.Escape(names.Approach)}[/], seed {setup.Seed}, device {setup.Device}, network {setup.Backbone.Name}" +
                               (setup.Scenario == Retain.Scenario.Task ? "" : $", scenario [cyan]{setup.Scenario.Label()}[/]"));
        if (plan.OptionValues.Count > 0)
            AnsiConsole.MarkupLine(Markup.Escape($"  {names.Approach}: " + string.Join(", ", plan.OptionValues.Select(o => $"{o.Name} {o.Value}"))));
        AnsiConsole.MarkupLine(Markup.Escape("  " + DescribeTraining(setup.Training)));
        foreach (var note in plan.ScheduleNotes) AnsiConsole.MarkupLine("  [yellow]note:[/] " + Markup.Escape(note));
        if (setup.Scenario != Retain.Scenario.Task && setup.Approach.Spec.NeedsTaskId)
            AnsiConsole.MarkupLine("  [yellow]note:[/] " + Markup.Escape($"{names.Approach} needs the task id, which {setup.Scenario.Label()} does not give: it keeps one head per task and predicts each test sample's task with its task predictor"));
        var start = plan.Start switch
        {
            RunStart.Resume => $"resuming from {plan.Paths.Checkpoint}",
            RunStart.Fresh when plan.Existing.State != RunState.Missing || plan.Existing.Checkpoint is not null =>
                plan.Overwrite ? $"replacing {plan.Existing}" : $"starting again ({plan.Existing} has no checkpoint)",
            _ => null,
        };
        AnsiConsole.MarkupLine(Markup.Escape($"  output {plan.Paths.Output}" + (start is null ? "" : $" ({start})")));
    }

    /// <summary>The registered backbone <c>--network</c> names (null when not given); an unknown name lists the known ones.</summary>
    internal static Networks.BackboneArchitecture? ParseNetwork(string? name) => name is null ? null : Networks.BackboneRegistry.Get(name);

    /// <summary>
    /// Options the run command does not declare are the approach's own (<c>--lamb 5000</c>); the approach's options
    /// record checks their names and types.
    /// </summary>
    internal static Dictionary<string, string> ApproachParameters(CommandContext context, string approach, Type settings)
    {
        var parameters = new Dictionary<string, string>();
        var own = UndeclaredOptions.DeclaredOptions(settings);
        var approachOptions = context.Remaining.Parsed.Count == 0 ? [] : ApproachRegistry.Get(approach).Spec.Options().Select(o => o.Name).ToArray();
        foreach (var group in context.Remaining.Parsed)
        {
            var name = group.Key.TrimStart('-');
            // A misspelt option of the command itself (--nepoch) would otherwise be reported as not the approach's; a
            // misspelt option of the approach's (the closer one, or as close: listed first) is left to its own check.
            if (!approachOptions.Contains(name) && UndeclaredOptions.Closest(name, approachOptions.Concat(own)) is { } closest && own.Contains(closest))
                throw new RetainException($"--{name}: not an option of retain {context.Name} nor of {approach}; did you mean --{closest}?");
            var value = group.LastOrDefault() ?? throw new RetainException($"--{name}: needs a value");
            parameters[name] = value;
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

    /// <summary>The approach's scalars of an epoch on one line (empty when it reported none).</summary>
    internal static string DescribeScalars(EpochRecord e) => string.Join("  ",
        e.Scalars.Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key} {kv.Value:G4}")));

    internal static string DescribeTraining(TrainingOptions training) => string.Create(CultureInfo.InvariantCulture,
        $"nepochs {training.Epochs}, sbatch {training.BatchSize}, lr {training.LearningRate}, lr_min {training.MinLearningRate}, " +
        $"lr_factor {training.LearningRateFactor}, lr_patience {training.Patience}, clipgrad {training.ClipGradient}, " +
        $"warmup {(training.Warmup is { } w ? $"{w.Epochs},{w.Divisor}" : "none")}, curriculum {training.Curriculum?.ToString() ?? "none"}");

    /// <summary>The seed's model report: parameters per tensor and in total.</summary>
    internal static void PrintModelReport(Networks.MultiHeadNetwork network, TextWriter output)
    {
        foreach (var (name, shape, count) in network.Report())
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {name,-40} {shape,-22} {count,12:N0}"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  Num parameters = {network.ParameterCount:N0}"));
    }

    private static string Resumed(CheckpointPosition? from) => from is null ? "" : $"resumed from the checkpoint ({from})";

    /// <summary>A live progress bar per task, its description showing the last epoch.</summary>
    private sealed class ProgressSink(ProgressContext ctx) : IRunSink
    {
        private ProgressTask? _bar;
        private string _name = "";

        public void RunStarted(RunRecord record, Networks.MultiHeadNetwork network, CheckpointPosition? resumedFrom)
        {
            var text = new StringWriter();
            PrintModelReport(network, text);
            if (resumedFrom is not null) text.WriteLine(Resumed(resumedFrom));
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
            _bar.Value = epoch.Epoch + 1;
        }

        public void TaskTested(int task, IReadOnlyList<EvalResult> row, RunRecord record)
        {
            _bar!.Value = _bar.MaxValue; // early stop fills the bar
            _bar.StopTask();
        }

        public void Note(string line) => AnsiConsole.MarkupLine(Markup.Escape(line));
    }

    /// <summary>One line per epoch when the output is not a terminal (logs, CI, a study's run logs).</summary>
    private sealed class LineSink : IRunSink
    {
        private int _tasks;

        public void RunStarted(RunRecord record, Networks.MultiHeadNetwork network, CheckpointPosition? resumedFrom)
        {
            _tasks = record.TestMode ?? record.TaskNames.Length;
            PrintModelReport(network, Console.Out);
            if (resumedFrom is not null) Console.WriteLine(Resumed(resumedFrom));
        }

        // A study reads these lines for its live display (LocalStudyRunner): keep their form.
        public void TaskStarted(int task, string name, int maxEpochs) => Console.WriteLine($"task {task} of {_tasks} {name} (at most {maxEpochs} epochs)");

        public void EpochFinished(EpochRecord epoch)
        {
            Console.WriteLine("  " + Describe(epoch));
            if (epoch.Scalars.Count > 0) Console.WriteLine("    " + DescribeScalars(epoch));
        }

        public void TaskTested(int task, IReadOnlyList<EvalResult> row, RunRecord record) =>
            Console.WriteLine("  test accuracy: " + string.Join("  ", row.Select((r, u) => string.Create(CultureInfo.InvariantCulture, $"task {u} {100 * r.Accuracy:F1}%"))));

        public void Note(string line) => Console.WriteLine(line);
    }
}
