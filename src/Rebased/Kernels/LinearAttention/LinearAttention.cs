namespace Rebased.Kernels.LinearAttention;

/// <summary>The pairwise weight f(x) of causal polynomial linear attention, x = scale · q·k.</summary>
public enum PolynomialKernel
{
    /// <summary>ReBased: f(x) = x².</summary>
    Rebased,
    /// <summary>Based: f(x) = 1 + x + x²/2 (second-order Taylor expansion of exp).</summary>
    Based,
}

/// <summary>
/// Causal, normalised linear attention with a polynomial kernel, per batch and head:
/// a_tj = f(scale · q_t·k_j) for j ≤ t, y_t = Σ_j a_tj v_j / (Σ_j a_tj + eps).
/// q, k: [B, H, T, D]; v: [B, H, T, Dv]; returns y: [B, H, T, Dv] in the dtype of v.
/// Every form computes the same function and is differentiable in q, k and v.
/// </summary>
public interface ILinearAttention : IKernelForm
{
    Tensor Forward(Tensor q, Tensor k, Tensor v, PolynomialKernel kernel, double scale, double eps);
}
