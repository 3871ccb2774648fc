using System.Diagnostics;
using System.Text;

namespace Retain.Tests;

/// <summary>
/// The real <c>retain</c> command in a child process (the CLI assembly beside the tests, on the same dotnet host as
/// the test run), for what only a process shows: exit codes, signals, a kill at any moment. Its end is checked as every
/// CLI test's is (<see cref="CrashCheck"/>): no exit code 70, no stack trace.
/// </summary>
public sealed class CliProcess : IDisposable
{
    private readonly Process _process;
    private readonly string[] _args;
    private readonly StringBuilder _output = new(), _error = new();
    private readonly object _lock = new();

    public CliProcess(string workingDirectory, IReadOnlyDictionary<string, string>? environment, params string[] args)
        : this(workingDirectory, environment, ignoreInterrupt: false, args) { }

    /// <param name="ignoreInterrupt">start it ignoring SIGINT, as a shell script's background job is (else with SIGINT's default handling).</param>
    public CliProcess(string workingDirectory, IReadOnlyDictionary<string, string>? environment, bool ignoreInterrupt, params string[] args)
    {
        var host = Environment.GetEnvironmentVariable("RETAIN_DOTNET_HOST") ?? Environment.ProcessPath ?? "dotnet";
        _args = args;
        // Through env, which execs the host with SIGINT's default handling, as at a terminal: a test run started in the
        // background (CI's may be) ignores SIGINT, its children inherit that, and .NET then never sees a Ctrl-C.
        var start = new ProcessStartInfo("env")
        {
            WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        start.ArgumentList.Add(ignoreInterrupt ? "--ignore-signal=INT" : "--default-signal=INT");
        start.ArgumentList.Add(host);
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Retain.Cli.dll"));
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment["RETAIN_DATA"] = TestSupport.DataDir;
        start.Environment["RETAIN_LAUNCHER"] = "./retain";
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) start.Environment[key] = value;
        _process = new Process { StartInfo = start };
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_lock) _output.AppendLine(e.Data); };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_lock) _error.AppendLine(e.Data); };
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public int Id => _process.Id;
    public bool HasExited => _process.HasExited;

    public string Output { get { lock (_lock) return _output.ToString(); } }
    public string Error { get { lock (_lock) return _error.ToString(); } }

    /// <summary>Runs the command to its end (bounded) and returns its exit code.</summary>
    public static (int Code, string Output, string Error) Run(string workingDirectory, params string[] args)
    {
        using var cli = new CliProcess(workingDirectory, null, args);
        return (cli.WaitForExit(TimeSpan.FromMinutes(5)), cli.Output, cli.Error);
    }

    public int WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout))
        {
            _process.Kill(entireProcessTree: true);
            throw new TimeoutException($"retain did not finish within {timeout}: {Output}\n{Error}");
        }
        _process.WaitForExit(); // flushes the redirected output
        CrashCheck.Assert(_args, _process.ExitCode, Error);
        return _process.ExitCode;
    }

    /// <summary>Waits (bounded) until the output holds at least <paramref name="count"/> lines containing <paramref name="text"/>.</summary>
    public bool WaitForLines(string text, int count, TimeSpan timeout)
    {
        bool Seen() => Output.Split('\n').Count(l => l.Contains(text, StringComparison.Ordinal)) >= count;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (Seen()) return true;
            if (_process.HasExited)
            {
                _process.WaitForExit();   // waits for the redirected output to be read to its end
                return Seen();
            }
            Thread.Sleep(20);
        }
        return false;
    }

    /// <summary>Sends a POSIX signal (INT, TERM, KILL) to the process.</summary>
    public void Signal(string name)
    {
        using var kill = Process.Start("kill", ["-" + name, _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
        kill.WaitForExit();
    }

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.Dispose();
    }
}
