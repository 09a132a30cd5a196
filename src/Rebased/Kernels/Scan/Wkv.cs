namespace Rebased.Kernels.Scan;

/// <summary>
/// The RWKV-4 WKV operator, per batch and channel c:
/// y_t = (Σ_{i&lt;t} e^{−(t−1−i)·w + k_i} v_i + e^{u + k_t} v_t) / (Σ_{i&lt;t} e^{−(t−1−i)·w + k_i} + e^{u + k_t}),
/// with w = exp(timeDecay) &gt; 0 and u = timeFirst.
/// timeDecay, timeFirst: [C]; k, v: [B, T, C]; returns y: [B, T, C].
/// Every form computes the same function in a numerically stable way (log-space running maxima, so large
/// keys and decays neither overflow nor underflow) and is differentiable in all four inputs.
/// </summary>
public interface IWkv
{
    /// <summary>The form's name as used in configs and on the command line (recurrent, parallel).</summary>
    string Name { get; }

    /// <summary>Whether the form runs on tensors of this device and dtype (the composed forms run everywhere).</summary>
    bool Supports(Device device, ScalarType dtype) => true;

    Tensor Forward(Tensor timeDecay, Tensor timeFirst, Tensor k, Tensor v);
}

/// <summary>All WKV forms by name.</summary>
public static class WkvForms
{
    private static readonly IWkv[] Forms = { new WkvParallel(), new WkvRecurrent(), new WkvCuda() };
    private static readonly IWkv AutoForm = new WkvAuto();

    public static IReadOnlyList<IWkv> All => Forms;

    /// <summary>The forms that run on tensors of this device and dtype.</summary>
    public static IEnumerable<IWkv> Supporting(Device device, ScalarType dtype) => Forms.Where(f => f.Supports(device, dtype));

    /// <summary>
    /// The form called <paramref name="name"/>; "auto" chooses per call from the tensors: the fused CUDA form
    /// for float32 CUDA tensors, the parallel form otherwise.
    /// </summary>
    public static IWkv Get(string name) =>
        name == "auto"
            ? AutoForm
            : Forms.FirstOrDefault(f => f.Name == name)
              ?? throw new UserError($"unknown WKV form '{name}' (known: auto, {string.Join(", ", Forms.Select(f => f.Name))})");

    /// <summary>The form "auto" runs for tensors of this device and dtype.</summary>
    public static IWkv Auto(Device device, ScalarType dtype) => Forms[2].Supports(device, dtype) ? Forms[2] : Forms[0];

    private sealed class WkvAuto : IWkv
    {
        public string Name => "auto";

        public Tensor Forward(Tensor timeDecay, Tensor timeFirst, Tensor k, Tensor v) =>
            Auto(k.device, k.dtype).Forward(timeDecay, timeFirst, k, v);
    }
}
