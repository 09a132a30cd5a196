using static TorchSharp.torch;

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

    Tensor Forward(Tensor timeDecay, Tensor timeFirst, Tensor k, Tensor v);
}

/// <summary>All WKV forms by name.</summary>
public static class WkvForms
{
    private static readonly IWkv[] Forms = { new WkvParallel(), new WkvRecurrent() };

    public static IReadOnlyList<IWkv> All => Forms;

    /// <summary>The form called <paramref name="name"/>; "auto" is the parallel form.</summary>
    public static IWkv Get(string name) =>
        name == "auto"
            ? Forms[0]
            : Forms.FirstOrDefault(f => f.Name == name)
              ?? throw new UserError($"unknown WKV form '{name}' (known: auto, {string.Join(", ", Forms.Select(f => f.Name))})");
}
