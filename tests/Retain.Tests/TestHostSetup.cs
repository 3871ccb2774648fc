using System.Runtime.CompilerServices;

namespace Retain.Tests;

/// <summary>The test host trains in process, so it gets the CLI's malloc thresholds too (docs/performance.md).</summary>
internal static class TestHostSetup
{
    [ModuleInitializer]
    internal static void KeepFreedBlocks() => Retain.Cli.NativeHeap.KeepFreedBlocks();
}
