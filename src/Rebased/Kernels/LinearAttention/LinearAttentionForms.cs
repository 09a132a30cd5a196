namespace Rebased.Kernels.LinearAttention;

/// <summary>All forms of the op by name, and the automatic choice used by the Based/ReBased mixers.</summary>
public static class LinearAttentionForms
{
    /// <summary>
    /// Every implementation, one line each. Several may share a name (e.g. "fused" on CPU and on CUDA):
    /// a name then resolves to the first one that supports the tensors' device and dtype.
    /// </summary>
    private static readonly List<ILinearAttention> Forms =
    [
        new Naive(),
        new Chunked(),
        new Recurrent(),
        new CpuFused(),
        new CudaFused(),
    ];

    public static IReadOnlyList<ILinearAttention> All => Forms;

    public static IEnumerable<string> Names => Forms.Select(f => f.Name).Distinct();

    /// <summary>One implementation per name that supports this device and dtype, in registration order.</summary>
    public static IEnumerable<ILinearAttention> Supporting(Device device, ScalarType dtype) =>
        Forms.Where(f => f.Supports(device, dtype)).DistinctBy(f => f.Name);

    /// <summary>The form called <paramref name="name"/>; "auto" picks the fastest that supports the device and dtype.</summary>
    public static ILinearAttention Get(string name, Device device, ScalarType dtype)
    {
        if (name == "auto") return Auto(device, dtype);
        var named = Forms.Where(f => f.Name == name).ToList();
        if (named.Count == 0) throw new UserError($"unknown linear-attention form '{name}' (known: auto, {string.Join(", ", Names)})");
        return named.Find(f => f.Supports(device, dtype))
            ?? throw new UserError($"linear-attention form '{name}' does not support {device.type} {dtype}");
    }

    /// <summary>The preferred form for this device and dtype: the first registered form, in order of preference, that supports them.</summary>
    public static ILinearAttention Auto(Device device, ScalarType dtype) =>
        Supporting(device, dtype).OrderBy(f => Preference(f.Name)).First();

    private static int Preference(string name) => name switch
    {
        "fused" => 0,
        "chunked" => 1,
        "naive" => 2,
        _ => 3,
    };
}
