using Spectre.Console;
using Spectre.Console.Cli;

namespace Retain.Cli;

/// <summary>The `retain` command line: its commands, and the translation of user errors into exit code 2.</summary>
public static class RetainApp
{
    public static CommandApp Create()
    {
        var app = new CommandApp();
        app.Configure(config =>
        {
            config.SetApplicationName("retain");
            config.PropagateExceptions();
            config.AddCommand<RunCommand>("run")
                .WithDescription("Train one approach on the tasks of one experiment and write its result files.")
                .WithExample("run", "--experiment", "mnist2", "--approach", "sgd", "--nepochs", "3");
        });
        return app;
    }

    /// <summary>Runs the command line; a user error prints one line naming the option or file and returns 2.</summary>
    public static int Run(string[] args)
    {
        try
        {
            return Create().Run(args);
        }
        catch (Exception e) when (e is RetainException or CommandAppException)
        {
            Console.Out.Flush();
            Console.Error.WriteLine($"retain: error: {e.Message.ReplaceLineEndings(" ")}");
            return 2;
        }
    }
}
