namespace Rebased.Kernels.Gla;

/// <summary>
/// The chunkwise form (GLA paper §4, secondary-level chunking): the state is passed from chunk to chunk of
/// <see cref="ChunkSize"/> tokens; inside a chunk, scores between sub-chunks of <see cref="SubChunkSize"/> are
/// matmuls of q and k rescaled relative to the decay at the end of the key's sub-chunk, and scores inside a
/// sub-chunk are formed pairwise. Every exponent taken is ≤ 0, so no rescaled factor can overflow however
/// strong the decay. Linear in T; the only sequential part is one Dk×Dv update per chunk.
/// </summary>
public sealed class GlaChunked : TorchOpsForm, IGatedLinearAttention
{
    public const int DefaultChunkSize = 64;
    public const int DefaultSubChunkSize = 16;

    public GlaChunked(int chunkSize = DefaultChunkSize, int subChunkSize = DefaultSubChunkSize) : base("chunked")
    {
        if (subChunkSize < 1 || chunkSize < subChunkSize || chunkSize % subChunkSize != 0)
            throw new ArgumentException($"GLA chunk size {chunkSize} must be a positive multiple of the sub-chunk size {subChunkSize}");
        ChunkSize = chunkSize;
        SubChunkSize = subChunkSize;
    }

    public int ChunkSize { get; }
    public int SubChunkSize { get; }

    public Tensor Forward(Tensor q, Tensor k, Tensor v, Tensor logDecay, double scale)
    {
        using var scope = NewDisposeScope();
        // Zeros after the end: k = v = 0 add nothing to the state and g = 0 decays nothing.
        var chunked = ChunkedQkv.Split(q, k, v, scale, ChunkSize);
        var (time, _, qc, kc, vc) = chunked;
        long chunks = time.Count;
        // log of the decay from the chunk's start through each position: ≤ 0 and non-increasing along the chunk.
        var decay = chunked.Chunk(logDecay).cumsum(-2);

        var intra = matmul(IntraChunkScores(qc, kc, decay), vc);

        var chunkDecay = decay.select(3, ChunkSize - 1);
        var chunkUpdate = matmul((kc * (chunkDecay.unsqueeze(-2) - decay).exp()).transpose(-2, -1), vc);
        var entering = new List<Tensor>((int)chunks);
        var state = chunked.ZeroState();
        for (long c = 0; c < chunks; c++)
        {
            entering.Add(state);
            state = state * chunkDecay.select(2, c).exp().unsqueeze(-1) + chunkUpdate.select(2, c);
        }
        var inter = matmul(qc * decay.exp(), stack(entering, 2));
        return time.Merge(intra + inter).to(v.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// A_ij = Σ_d q_id k_jd exp(b_id − b_jd) for j ≤ i within each chunk (0 above the diagonal), b the in-chunk decay:
    /// q, k, decay [B, H, N, C, Dk] → [B, H, N, C, C].
    /// </summary>
    private Tensor IntraChunkScores(Tensor q, Tensor k, Tensor decay)
    {
        long b = q.shape[0], h = q.shape[1], n = q.shape[2], dk = q.shape[4];
        long c = SubChunkSize, s = ChunkSize / SubChunkSize;
        var qs = q.reshape(b, h, n, s, c, dk);
        var ks = k.reshape(b, h, n, s, c, dk);
        var ds = decay.reshape(b, h, n, s, c, dk);

        // Query sub-chunk I after key sub-chunk J: relative to e_J, the decay at J's last position, b_i − e_J ≤ 0 and e_J − b_j ≤ 0.
        // (For I ≤ J the clamp only keeps the masked blocks finite.)
        var reference = ds.select(4, c - 1);
        var qRelative = qs.unsqueeze(4) * (ds.unsqueeze(4) - reference.unsqueeze(3).unsqueeze(5)).clamp_max(0).exp();
        var kRelative = ks * (reference.unsqueeze(4) - ds).exp();
        var between = matmul(qRelative, kRelative.unsqueeze(3).transpose(-2, -1));

        // Inside a sub-chunk, pairwise; above the diagonal b_i − b_j > 0 is clamped before the exp and then masked.
        var within = (qs.unsqueeze(-2) * ks.unsqueeze(-3) * (ds.unsqueeze(-2) - ds.unsqueeze(-3)).clamp_max(0).exp()).sum(-1);
        within = within.masked_fill(ones(c, c, ScalarType.Bool, q.device).triu(1), 0);

        var earlierBlocks = ones(s, s, ScalarType.Bool, q.device).tril(-1).view(s, s, 1, 1);
        var sameBlock = eye(s, dtype: ScalarType.Bool, device: q.device).view(s, s, 1, 1);
        var scores = where(sameBlock, within.unsqueeze(4), between.masked_fill(earlierBlocks.logical_not(), 0));
        return scores.permute(0, 1, 2, 3, 5, 4, 6).reshape(b, h, n, ChunkSize, ChunkSize);
    }
}
