namespace Rebased.Kernels.Scan;

/// <summary>
/// h_t = a_t ⊙ h_{t−1} + b_t along one dimension (h_{−1} = 0), as a log-depth parallel scan (Hillis–Steele:
/// ⌈log₂ T⌉ rounds of element-wise ops). A custom autograd function: the backward is the same scan run in
/// reverse (λ_t = ∂h_t + a_{t+1} λ_{t+1}; ∂b_t = λ_t; ∂a_t = λ_t h_{t−1}), so only a and h are kept for it
/// instead of every round's intermediates.
/// </summary>
public static class LinearRecurrence
{
    public static Tensor Scan(Tensor a, Tensor b, long dim) => ScanFunction.apply(a, b, dim);

    /// <summary>The scan without autograd bookkeeping (inputs must not need gradients).</summary>
    internal static Tensor ScanNoGrad(Tensor a, Tensor b, long dim)
    {
        long steps = a.shape[dim];
        var h = b.clone();
        var decay = a;
        for (long shift = 1; shift < steps; shift *= 2)
        {
            long rest = steps - shift;
            var decayLater = decay.narrow(dim, shift, rest);
            // Rounds write the later part in place from the earlier part of the previous round, so read a copy.
            using var earlier = h.narrow(dim, 0, rest).clone();
            h.narrow(dim, shift, rest).addcmul_(decayLater, earlier, 1);
            if (shift * 2 >= steps) break;
            var combined = cat(new[] { decay.narrow(dim, 0, shift), decayLater * decay.narrow(dim, 0, rest) }, dim);
            if (!ReferenceEquals(decay, a)) decay.Dispose();
            decay = combined;
        }
        if (!ReferenceEquals(decay, a)) decay.Dispose();
        return h;
    }

    private sealed class ScanFunction : autograd.SingleTensorFunction<ScanFunction>
    {
        private const string DimKey = "dim";

        public override string Name => "LinearRecurrenceScan";

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var a = (Tensor)vars[0];
            var b = (Tensor)vars[1];
            long dim = (long)vars[2];
            if (dim < 0) dim += a.dim();
            var h = ScanNoGrad(a, b, dim);
            ctx.save_for_backward(new List<Tensor> { a, h.detach() });
            ctx.save_data(DimKey, dim);
            return h;
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput) =>
            AutogradTemporaries.Backward(ctx, gradOutput, saved =>
            {
                var a = saved[0];
                var h = saved[1];
                long dim = (long)ctx.get_data(DimKey);
                long steps = a.shape[dim];
                // λ_t = g_t + a_{t+1} λ_{t+1}: the forward scan over the reversed sequence with decays shifted by one.
                var nextDecay = cat(new[] { a.narrow(dim, 1, steps - 1), zeros_like(a.narrow(dim, 0, 1)) }, dim);
                var lambda = ScanNoGrad(nextDecay.flip(dim), gradOutput.flip(dim), dim).flip(dim);
                var previous = cat(new[] { zeros_like(h.narrow(dim, 0, 1)), h.narrow(dim, 0, steps - 1) }, dim);
                return new List<Tensor> { lambda * previous, lambda, null! };
            });
    }
}
