using System.IO.Compression;
using System.Xml.Linq;

namespace Retain.Tests;

/// <summary>
/// What each package brings to its consumer, read from the .nuspec that <c>dotnet pack</c> writes (of the build the
/// suite made): the core Retain ships no plotting, YAML or pickle library; those come with the packages that need them.
/// </summary>
public class PackageDependencyTests : TempFolderTests
{
    [Theory]
    // The core: the backend-neutral TorchSharp, PyTorch interop, and the image decoder of image folders and CUB-200.
    [InlineData("Retain", new[] { "SkiaSharp", "TorchSharp", "TorchSharp.PyBridge" })]
    [InlineData("Retain.Studies", new[] { "Retain", "TorchSharp", "YamlDotNet" })]
    [InlineData("Retain.Reports", new[] { "Retain", "Retain.Studies", "ScottPlot", "SkiaSharp", "SkiaSharp.NativeAssets.Linux.NoDependencies", "TorchSharp" })]
    [InlineData("Retain.Datasets", new[] { "Razorvine.Pickle", "Retain", "TorchSharp" })]
    public void APackageDependsOnExactlyWhatItNeeds(string project, string[] dependencies)
    {
        var result = ChildProcess.Run("dotnet", ["pack", Path.Combine(TestSupport.RepositoryRoot, "src", project, project + ".csproj"),
            "-c", "Release", "--no-build", "-o", Folder, "--nologo"], TimeSpan.FromMinutes(5), workingDirectory: Folder);
        Assert.True(result.ExitCode == 0, $"dotnet pack {project} failed (exit {result.ExitCode}):\n{result.Output}\n{result.Error}");

        using var package = ZipFile.OpenRead(Path.Combine(Folder, $"{project}.0.1.0.nupkg"));
        using var nuspec = package.GetEntry($"{project}.nuspec")!.Open();
        var root = XDocument.Load(nuspec).Root!;
        var ns = root.Name.Namespace;
        var metadata = root.Element(ns + "metadata")!;
        var ids = metadata.Descendants(ns + "dependency").Select(d => (string)d.Attribute("id")!).Distinct().Order(StringComparer.Ordinal);
        Assert.Equal(dependencies, ids);
        // Each package carries its licence, description, readme and XML documentation, as the core does.
        Assert.Equal("MIT", (string?)metadata.Element(ns + "license"));
        Assert.False(string.IsNullOrWhiteSpace((string?)metadata.Element(ns + "description")));
        Assert.Equal("README.md", (string?)metadata.Element(ns + "readme"));
        Assert.NotNull(package.GetEntry($"lib/net10.0/{project}.xml"));
    }
}
