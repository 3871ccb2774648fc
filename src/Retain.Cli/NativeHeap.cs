using System.Runtime.InteropServices;

namespace Retain.Cli;

/// <summary>
/// glibc's malloc hands a freed block above its mmap threshold back to the system (the threshold starts at 128 KiB and
/// follows the largest block freed), and gives back the top of a heap once it exceeds the trim threshold. Torch
/// allocates a step's activations and gradients afresh (the MLP's 800 × 800 gradient is 2.5 MB), so a training step
/// kept asking the kernel for fresh zeroed pages: 557,555 page faults in a short profile of sgd's MLP step, 38,294 with
/// the settings below, and 0.9–1.4 ms less backward per step (docs/performance.md). Blocks up to 32 MiB (glibc's
/// largest mmap threshold) now stay in the heap, and a heap keeps up to 64 MiB of free memory at its top.
/// A user's own <c>MALLOC_*</c> or <c>GLIBC_TUNABLES</c> malloc setting is kept as it is.
/// </summary>
public static class NativeHeap
{
    public const int MmapThreshold = 32 << 20;
    public const int TrimThreshold = 64 << 20;

    // mallopt's parameter numbers (malloc.h).
    private const int MallocTrimThreshold = -1;
    private const int MallocMmapThreshold = -3;

    /// <summary>Applies the two thresholds to this process; returns whether it did.</summary>
    public static bool KeepFreedBlocks()
    {
        if (!OperatingSystem.IsLinux()) return false;
        if (Environment.GetEnvironmentVariable("GLIBC_TUNABLES")?.Contains("glibc.malloc.", StringComparison.Ordinal) == true) return false;
        string[] variables = ["MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_"];
        if (variables.Any(v => Environment.GetEnvironmentVariable(v) is not null)) return false;
        return mallopt(MallocMmapThreshold, MmapThreshold) == 1 && mallopt(MallocTrimThreshold, TrimThreshold) == 1;
    }

    [DllImport("libc.so.6")]
    private static extern int mallopt(int parameter, int value);
}
