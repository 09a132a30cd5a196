namespace Rebased.Kernels.LinearAttention;

/// <summary>
/// The chunkwise form in TorchSharp ops: within a chunk of <see cref="ChunkSize"/> tokens the masked quadratic
/// form; across chunks a running state Σ φ(k_j) v_jᵀ (and Σ φ(k_j) for the normaliser) read through φ(q_t).
/// Linear in T; memory O(T·F + T/C·F·Dv) with F the feature count of <see cref="FeatureMap"/>.
/// </summary>
public sealed class Chunked() : TorchOpsForm("chunked"), ILinearAttention
{
    public const int ChunkSize = 64;

    public Tensor Forward(Tensor q, Tensor k, Tensor v, PolynomialKernel kernel, double scale, double eps)
    {
        using var scope = NewDisposeScope();
        var time = new TimeChunks(q.shape[2], ChunkSize);
        var compute = v.dtype is ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        Tensor Chunk(Tensor x) => time.Split(x, compute);
        var (qc, kc, vc) = (Chunk(q), Chunk(k), Chunk(v));

        var a = FeatureMap.Weight(matmul(qc * scale, kc.transpose(-2, -1)), kernel);
        a = a.masked_fill(ones(ChunkSize, ChunkSize, ScalarType.Bool, q.device).triu(1), 0);
        var o = matmul(a, vc);
        var z = a.sum(-1);

        var phiQ = FeatureMap.Apply(qc, kernel, scale);
        var phiK = FeatureMap.Apply(kc, kernel, scale);
        var chunkState = matmul(phiK.transpose(-2, -1), vc);
        var chunkNorm = phiK.sum(-2);
        var state = chunkState.cumsum(2) - chunkState;
        var norm = chunkNorm.cumsum(2) - chunkNorm;
        o = o + matmul(phiQ, state);
        z = z + matmul(phiQ, norm.unsqueeze(-1)).squeeze(-1);

        var y = time.Merge(o / (z.unsqueeze(-1) + eps)).to(v.dtype);
        return y.MoveToOuterDisposeScope();
    }
}
