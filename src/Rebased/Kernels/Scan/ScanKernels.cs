using Rebased.Native;

namespace Rebased.Kernels.Scan;

/// <summary>
/// The fused scan kernels of ScanKernels.cu, compiled by NVRTC per device and selective-scan state size,
/// launched on libtorch's default stream in the device's primary context.
/// </summary>
internal static unsafe class ScanKernels
{
    public const uint WkvThreads = 128;

    /// <summary>Channels per block of the selective-scan kernels (CPB in ScanKernels.cu).</summary>
    public static int SelectiveScanChannelsPerBlock(int states) => states == 32 ? 16 : 32;

    /// <summary>Threads per block of the selective-scan kernels: one per (channel of the block, state).</summary>
    public static uint SelectiveScanThreads(int states) => (uint)(SelectiveScanChannelsPerBlock(states) * states);
    public const int Chunk = 32;

    /// <summary>
    /// The sum over dimension 0 of a kernel's partial results (e.g. [B, C] → [C]). Spelt with an array:
    /// a literal 0 in <c>sum(0)</c> converts to a ScalarType and sums everything.
    /// </summary>
    public static Tensor SumOverFirstDimension(Tensor partials) => partials.sum(new long[] { 0 });

    /// <summary>State sizes the selective-scan kernels support: one lane per state, whole groups per warp.</summary>
    public static bool SupportsStateSize(long n) => n is 1 or 2 or 4 or 8 or 16 or 32;

    public static void Launch(Tensor anyInput, int states, string name, (uint X, uint Y, uint Z) grid, uint threads, void** args) =>
        CudaModules.Launch(anyInput, "ScanKernels.cu", [$"NSTATE={states}"], name, grid, threads, 0, args);
}
