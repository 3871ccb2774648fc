using System.Text.RegularExpressions;
using Retain.Cli;
using Spectre.Console;

namespace Retain.Tests;

/// <summary>
/// Runs <c>retain</c>'s command line in this process as the executable does (<see cref="RetainApp.Run"/>: user errors
/// become one line and exit code 2), capturing both streams, and fails the test when the command crashed
/// (<see cref="CrashCheck"/>). Every in-process CLI test calls it; child processes check through
/// <see cref="CliProcess"/>.
/// </summary>
public static class CliRunner
{
    public sealed record Result(int Code, string Output, string Error)
    {
        /// <summary>Everything printed, standard output first.</summary>
        public string Printed => Output + Error;
    }

    public static Result Run(params string[] args) => RunIn(null, args);

    /// <summary>Runs with <paramref name="folder"/> as the current directory (the tests run one at a time).</summary>
    public static Result RunIn(string? folder, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors, Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(output),
        });
        console.Profile.Width = 300;
        // Commands that print through Spectre's static console (run, study) print here too.
        var (savedOut, savedError, savedConsole, savedDirectory) = (Console.Out, Console.Error, AnsiConsole.Console, Directory.GetCurrentDirectory());
        Console.SetOut(output);
        Console.SetError(error);
        AnsiConsole.Console = console;
        if (folder is not null) Directory.SetCurrentDirectory(folder);
        int code;
        try { code = RetainApp.Run(args, console); }
        finally
        {
            Directory.SetCurrentDirectory(savedDirectory);
            AnsiConsole.Console = savedConsole;
            Console.SetOut(savedOut);
            Console.SetError(savedError);
        }
        var result = new Result(code, output.ToString(), error.ToString());
        CrashCheck.Assert(args, result.Code, result.Error);
        return result;
    }

    /// <summary>Runs a command that must fail as a user error: exit code 2 and one line on stderr, which is returned.</summary>
    public static string Refuses(params string[] args)
    {
        var result = Run(args);
        Xunit.Assert.True(result.Code == 2, $"retain {string.Join(' ', args)}: exit {result.Code}, expected 2\n{result.Printed}");
        var line = Xunit.Assert.Single(result.Error.TrimEnd().Split('\n'));
        Xunit.Assert.StartsWith("retain: error: ", line);
        return line;
    }
}

/// <summary>
/// What no command may do, whatever its input: end with exit code 70 (Retain's own bug) or print a stack trace, .NET's
/// or a native one (torch's C++ traces), instead of one line naming the problem.
/// </summary>
public static partial class CrashCheck
{
    public static void Assert(IEnumerable<string> args, int code, string error)
    {
        var command = "retain " + string.Join(' ', args);
        Xunit.Assert.False(code == 70, $"{command}: exit 70, a crash:\n{error}");
        var trace = StackTrace().Match(error);
        Xunit.Assert.False(trace.Success, $"{command}: a stack trace on stderr ({trace.Value.Trim()}):\n{error}");
    }

    // .NET frames ("   at Retain.X.Y(Int32 a) in File.cs:line 3"), its unhandled-exception banner, and the marks of
    // native traces: torch's c10 errors, glibc's and the kernel's last words.
    [GeneratedRegex(@"^\s+at [\w.`<>\[\]+,|]+\(.*\)|^Unhandled exception|--- End of (inner exception )?stack trace|Exception raised from |^frame #\d+:|\(most recent call first\)|terminate called after throwing|Segmentation fault|core dumped|^Aborted",
        RegexOptions.Multiline)]
    private static partial Regex StackTrace();
}
