using Retain;
using Retain.Cli;
using Spectre.Console;
using Spectre.Console.Cli;

var app = new CommandApp();
app.Configure(config =>
{
    config.SetApplicationName("retain");
    config.PropagateExceptions();
    config.AddCommand<RunCommand>("run")
        .WithDescription("Train one approach on the tasks of one experiment and write its result files.")
        .WithExample("run", "--experiment", "mnist2", "--approach", "sgd", "--nepochs", "3");
});

try
{
    return app.Run(args);
}
catch (Exception e) when (e is RetainException or CommandAppException)
{
    // User errors: one line naming the option or file, exit code 2.
    AnsiConsole.Console.Profile.Out.Writer.Flush();
    Console.Error.WriteLine($"retain: error: {e.Message.ReplaceLineEndings(" ")}");
    return 2;
}
