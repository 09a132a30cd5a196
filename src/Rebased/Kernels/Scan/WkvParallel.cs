namespace Rebased.Kernels.Scan;

/// <summary>
/// A log-depth parallel scan (Hillis–Steele) over the positions: ⌈log₂ T⌉ rounds of element-wise ops on
/// [B, T, C] tensors instead of T sequential steps.
/// The past of position t is S_t = Σ_{i≤t} e^{−(t−i)·w + k_i}·(v_i, 1), a linear recurrence with the constant
/// decay e^{−w}. Each element holds a partial sum as (num, den)·e^{p}; combining with the element s positions
/// earlier multiplies that one by e^{−s·w}. The scales p are running maxima and carry no gradient (the value
/// does not depend on them), so every exponent is ≤ 0.
/// </summary>
public sealed class WkvParallel : IWkv
{
    public string Name => "parallel";

    public Tensor Forward(Tensor timeDecay, Tensor timeFirst, Tensor k, Tensor v)
    {
        using var scope = NewDisposeScope();
        long steps = k.shape[1];
        var w = timeDecay.exp();
        var p = k.detach();
        var scaled = (k - p).exp();
        var num = v * scaled;
        var den = scaled;
        for (long shift = 1; shift < steps; shift *= 2)
        {
            long rest = steps - shift;
            var pLater = p.narrow(1, shift, rest);
            var pEarlier = p.narrow(1, 0, rest);
            var pNew = maximum(pLater, pEarlier - (w * shift).detach());
            var keep = (pLater - pNew).exp();
            var decay = (pEarlier - w * shift - pNew).exp();
            num = cat(new[] { num.narrow(1, 0, shift), keep * num.narrow(1, shift, rest) + decay * num.narrow(1, 0, rest) }, 1);
            den = cat(new[] { den.narrow(1, 0, shift), keep * den.narrow(1, shift, rest) + decay * den.narrow(1, 0, rest) }, 1);
            p = cat(new[] { p.narrow(1, 0, shift), pNew }, 1);
        }

        // y_t combines the past S_{t−1} with the current term e^{u + k_t}·(v_t, 1); y_0 has no past.
        var pastP = p.narrow(1, 0, steps - 1);
        var currentLog = timeFirst + k.narrow(1, 1, steps - 1);
        var m = maximum(pastP, currentLog.detach());
        var ePast = (pastP - m).exp();
        var eCurrent = (currentLog - m).exp();
        var y = (ePast * num.narrow(1, 0, steps - 1) + eCurrent * v.narrow(1, 1, steps - 1))
              / (ePast * den.narrow(1, 0, steps - 1) + eCurrent);
        return cat(new[] { v.narrow(1, 0, 1), y }, 1).MoveToOuterDisposeScope();
    }
}
