namespace Rebased.Kernels.Scan;

/// <summary>
/// The reference form: one step per position, carrying (a, b, p) with a·e^p the numerator and b·e^p the
/// denominator of the past, exactly as the reference CUDA kernel does. O(T) sequential steps.
/// </summary>
public sealed class WkvRecurrent : IWkv
{
    public string Name => "recurrent";

    public Tensor Forward(Tensor timeDecay, Tensor timeFirst, Tensor k, Tensor v)
    {
        using var scope = NewDisposeScope();
        long steps = k.shape[1];
        var w = timeDecay.exp();
        var outputs = new List<Tensor>((int)steps);
        // Position 0 sees only its own term: y_0 = v_0. Its state is (v_0, 1) at scale k_0.
        outputs.Add(v.select(1, 0));
        var a = v.select(1, 0);
        var b = ones_like(a);
        var p = k.select(1, 0);
        for (long t = 1; t < steps; t++)
        {
            var kt = k.select(1, t);
            var vt = v.select(1, t);
            var current = timeFirst + kt;
            var m = maximum(p, current);
            var e1 = (p - m).exp();
            var e2 = (current - m).exp();
            outputs.Add((e1 * a + e2 * vt) / (e1 * b + e2));

            var decayed = p - w;
            var next = maximum(decayed, kt);
            e1 = (decayed - next).exp();
            e2 = (kt - next).exp();
            a = e1 * a + e2 * vt;
            b = e1 * b + e2;
            p = next;
        }
        return stack(outputs, 1).MoveToOuterDisposeScope();
    }
}
