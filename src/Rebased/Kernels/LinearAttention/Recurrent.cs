namespace Rebased.Kernels.LinearAttention;

/// <summary>
/// The recurrent (generation) form: one token at a time with a state S = Σ φ(k_j) v_jᵀ of F×Dv and a
/// normaliser state Σ φ(k_j) of F per batch and head (F = D² for ReBased, 1 + D + D² for Based).
/// <see cref="Step"/> is the decoding API; <see cref="Forward"/> runs it over the whole sequence.
/// The state of fp32 inputs is kept in float64: φ(q)·φ(k) = (q·k)² sums terms of size |q|²|k|², so when q·k
/// is small the cancellation costs an fp32 state about 1e-4 relative error in y.
/// </summary>
public sealed class Recurrent() : TorchOpsForm("recurrent"), ILinearAttention
{
    /// <summary>The running sums after some tokens: State [B, H, F, Dv] and Normaliser [B, H, F].</summary>
    public sealed record DecodeState(Tensor State, Tensor Normaliser) : IDisposable
    {
        public static DecodeState Empty(long batch, long heads, long d, long dv, PolynomialKernel kernel, ScalarType dtype, Device device)
        {
            long f = FeatureMap.Features(kernel, d);
            return new(zeros(batch, heads, f, dv, dtype, device), zeros(batch, heads, f, dtype, device));
        }

        public void Dispose()
        {
            State.Dispose();
            Normaliser.Dispose();
        }
    }

    /// <summary>
    /// One token: q, k: [B, H, D], v: [B, H, Dv]; returns y [B, H, Dv] (attending to this token and all before)
    /// and the state including this token. The input state is left unchanged.
    /// </summary>
    public static (Tensor Y, DecodeState Next) Step(DecodeState state, Tensor q, Tensor k, Tensor v, PolynomialKernel kernel, double scale, double eps)
    {
        using var scope = NewDisposeScope();
        var compute = state.State.dtype;
        var phiQ = FeatureMap.Apply(q.to(compute), kernel, scale);
        var phiK = FeatureMap.Apply(k.to(compute), kernel, scale);
        var s = state.State + phiK.unsqueeze(-1) * v.to(compute).unsqueeze(-2);
        var n = state.Normaliser + phiK;
        var o = matmul(phiQ.unsqueeze(-2), s).squeeze(-2);
        var z = (phiQ * n).sum(-1, keepdim: true);
        var y = (o / (z + eps)).to(v.dtype);
        return (y.MoveToOuterDisposeScope(), new DecodeState(s.MoveToOuterDisposeScope(), n.MoveToOuterDisposeScope()));
    }

    /// <summary>The state dtype for inputs of this dtype: float64 for fp32 and fp64, fp32 for 16-bit types.</summary>
    public static ScalarType StateDtype(ScalarType dtype) => dtype is ScalarType.Float32 or ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;

    public Tensor Forward(Tensor q, Tensor k, Tensor v, PolynomialKernel kernel, double scale, double eps)
    {
        using var scope = NewDisposeScope();
        long t = q.shape[2];
        var state = DecodeState.Empty(q.shape[0], q.shape[1], q.shape[3], v.shape[3], kernel, StateDtype(v.dtype), q.device);
        var outputs = new List<Tensor>((int)t);
        for (long i = 0; i < t; i++)
        {
            var (y, next) = Step(state, q[.., .., i], k[.., .., i], v[.., .., i], kernel, scale, eps);
            outputs.Add(y);
            state = next;
        }
        return stack(outputs, 2).MoveToOuterDisposeScope();
    }
}
