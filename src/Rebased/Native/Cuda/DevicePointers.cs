using System.Runtime.InteropServices;

namespace Rebased.Native;

/// <summary>Addresses of tensors' data for kernel launches.</summary>
public static partial class DevicePointers
{
    [LibraryImport("LibTorchSharp", EntryPoint = "THSTensor_data")]
    private static partial IntPtr TensorData(IntPtr tensor);

    /// <summary>Address of the first element (storage offset included) of a tensor, or null for none.</summary>
    public static IntPtr Of(Tensor? t) => t is null ? IntPtr.Zero : TensorData(t.Handle);

    /// <summary>The ordinal of the CUDA device a tensor is on (0 where its device carries no index).</summary>
    public static int Ordinal(Tensor t) => Math.Max(0, (int)t.device.index);
}
