using System.Runtime.InteropServices;
using System.Text;

namespace Rebased.Native;

/// <summary>The few CUDA driver API calls the project needs outside TorchSharp.</summary>
public static partial class CudaDriver
{
    private const string Library = "libcuda.so.1";

    [LibraryImport(Library, EntryPoint = "cuInit")]
    private static partial int cuInit(uint flags);

    [LibraryImport(Library, EntryPoint = "cuDeviceGet")]
    private static partial int cuDeviceGet(out int device, int ordinal);

    [LibraryImport(Library, EntryPoint = "cuDeviceGetName")]
    private static unsafe partial int cuDeviceGetName(byte* name, int length, int device);

    /// <summary>Throws with the driver's error code when a call fails.</summary>
    public static void Check(int result, string call)
    {
        if (result != 0) throw new InvalidOperationException($"CUDA driver call {call} failed with error {result}");
    }

    public static unsafe string DeviceName(int ordinal)
    {
        Check(cuInit(0), "cuInit");
        Check(cuDeviceGet(out int device, ordinal), "cuDeviceGet");
        var buffer = stackalloc byte[256];
        Check(cuDeviceGetName(buffer, 256, device), "cuDeviceGetName");
        return Encoding.ASCII.GetString(buffer, new ReadOnlySpan<byte>(buffer, 256).IndexOf((byte)0));
    }
}
