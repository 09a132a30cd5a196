namespace Rebased.Kernels;

/// <summary>
/// q (times the scale), k and v of a state-passing chunked form, cut into <see cref="Time"/> chunks in the
/// accumulation dtype of v.
/// </summary>
public readonly record struct ChunkedQkv(TimeChunks Time, ScalarType Compute, Tensor Q, Tensor K, Tensor V)
{
    public static ChunkedQkv Split(Tensor q, Tensor k, Tensor v, double scale, int chunkSize)
    {
        var time = new TimeChunks(q.shape[2], chunkSize);
        var compute = KernelDtypes.Accumulation(v.dtype);
        return new(time, compute, time.Split(q, compute) * scale, time.Split(k, compute), time.Split(v, compute));
    }

    /// <summary>The zero state [B, H, Dk, Dv] that enters the first chunk.</summary>
    public Tensor ZeroState() => zeros([Q.shape[0], Q.shape[1], Q.shape[4], V.shape[4]], Compute, Q.device);

    /// <summary>Another [B, H, T, D] input of the form, cut the same way.</summary>
    public Tensor Chunk(Tensor x) => Time.Split(x, Compute);
}
