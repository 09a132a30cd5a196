namespace Rebased.Kernels.LinearAttention;

/// <summary>One problem size of the op: q, k [B, H, T, D], v [B, H, T, Dv].</summary>
public sealed record LinearAttentionShape(long B, long H, long T, long D, long Dv)
{
    /// <summary>Algorithmic FLOPs of the causal forward: B·H·T²·(D + Dv).</summary>
    public double ForwardFlops => (double)B * H * T * T * (D + Dv);

    /// <summary>Algorithmic FLOPs of the backward: B·H·T²·(3D + 2Dv).</summary>
    public double BackwardFlops => (double)B * H * T * T * (3 * D + 2 * Dv);

    public static LinearAttentionShape Parse(string text)
    {
        var parts = text.Split(',');
        if (parts.Length != 5 || parts.Any(p => !long.TryParse(p.Trim(), out long x) || x < 1))
            throw new UserError($"--shape '{text}' must be five positive integers B,H,T,D,Dv");
        var n = parts.Select(p => long.Parse(p.Trim())).ToArray();
        if (n[3] > 128) throw new UserError($"--shape '{text}': D = {n[3]} exceeds the supported 128");
        return new(n[0], n[1], n[2], n[3], n[4]);
    }
}

/// <summary>Median times of one form at one shape; null times were skipped for the reason in Note.</summary>
public sealed record LinearAttentionTiming(string Form, LinearAttentionShape Shape, double? ForwardMs, double? ForwardBackwardMs, string? Note)
{
    public double? TflopsForwardBackward => ForwardBackwardMs is { } ms ? (Shape.ForwardFlops + Shape.BackwardFlops) / (ms * 1e-3) / 1e12 : null;
}

/// <summary>Times forms of the op side by side with <see cref="FormTimer"/>: forward (no autograd) and forward+backward.</summary>
public static class LinearAttentionBenchmark
{
    /// <summary>Forms whose memory need at a shape (an estimate of the largest live tensors) exceeds this are skipped.</summary>
    public static long MemoryBudgetBytes { get; set; } = 8L << 30;

    /// <summary>Times every form at one shape for about <paramref name="budgetPerForm"/> per measurement.</summary>
    public static List<LinearAttentionTiming> Measure(IReadOnlyList<ILinearAttention> forms, LinearAttentionShape shape, PolynomialKernel kernel,
        Device device, ScalarType dtype, TimeSpan budgetPerForm, int backToBack = 1)
    {
        long element = dtype is ScalarType.BFloat16 or ScalarType.Float16 ? 2 : 4;
        using var scope = NewDisposeScope();
        // Drawn on the CPU (TorchSharp's seeded generator is a CPU one), then moved.
        var generator = new Generator(17);
        var q = randn([shape.B, shape.H, shape.T, shape.D], dtype, generator: generator).to(device);
        var k = randn([shape.B, shape.H, shape.T, shape.D], dtype, generator: generator).to(device);
        var v = randn([shape.B, shape.H, shape.T, shape.Dv], dtype, generator: generator).to(device);
        var dy = randn([shape.B, shape.H, shape.T, shape.Dv], dtype, generator: generator).to(device);
        var (qg, kg, vg) = (q.detach().requires_grad_(), k.detach().requires_grad_(), v.detach().requires_grad_());
        double scale = 1.0 / Math.Sqrt(shape.D), eps = 1e-5;

        var timed = new List<TimedForm>();
        foreach (var form in forms)
        {
            long forwardBytes = EstimatedBytes(form, shape, element, backward: false);
            if (forwardBytes > MemoryBudgetBytes) { timed.Add(new TimedForm(form.Name, null, null, $"skipped: needs about {forwardBytes >> 20} MiB")); continue; }
            Action forward = () =>
            {
                using var inner = NewDisposeScope();
                using var noGrad = no_grad();
                form.Forward(q, k, v, kernel, scale, eps);
            };
            long backwardBytes = EstimatedBytes(form, shape, element, backward: true);
            if (backwardBytes > MemoryBudgetBytes) { timed.Add(new TimedForm(form.Name, forward, null, $"fwd+bwd skipped: needs about {backwardBytes >> 20} MiB")); continue; }
            timed.Add(new TimedForm(form.Name, forward, () =>
            {
                using var inner = NewDisposeScope();
                qg.grad = null; kg.grad = null; vg.grad = null;
                form.Forward(qg, kg, vg, kernel, scale, eps).backward([dy]);
            }));
        }
        return FormTimer.Measure(timed, device, budgetPerForm, backToBack)
            .Select(t => new LinearAttentionTiming(t.Form, shape, t.ForwardMs, t.ForwardBackwardMs, t.Note)).ToList();
    }

    /// <summary>A rough size of the largest live buffers: T×T score matrices for naive, feature maps and states for chunked and recurrent.</summary>
    private static long EstimatedBytes(ILinearAttention form, LinearAttentionShape s, long element, bool backward)
    {
        long bh = s.B * s.H, f = FeatureMap.Features(PolynomialKernel.Based, s.D);
        return form switch
        {
            Naive => bh * s.T * s.T * element * (backward ? 6 : 3),
            Chunked => bh * s.T * f * 4 * 3 + bh * (s.T / Chunked.ChunkSize + 1) * f * s.Dv * 4 * (backward ? 4 : 2),
            Recurrent => bh * f * s.Dv * 8 * (backward ? s.T * 16 : 2),
            _ => 0,
        };
    }
}
