namespace Rebased.Kernels.DeltaRule;

/// <summary>
/// The definition, one token at a time (also the decoding step), written as S_t = S_{t−1} + k_t u_tᵀ with
/// u_t = β_t (v_t − S_{t−1}ᵀ k_t): the reference the other forms are checked against. The state is kept in
/// float64 for float64 inputs and in float32 otherwise.
/// </summary>
public sealed class DeltaRuleRecurrent() : TorchOpsForm("recurrent"), IDeltaRule
{
    /// <summary>
    /// One token: state [B, H, Dk, Dv]; q, k [B, H, Dk]; v [B, H, Dv]; beta [B, H]. Returns o [B, H, Dv] and the
    /// state including this token; the input state is left unchanged.
    /// </summary>
    public static (Tensor Output, Tensor State) Step(Tensor state, Tensor q, Tensor k, Tensor v, Tensor beta, double scale)
    {
        using var scope = NewDisposeScope();
        var compute = state.dtype;
        k = k.to(compute);
        var recalled = matmul(k.unsqueeze(-2), state).squeeze(-2);
        var correction = beta.to(compute).unsqueeze(-1) * (v.to(compute) - recalled);
        var next = state + k.unsqueeze(-1) * correction.unsqueeze(-2);
        var o = matmul((q.to(compute) * scale).unsqueeze(-2), next).squeeze(-2);
        return (o.MoveToOuterDisposeScope(), next.MoveToOuterDisposeScope());
    }

    public Tensor Forward(Tensor q, Tensor k, Tensor v, Tensor beta, double scale) => TokenLoop.Run(q, k, v, beta, scale, Step);
}
