namespace Rebased.Kernels.Scan;

/// <summary>
/// The RWKV-4 WKV operator, per batch and channel c:
/// y_t = (Σ_{i&lt;t} e^{−(t−1−i)·w + k_i} v_i + e^{u + k_t} v_t) / (Σ_{i&lt;t} e^{−(t−1−i)·w + k_i} + e^{u + k_t}),
/// with w = exp(timeDecay) &gt; 0 and u = timeFirst.
/// timeDecay, timeFirst: [C]; k, v: [B, T, C]; returns y: [B, T, C].
/// Every form computes the same function in a numerically stable way (log-space running maxima, so large
/// keys and decays neither overflow nor underflow) and is differentiable in all four inputs.
/// </summary>
public interface IWkv : IKernelForm
{
    /// <summary>The composed forms run on every device and dtype.</summary>
    bool IKernelForm.Supports(Device device, ScalarType dtype) => true;

    Tensor Forward(Tensor timeDecay, Tensor timeFirst, Tensor k, Tensor v);
}

/// <summary>All WKV forms by name.</summary>
public static class WkvForms
{
    /// <summary>Every implementation; <c>auto</c> prefers the fused CUDA form, then the parallel one.</summary>
    public static KernelForms<IWkv> Registry { get; } = new("WKV",
        [new WkvParallel(), new WkvRecurrent(), new WkvCuda()], autoPreference: ["cuda", "parallel", "recurrent"]);

    private static readonly IWkv AutoForm = new WkvAuto();

    /// <summary>The forms that run on tensors of this device and dtype, in the order of preference.</summary>
    public static IEnumerable<IWkv> Supporting(Device device, ScalarType dtype) => Registry.Supporting(device, dtype);

    /// <summary>
    /// The form called <paramref name="name"/>; "auto" chooses per call from the tensors (<see cref="Auto"/>): a
    /// mixer names its form before it knows the device.
    /// </summary>
    public static IWkv Get(string name) => name == "auto" ? AutoForm : Registry.Named(name);

    /// <summary>The form "auto" runs for tensors of this device and dtype.</summary>
    public static IWkv Auto(Device device, ScalarType dtype) => Registry.Get("auto", device, dtype);

    private sealed class WkvAuto : IWkv
    {
        public string Name => "auto";

        public Tensor Forward(Tensor timeDecay, Tensor timeFirst, Tensor k, Tensor v) =>
            Auto(k.device, k.dtype).Forward(timeDecay, timeFirst, k, v);
    }
}
