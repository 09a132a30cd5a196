namespace Rebased.Kernels;

/// <summary>
/// One state step per token over q, k [B, H, T, Dk], v [B, H, T, Dv] and a per-token input [B, H, T, …] (a gate or
/// a write strength), from a zero state [B, H, Dk, Dv] in the accumulation dtype: the recurrent forms' loop.
/// </summary>
public static class TokenLoop
{
    public delegate (Tensor Output, Tensor State) Step(Tensor state, Tensor q, Tensor k, Tensor v, Tensor perToken, double scale);

    public static Tensor Run(Tensor q, Tensor k, Tensor v, Tensor perToken, double scale, Step step)
    {
        using var scope = NewDisposeScope();
        long t = q.shape[2];
        var state = zeros([q.shape[0], q.shape[1], q.shape[3], v.shape[3]], KernelDtypes.Accumulation(v.dtype), q.device);
        var outputs = new List<Tensor>((int)t);
        for (long i = 0; i < t; i++)
        {
            var (o, next) = step(state, q[.., .., i], k[.., .., i], v[.., .., i], perToken[.., .., i], scale);
            outputs.Add(o);
            state = next;
        }
        return stack(outputs, 2).to(v.dtype).MoveToOuterDisposeScope();
    }
}
