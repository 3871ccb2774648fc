namespace Retain.Tests;

/// <summary>
/// Debian's PyTorch (python3-torch, run by Debian's /usr/bin/python3: a python3 earlier on PATH, such as pyenv's, does
/// not see the package), for the tests that load what Retain exports. <see cref="Instance"/> installs it on first use
/// (<c>tools/setup-pytorch.sh</c>); if that fails, every test that uses it fails with the script's reason.
/// </summary>
public sealed class RealPyTorch
{
    private static readonly Lazy<RealPyTorch> Shared = new(Install);
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(2);

    public static RealPyTorch Instance => Shared.Value;

    public string Python { get; }

    private RealPyTorch(string python) => Python = python;

    // Generous: on a fresh machine the script installs the package first (about 3 minutes on 2 busy cores).
    private static RealPyTorch Install() => new(ChildProcess.RunSetupScript("setup-pytorch.sh", TimeSpan.FromMinutes(15)));

    /// <summary>Runs a script of the tests with one torch thread (the tests share two cores).</summary>
    public ChildProcess.Result Run(string script, IEnumerable<string> arguments) =>
        ChildProcess.Run(Python, [script, .. arguments], RunTimeout, new Dictionary<string, string> { ["OMP_NUM_THREADS"] = "1" });
}
