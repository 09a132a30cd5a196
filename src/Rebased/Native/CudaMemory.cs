using System.Runtime.InteropServices;

namespace Rebased.Native;

public static partial class CudaDriver
{
    private const int ErrorInvalidContext = 201;

    [LibraryImport(Library, EntryPoint = "cuMemGetInfo_v2")]
    private static partial int cuMemGetInfo(out nuint free, out nuint total);

    [LibraryImport(Library, EntryPoint = "cuDevicePrimaryCtxRetain")]
    private static partial int cuDevicePrimaryCtxRetain(out nint context, int device);

    [LibraryImport(Library, EntryPoint = "cuCtxSetCurrent")]
    private static partial int cuCtxSetCurrent(nint context);

    /// <summary>
    /// Bytes in use on a device (total − free, as the driver reports it): every process's allocations on
    /// that GPU, including CUDA contexts and libtorch's cached blocks. libtorch's own allocation statistics
    /// (torch.cuda.max_memory_allocated) are not reachable through TorchSharp.
    /// </summary>
    public static long MemoryInUse(int ordinal)
    {
        int result = cuMemGetInfo(out var free, out var total);
        if (result == ErrorInvalidContext)
        {
            Check(cuInit(0), "cuInit");
            Check(cuDeviceGet(out int device, ordinal), "cuDeviceGet");
            Check(cuDevicePrimaryCtxRetain(out var context, device), "cuDevicePrimaryCtxRetain");
            Check(cuCtxSetCurrent(context), "cuCtxSetCurrent");
            result = cuMemGetInfo(out free, out total);
        }
        Check(result, "cuMemGetInfo");
        return (long)(total - free);
    }
}
