using System.Runtime.InteropServices;
using System.Text;

namespace Rebased.Native;

/// <summary>
/// The few CUDA driver API calls the project needs outside TorchSharp: device facts, loading compiled
/// modules into the device's primary context (the one libtorch uses) and launching kernels.
/// </summary>
public static unsafe partial class CudaDriver
{
    private const string Library = "libcuda.so.1";

    private const int AttributeComputeCapabilityMajor = 75;
    private const int AttributeComputeCapabilityMinor = 76;
    private const int FunctionAttributeMaxDynamicSharedSize = 8;

    [LibraryImport(Library, EntryPoint = "cuInit")]
    private static partial int cuInit(uint flags);

    [LibraryImport(Library, EntryPoint = "cuDeviceGet")]
    private static partial int cuDeviceGet(out int device, int ordinal);

    [LibraryImport(Library, EntryPoint = "cuDeviceGetName")]
    private static partial int cuDeviceGetName(byte* name, int length, int device);

    [LibraryImport(Library, EntryPoint = "cuDeviceGetAttribute")]
    private static partial int cuDeviceGetAttribute(out int value, int attribute, int device);

    [LibraryImport(Library, EntryPoint = "cuDevicePrimaryCtxRetain")]
    private static partial int cuDevicePrimaryCtxRetain(out IntPtr context, int device);

    [LibraryImport(Library, EntryPoint = "cuCtxGetCurrent")]
    private static partial int cuCtxGetCurrent(out IntPtr context);

    [LibraryImport(Library, EntryPoint = "cuCtxSetCurrent")]
    private static partial int cuCtxSetCurrent(IntPtr context);

    [LibraryImport(Library, EntryPoint = "cuModuleLoadData")]
    private static partial int cuModuleLoadData(out IntPtr module, byte* image);

    [LibraryImport(Library, EntryPoint = "cuModuleGetFunction")]
    private static partial int cuModuleGetFunction(out IntPtr function, IntPtr module, byte* name);

    [LibraryImport(Library, EntryPoint = "cuFuncSetAttribute")]
    private static partial int cuFuncSetAttribute(IntPtr function, int attribute, int value);

    [LibraryImport(Library, EntryPoint = "cuLaunchKernel")]
    private static partial int cuLaunchKernel(IntPtr function, uint gridX, uint gridY, uint gridZ,
        uint blockX, uint blockY, uint blockZ, uint sharedBytes, IntPtr stream, void** parameters, void** extra);

    [LibraryImport(Library, EntryPoint = "cuGetErrorName")]
    private static partial int cuGetErrorName(int error, out byte* name);

    [LibraryImport(Library, EntryPoint = "cuGetErrorString")]
    private static partial int cuGetErrorString(int error, out byte* text);

    private static readonly object Gate = new();
    private static bool _initialised;
    private static readonly Dictionary<int, IntPtr> PrimaryContexts = new();

    /// <summary>Throws with the driver's error name and text when a call fails.</summary>
    public static void Check(int result, string call)
    {
        if (result == 0) return;
        string name = cuGetErrorName(result, out byte* n) == 0 && n != null ? Marshal.PtrToStringUTF8((IntPtr)n)! : "?";
        string text = cuGetErrorString(result, out byte* t) == 0 && t != null ? Marshal.PtrToStringUTF8((IntPtr)t)! : "";
        throw new InvalidOperationException($"CUDA driver call {call} failed: {name} ({result}) {text}".TrimEnd());
    }

    /// <summary>Initialises the driver once; a clear error when libcuda is missing.</summary>
    public static void EnsureInitialised()
    {
        lock (Gate)
        {
            if (_initialised) return;
            try
            {
                Check(cuInit(0), "cuInit");
            }
            catch (DllNotFoundException e)
            {
                throw new UserError($"the CUDA driver ({Library}) could not be loaded: {e.Message}", e);
            }
            _initialised = true;
        }
    }

    public static string DeviceName(int ordinal)
    {
        EnsureInitialised();
        Check(cuDeviceGet(out int device, ordinal), "cuDeviceGet");
        var buffer = stackalloc byte[256];
        Check(cuDeviceGetName(buffer, 256, device), "cuDeviceGetName");
        return Encoding.ASCII.GetString(buffer, new ReadOnlySpan<byte>(buffer, 256).IndexOf((byte)0));
    }

    /// <summary>Compute capability of device <paramref name="ordinal"/>, e.g. (9, 0).</summary>
    public static (int Major, int Minor) ComputeCapability(int ordinal)
    {
        EnsureInitialised();
        Check(cuDeviceGet(out int device, ordinal), "cuDeviceGet");
        Check(cuDeviceGetAttribute(out int major, AttributeComputeCapabilityMajor, device), "cuDeviceGetAttribute");
        Check(cuDeviceGetAttribute(out int minor, AttributeComputeCapabilityMinor, device), "cuDeviceGetAttribute");
        return (major, minor);
    }

    /// <summary>
    /// Makes the primary context of device <paramref name="ordinal"/> (the one the CUDA runtime and hence
    /// libtorch use) current on the calling thread and returns it.
    /// </summary>
    public static IntPtr UsePrimaryContext(int ordinal)
    {
        EnsureInitialised();
        IntPtr context;
        lock (Gate)
        {
            if (!PrimaryContexts.TryGetValue(ordinal, out context))
            {
                Check(cuDeviceGet(out int device, ordinal), "cuDeviceGet");
                Check(cuDevicePrimaryCtxRetain(out context, device), "cuDevicePrimaryCtxRetain");
                PrimaryContexts[ordinal] = context;
            }
        }
        Check(cuCtxGetCurrent(out IntPtr current), "cuCtxGetCurrent");
        if (current != context) Check(cuCtxSetCurrent(context), "cuCtxSetCurrent");
        return context;
    }

    /// <summary>Loads a CUBIN or PTX image into the current context.</summary>
    public static IntPtr LoadModule(byte[] image)
    {
        fixed (byte* p = image)
        {
            Check(cuModuleLoadData(out IntPtr module, p), "cuModuleLoadData");
            return module;
        }
    }

    /// <summary>The kernel <paramref name="name"/> of a loaded module, allowed up to <paramref name="maxDynamicShared"/> bytes of dynamic shared memory.</summary>
    public static IntPtr GetFunction(IntPtr module, string name, int maxDynamicShared)
    {
        var bytes = Encoding.ASCII.GetBytes(name + "\0");
        IntPtr function;
        fixed (byte* p = bytes) Check(cuModuleGetFunction(out function, module, p), $"cuModuleGetFunction({name})");
        if (maxDynamicShared > 48 * 1024)
            Check(cuFuncSetAttribute(function, FunctionAttributeMaxDynamicSharedSize, maxDynamicShared), $"cuFuncSetAttribute({name})");
        return function;
    }

    /// <summary>
    /// Launches on the legacy default stream (stream 0), which orders the launch with libtorch's work on
    /// its default stream. <paramref name="parameters"/> points to one pointer per kernel argument.
    /// </summary>
    public static void Launch(IntPtr function, (uint X, uint Y, uint Z) grid, uint threads, uint sharedBytes, void** parameters, string name)
    {
        Check(cuLaunchKernel(function, grid.X, grid.Y, grid.Z, threads, 1, 1, sharedBytes, IntPtr.Zero, parameters, null), $"cuLaunchKernel({name})");
    }
}
