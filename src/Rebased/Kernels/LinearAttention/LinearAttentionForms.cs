namespace Rebased.Kernels.LinearAttention;

/// <summary>All forms of the op by name, and the automatic choice used by the Based/ReBased mixers.</summary>
public static class LinearAttentionForms
{
    /// <summary>
    /// Every implementation, one line each. Several may share a name (e.g. "fused" on CPU and on CUDA): a name then
    /// resolves to the first one that supports the tensors' device and dtype. <c>auto</c> prefers fused, then chunked;
    /// fused_tf32x3 (CUDA fp32 on tensor cores) is chosen by name only, until it is measured faster than fused.
    /// </summary>
    public static KernelForms<ILinearAttention> Registry { get; } = new("linear-attention",
        [new Naive(), new Chunked(), new Recurrent(), new CpuFused(), new CudaFused(), new CudaFused(tf32x3: true)],
        autoPreference: ["fused", "fused_tf32x3", "chunked", "naive", "recurrent"]);

    /// <summary>One implementation per name that supports this device and dtype, in the order of preference.</summary>
    public static IEnumerable<ILinearAttention> Supporting(Device device, ScalarType dtype) => Registry.Supporting(device, dtype);

    /// <summary>The form called <paramref name="name"/>; "auto" picks the preferred one that supports the device and dtype.</summary>
    public static ILinearAttention Get(string name, Device device, ScalarType dtype) => Registry.Get(name, device, dtype);

    public static ILinearAttention Auto(Device device, ScalarType dtype) => Registry.Get("auto", device, dtype);
}
