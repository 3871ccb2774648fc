using Retain.Cli;

namespace Retain.Tests;

/// <summary>The CLI's malloc thresholds: applied on Linux, and never over a user's own malloc setting.</summary>
public class NativeHeapTests
{
    private static readonly string[] Variables = ["GLIBC_TUNABLES", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_"];

    /// <summary>Runs <paramref name="test"/> with none of the malloc settings but <paramref name="variable"/>, then restores them.</summary>
    private static void WithOnly(string? variable, string? value, Action test)
    {
        var before = Variables.ToDictionary(v => v, Environment.GetEnvironmentVariable);
        try
        {
            foreach (var v in Variables) Environment.SetEnvironmentVariable(v, v == variable ? value : null);
            test();
        }
        finally
        {
            foreach (var (v, old) in before) Environment.SetEnvironmentVariable(v, old);
        }
    }

    [Fact]
    public void AppliesTheThresholdsWhenTheUserSetNone() =>
        WithOnly(null, null, () => Assert.True(NativeHeap.KeepFreedBlocks()));

    [Theory]
    [InlineData("MALLOC_TRIM_THRESHOLD_", "1000000")]
    [InlineData("MALLOC_MMAP_THRESHOLD_", "65536")]
    [InlineData("GLIBC_TUNABLES", "glibc.malloc.trim_threshold=1000000")]
    public void KeepsAUsersOwnMallocSetting(string variable, string value) =>
        WithOnly(variable, value, () => Assert.False(NativeHeap.KeepFreedBlocks()));
}
