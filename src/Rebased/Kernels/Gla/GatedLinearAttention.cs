namespace Rebased.Kernels.Gla;

/// <summary>
/// Causal gated linear attention (GLA, Yang et al. 2023), per batch and head, with a state S of Dk×Dv:
/// S_t = diag(exp(g_t)) S_{t−1} + k_t v_tᵀ (S_0 = 0), o_t = S_tᵀ (scale · q_t).
/// q, k and the log decay g (≤ 0, e.g. logsigmoid(x)/16): [B, H, T, Dk]; v: [B, H, T, Dv]; returns o [B, H, T, Dv]
/// in the dtype of v. Every form computes the same function and is differentiable in q, k, v and g.
/// </summary>
public interface IGatedLinearAttention : IKeyValueRecurrence;

/// <summary>The registered forms; <c>auto</c> prefers the chunked form (matmuls) over the token loop.</summary>
public static class GlaForms
{
    public static KernelForms<IGatedLinearAttention> Registry { get; } =
        KernelForms.ChunkedOverRecurrent<IGatedLinearAttention>("gated linear attention", new GlaChunked(), new GlaRecurrent());

    /// <summary>The inputs the checks and benchmarks give the forms: q, k and v normal and the log decay
    /// g = logsigmoid(x) / <paramref name="gateNormalizer"/>, as the GLA mixer makes it.</summary>
    public static KeyValueInputs Inputs(double gateNormalizer) => (normal, s) =>
    [
        normal([s.B, s.H, s.T, s.Dk]),
        normal([s.B, s.H, s.T, s.Dk]),
        normal([s.B, s.H, s.T, s.Dv]),
        nn.functional.logsigmoid(normal([s.B, s.H, s.T, s.Dk])) / gateNormalizer,
    ];
}
