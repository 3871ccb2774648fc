using Spectre.Console;
using Spectre.Console.Cli;

namespace Retain.Cli;

/// <summary>The configured command-line app, shared by Program.cs and the tests (which pass their own console).</summary>
public static class RetainApp
{
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
        });
        return app;
    }
}
