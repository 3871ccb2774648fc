namespace Retain.Tests;

/// <summary>
/// The launcher's set-up when several launchers start at once on a fresh checkout (a run in one terminal, the tests in
/// another): they take turns at each step, and every one of them goes on.
/// </summary>
public class LauncherSetupTests : TempFolderTests
{
    /// <summary>
    /// Three shells run the launcher's runtime step (tools/setup-runtime.sh) at once for one fresh checkout folder. Each
    /// once shared the same .runtime.tmp, and all of them failed. Where the system's C++ runtime is recent enough the
    /// step installs nothing, and every shell says so.
    /// </summary>
    [Fact]
    public async Task LaunchersStartedTogetherAllGetThePrivateRuntime()
    {
        const string script = """
            set -euo pipefail
            root="$CHECKOUT"
            source "$SETUP"
            retain_setup_runtime
            echo "host=${RETAIN_DOTNET_HOST:-system}"
            """;
        var environment = new Dictionary<string, string>
        {
            ["CHECKOUT"] = Folder,
            ["SETUP"] = Path.Combine(TestSupport.RepositoryRoot, "tools", "setup-runtime.sh"),
        };
        var shells = Enumerable.Range(0, 3)
            .Select(_ => Task.Run(() => ChildProcess.Run("bash", ["-c", script], TimeSpan.FromMinutes(5), environment)));
        var results = await Task.WhenAll(shells);

        Assert.All(results, r => Assert.True(r.ExitCode == 0, r.Error));
        var hosts = results.Select(r => r.Output.Trim()).Distinct().ToArray();
        var host = Assert.Single(hosts)["host=".Length..];
        var setUps = results.Count(r => r.Error.Contains("setting up a private C++ runtime", StringComparison.Ordinal));
        if (host == "system")
        {
            Assert.Equal(0, setUps);
            return;
        }
        // One shell set the runtime up; the others waited for it and found it ready.
        Assert.Equal(1, setUps);
        Assert.Equal(Path.Combine(Folder, ".runtime", "dotnet", "dotnet"), host);
        Assert.False(Directory.Exists(Path.Combine(Folder, ".runtime.tmp")));
        var info = ChildProcess.Run(host, ["--info"], TimeSpan.FromMinutes(1));
        Assert.True(info.ExitCode == 0, info.Error);
    }
}
