using Retain;
using Retain.Cli;
using Spectre.Console;
using Spectre.Console.Cli;

var app = RetainApp.Create();

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
