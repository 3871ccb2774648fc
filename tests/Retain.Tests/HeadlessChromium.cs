namespace Retain.Tests;

/// <summary>
/// Debian's Chromium, headless, for tests of HTML pages: each call is one browser run on a <c>file://</c> URL with a
/// fresh temporary profile, bounded in time. <see cref="Instance"/> installs the browser on first use
/// (<c>tools/setup-chromium.sh</c>); if that fails, every test that uses it fails with the script's reason.
/// </summary>
public sealed class HeadlessChromium
{
    private static readonly Lazy<HeadlessChromium> Shared = new(Install);
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(60);

    // As root on a closed network: no sandbox (it refuses root), no GPU, and none of the background connections
    // (updates, sync, QUIC) that the network refuses, many at a time. The virtual time budget lets the page's scripts
    // and image loads finish before the dump or screenshot; an idle page runs through it faster than real time.
    private static readonly string[] Flags =
    [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
        "--virtual-time-budget=5000",
    ];

    public static HeadlessChromium Instance => Shared.Value;

    public string Executable { get; }

    private HeadlessChromium(string executable) => Executable = executable;

    // Generous: on a fresh machine the script installs the package first (about 30 s here).
    private static HeadlessChromium Install() => new(ChildProcess.RunSetupScript("setup-chromium.sh", TimeSpan.FromMinutes(10)));

    /// <summary>The page's DOM as serialised after its scripts ran.</summary>
    public string DumpDom(string htmlFile) => Run(htmlFile, ["--dump-dom"]);

    /// <summary>Renders the page in a <paramref name="width"/> x <paramref name="height"/> window into a PNG file.</summary>
    public void Screenshot(string htmlFile, string pngFile, int width, int height)
    {
        var png = Path.GetFullPath(pngFile);
        File.Delete(png);
        Run(htmlFile, [$"--window-size={width},{height}", $"--screenshot={png}"]);
        if (!File.Exists(png)) throw new InvalidOperationException($"chromium wrote no screenshot {png} of {htmlFile}");
    }

    private string Run(string htmlFile, string[] action)
    {
        var page = Path.GetFullPath(htmlFile);
        if (!File.Exists(page)) throw new FileNotFoundException($"no page to render: {page}", page);
        var profile = Directory.CreateTempSubdirectory("retain-chromium-");
        try
        {
            // Chromium also keeps crash reports and a dconf cache under the XDG folders: in the profile, they go with it.
            var environment = new Dictionary<string, string> { ["XDG_CONFIG_HOME"] = profile.FullName, ["XDG_CACHE_HOME"] = profile.FullName };
            var result = ChildProcess.Run(Executable, [.. Flags, $"--user-data-dir={profile.FullName}", .. action, new Uri(page).AbsoluteUri],
                RunTimeout, environment);
            if (result.ExitCode != 0)
                throw new InvalidOperationException($"chromium failed on {page} (exit {result.ExitCode}): {LastLine(result.Error)}");
            return result.Output;
        }
        finally
        {
            profile.Delete(recursive: true);
        }
    }

    // Chromium's stderr is long and mostly harmless noise (no D-Bus here); the last line is the likeliest reason.
    private static string LastLine(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "";
}
