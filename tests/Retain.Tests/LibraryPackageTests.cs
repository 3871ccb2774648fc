using System.Globalization;
using System.Text.RegularExpressions;

namespace Retain.Tests;

/// <summary>
/// The NuGet package as a .NET engineer meets it: <c>dotnet pack</c> of src/Retain (the build the suite made), the
/// sample samples/OwnModel copied alone into an empty folder, its package restored from the folder feed of its own
/// nuget.config, built and run on Fashion-MNIST. Its own module learns under SGD and EWC, and HAT on declared blocks.
/// </summary>
public partial class LibraryPackageTests : TempFolderTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(15);

    [Fact]
    public void TheSampleRestoresThePackedPackageAndEwcForgetsLessThanSgdThere()
    {
        var sample = Path.Combine(Folder, "OwnModel");
        var source = Path.Combine(TestSupport.RepositoryRoot, "samples", "OwnModel");
        Directory.CreateDirectory(sample);
        foreach (var file in Directory.GetFiles(source).Where(f => Path.GetFileName(f) != ".gitignore"))
            File.Copy(file, Path.Combine(sample, Path.GetFileName(file)));

        // The package of the library this suite was built from, into the sample's feed.
        Dotnet(Folder, "pack", Path.Combine(TestSupport.RepositoryRoot, "src", "Retain", "Retain.csproj"), "-c", "Release", "--no-build",
            "-o", Path.Combine(sample, "packages"));
        var package = Assert.Single(Directory.GetFiles(Path.Combine(sample, "packages"), "Retain.*.nupkg"));
        Assert.Contains("Retain.0.1.0.nupkg", package);

        // Restored into a packages folder of its own, so a package of the same version cached earlier is never used;
        // TorchSharp-cpu and the others come from the machine's cache (the suite's build restored them there).
        var cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        Dotnet(sample, "build", "-c", "Release", $"-p:RestorePackagesPath={Path.Combine(Folder, "packages")}", $"-p:RestoreFallbackFolders={cache}");
        Assert.True(Directory.Exists(Path.Combine(Folder, "packages", "retain", "0.1.0")), "the sample did not restore Retain from its feed");

        var host = Environment.GetEnvironmentVariable("RETAIN_DOTNET_HOST") ?? "dotnet";
        var run = ChildProcess.Run(host, [Path.Combine(sample, "bin", "Release", "net10.0", "OwnModel.dll"), Path.Combine(TestSupport.DataDir, "fashion_mnist"), "1000"],
            Timeout, workingDirectory: sample);
        Assert.True(run.ExitCode == 0, $"the sample failed (exit {run.ExitCode}):\n{run.Output}\n{run.Error}");

        var forgetting = Forgetting().Match(run.Output);
        Assert.True(forgetting.Success, "the sample printed no forgetting line:\n" + run.Output);
        double Value(string name) => double.Parse(forgetting.Groups[name].Value, CultureInfo.InvariantCulture);
        Assert.True(Value("ewc") < Value("sgd"), $"EWC forgets no less than SGD:\n{run.Output}");
        // HAT's masks keep what each task learned.
        Assert.True(Math.Abs(Value("hat")) <= 0.005, $"HAT forgot:\n{run.Output}");
        // Each approach printed its 5 × 5 lower-triangular matrix, and every task was learned well above chance (50%).
        foreach (var approach in new[] { "sgd", "ewc", "hat" })
        {
            var acc = Regex.Match(run.Output, $@"^{approach}: ACC (?<acc>[0-9.]+) BWT", RegexOptions.Multiline);
            Assert.True(acc.Success && double.Parse(acc.Groups["acc"].Value, CultureInfo.InvariantCulture) >= 0.85, $"{approach}:\n{run.Output}");
        }
    }

    private static void Dotnet(string folder, params string[] args)
    {
        var result = ChildProcess.Run("dotnet", [.. args, "--nologo"], Timeout, workingDirectory: folder);
        Assert.True(result.ExitCode == 0, $"dotnet {string.Join(' ', args)} failed (exit {result.ExitCode}):\n{result.Output}\n{result.Error}");
    }

    [GeneratedRegex(@"forgetting \(-BWT\): sgd (?<sgd>-?[0-9.]+) ewc (?<ewc>-?[0-9.]+) hat (?<hat>-?[0-9.]+)")]
    private static partial Regex Forgetting();
}
