namespace Rebased.Kernels;

/// <summary>
/// The time axis of [B, H, T, D] tensors cut into chunks of <see cref="Size"/> tokens, the last one padded with zeros:
/// the layout [B, H, N, C, D] that the chunked forms compute on.
/// </summary>
public readonly record struct TimeChunks(long Length, int Size)
{
    public long Count => (Length + Size - 1) / Size;

    public long Padded => Count * Size;

    /// <summary>x [B, H, T, D] → [B, H, N, C, D] in <paramref name="compute"/>, zeros after the end.</summary>
    public Tensor Split(Tensor x, ScalarType compute) =>
        nn.functional.pad(x.to(compute), [0, 0, 0, Padded - Length]).reshape(x.shape[0], x.shape[1], Count, Size, x.shape[3]);

    /// <summary>y [B, H, N, C, D] → [B, H, T, D], the padding dropped.</summary>
    public Tensor Merge(Tensor y) => y.reshape(y.shape[0], y.shape[1], Padded, y.shape[4]).narrow(2, 0, Length);
}
