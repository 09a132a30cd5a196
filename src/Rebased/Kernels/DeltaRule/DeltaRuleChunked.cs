namespace Rebased.Kernels.DeltaRule;

/// <summary>
/// The chunkwise form with the WY representation in its UT-transform form (Yang et al. 2024, §3). Within a chunk
/// of C tokens entered with state S, the corrections u_i = β_i (v_i − S_{i−1}ᵀ k_i) satisfy
/// (I + A) U = diag(β) (V − K S) with A = tril(diag(β) K Kᵀ, −1), so U = Ũ − W S where
/// W = (I + A)⁻¹ diag(β) K and Ũ = (I + A)⁻¹ diag(β) V come from one unit-lower-triangular solve per chunk,
/// independent of S. Then O = Q S + tril(Q Kᵀ) U and the next state is S + Kᵀ U: the only sequential part is
/// two matmuls per chunk.
/// </summary>
public sealed class DeltaRuleChunked : TorchOpsForm, IDeltaRule
{
    public const int DefaultChunkSize = 64;

    public DeltaRuleChunked(int chunkSize = DefaultChunkSize) : base("chunked")
    {
        if (chunkSize < 1) throw new ArgumentException($"delta-rule chunk size must be positive, got {chunkSize}");
        ChunkSize = chunkSize;
    }

    public int ChunkSize { get; }

    public Tensor Forward(Tensor q, Tensor k, Tensor v, Tensor beta, double scale)
    {
        using var scope = NewDisposeScope();
        long dk = q.shape[3], dv = v.shape[3];
        // Zeros after the end: β = 0 makes the correction, and so the state change, zero.
        var chunked = ChunkedQkv.Split(q, k, v, scale, ChunkSize);
        var (time, compute, qc, kc, vc) = chunked;
        long chunks = time.Count;
        var bc = chunked.Chunk(beta.unsqueeze(-1));

        var strictlyLower = (bc * matmul(kc, kc.transpose(-2, -1))).tril(-1);
        var identity = eye(ChunkSize, dtype: compute, device: q.device);
        var wy = linalg.solve_triangular(identity + strictlyLower, cat([bc * kc, bc * vc], -1), upper: false, unitriangular: true);
        var w = wy.narrow(-1, 0, dk);
        var pseudoValues = wy.narrow(-1, dk, dv);
        var scores = matmul(qc, kc.transpose(-2, -1)).tril();

        var entering = new List<Tensor>((int)chunks);
        var corrections = new List<Tensor>((int)chunks);
        var state = chunked.ZeroState();
        for (long c = 0; c < chunks; c++)
        {
            var u = pseudoValues.select(2, c) - matmul(w.select(2, c), state);
            entering.Add(state);
            corrections.Add(u);
            state = state + matmul(kc.select(2, c).transpose(-2, -1), u);
        }
        var o = matmul(qc, stack(entering, 2)) + matmul(scores, stack(corrections, 2));
        return time.Merge(o).to(v.dtype).MoveToOuterDisposeScope();
    }
}
