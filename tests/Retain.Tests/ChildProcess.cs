using System.Diagnostics;

namespace Retain.Tests;

/// <summary>Runs a program to its end within a time limit and captures what it prints: how the tests call the
/// project's shell tools, Slurm's commands and Chromium.</summary>
public static class ChildProcess
{
    public sealed record Result(int ExitCode, string Output, string Error);

    /// <summary>
    /// Runs one of the project's set-up scripts (<c>tools/&lt;script&gt;</c>) and returns what it prints (the path of what it
    /// installed); a failure throws with the script's reason, which every test that needs it then reports.
    /// </summary>
    public static string RunSetupScript(string script, TimeSpan timeout)
    {
        var result = Run(Path.Combine(TestSupport.RepositoryRoot, "tools", script), [], timeout);
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"tools/{script} failed (exit {result.ExitCode}): {result.Error.Trim()}");
        return result.Output.Trim();
    }

    /// <summary>Runs <paramref name="program"/>; past <paramref name="timeout"/> it and its children are killed and a
    /// <see cref="TimeoutException"/> names the command.</summary>
    public static Result Run(string program, IEnumerable<string> arguments, TimeSpan timeout,
        IReadOnlyDictionary<string, string>? environment = null, string? workingDirectory = null)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
            WorkingDirectory = workingDirectory ?? "",
        };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) start.Environment[name] = value;
        var command = string.Join(' ', start.ArgumentList.Prepend(program));
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {command}");
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        // The output ends when every holder of the pipes has closed them, which a leftover child could delay.
        if (!process.WaitForExit(timeout) || !Task.WhenAll(output, error).Wait(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{command} did not finish within {timeout.TotalSeconds:0} s");
        }
        return new Result(process.ExitCode, output.Result, error.Result);
    }
}
