namespace Rebased.Kernels.Gla;

/// <summary>
/// The definition, one token at a time (also the decoding step): the reference the other forms are checked
/// against. The state is kept in float64 for float64 inputs and in float32 otherwise.
/// </summary>
public sealed class GlaRecurrent() : TorchOpsForm("recurrent"), IGatedLinearAttention
{
    /// <summary>
    /// One token: state [B, H, Dk, Dv]; q, k, g [B, H, Dk]; v [B, H, Dv]. Returns o [B, H, Dv] and the state
    /// including this token; the input state is left unchanged.
    /// </summary>
    public static (Tensor Output, Tensor State) Step(Tensor state, Tensor q, Tensor k, Tensor v, Tensor logDecay, double scale)
    {
        using var scope = NewDisposeScope();
        var compute = state.dtype;
        var next = state * logDecay.to(compute).exp().unsqueeze(-1) + k.to(compute).unsqueeze(-1) * v.to(compute).unsqueeze(-2);
        var o = matmul((q.to(compute) * scale).unsqueeze(-2), next).squeeze(-2);
        return (o.MoveToOuterDisposeScope(), next.MoveToOuterDisposeScope());
    }

    public Tensor Forward(Tensor q, Tensor k, Tensor v, Tensor logDecay, double scale) => TokenLoop.Run(q, k, v, logDecay, scale, Step);
}
