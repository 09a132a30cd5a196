using System.Runtime.InteropServices;

namespace Rebased.Native;

public static unsafe partial class CudaDriver
{
    [LibraryImport(Library, EntryPoint = "cuMemGetInfo_v2")]
    private static partial int cuMemGetInfo(out nuint free, out nuint total);

    /// <summary>
    /// Bytes in use on a device (total − free, as the driver reports it): every process's allocations on
    /// that GPU, including CUDA contexts and libtorch's cached blocks. libtorch's own allocation statistics
    /// (torch.cuda.max_memory_allocated) are not reachable through TorchSharp.
    /// </summary>
    public static long MemoryInUse(int ordinal)
    {
        UsePrimaryContext(ordinal);
        Check(cuMemGetInfo(out var free, out var total), "cuMemGetInfo");
        return (long)(total - free);
    }

    /// <summary>Bytes free on a device, as the driver reports them (what a new allocation can still get).</summary>
    public static long FreeMemory(int ordinal)
    {
        UsePrimaryContext(ordinal);
        Check(cuMemGetInfo(out var free, out _), "cuMemGetInfo");
        return (long)free;
    }
}
