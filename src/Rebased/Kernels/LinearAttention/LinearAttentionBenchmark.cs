using System.Diagnostics;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

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

/// <summary>
/// Times forms of the op: forward (no autograd) and forward+backward, each the median of repeated runs after
/// warm-up; on CUDA the device is synchronised around every run.
/// </summary>
public static class LinearAttentionBenchmark
{
    /// <summary>Forms whose memory need at this shape (an estimate of the largest live tensors) exceeds this are skipped.</summary>
    public static long MemoryBudgetBytes { get; set; } = 8L << 30;

    public static LinearAttentionTiming Measure(ILinearAttention form, LinearAttentionShape shape, PolynomialKernel kernel,
        Device device, ScalarType dtype, TimeSpan budget, int minRuns = 5, int maxRuns = 50)
    {
        long element = dtype is ScalarType.BFloat16 or ScalarType.Float16 ? 2 : 4;
        long forwardBytes = EstimatedBytes(form, shape, element, backward: false);
        if (forwardBytes > MemoryBudgetBytes)
            return new(form.Name, shape, null, null, $"skipped: needs about {forwardBytes >> 20} MiB");

        using var scope = NewDisposeScope();
        var generator = new Generator(17, device);
        var q = randn([shape.B, shape.H, shape.T, shape.D], dtype, device, generator: generator);
        var k = randn([shape.B, shape.H, shape.T, shape.D], dtype, device, generator: generator);
        var v = randn([shape.B, shape.H, shape.T, shape.Dv], dtype, device, generator: generator);
        var dy = randn([shape.B, shape.H, shape.T, shape.Dv], dtype, device, generator: generator);
        double scale = 1.0 / Math.Sqrt(shape.D), eps = 1e-5;

        double? forward, forwardBackward = null;
        string? note = null;
        try
        {
            forward = Median(device, budget, minRuns, maxRuns, () =>
            {
                using var inner = NewDisposeScope();
                using var noGrad = no_grad();
                form.Forward(q, k, v, kernel, scale, eps);
            });
            long backwardBytes = EstimatedBytes(form, shape, element, backward: true);
            if (backwardBytes > MemoryBudgetBytes) note = $"fwd+bwd skipped: needs about {backwardBytes >> 20} MiB";
            else
            {
                var (qg, kg, vg) = (q.detach().requires_grad_(), k.detach().requires_grad_(), v.detach().requires_grad_());
                forwardBackward = Median(device, budget, minRuns, maxRuns, () =>
                {
                    using var inner = NewDisposeScope();
                    qg.grad = null; kg.grad = null; vg.grad = null;
                    form.Forward(qg, kg, vg, kernel, scale, eps).backward([dy]);
                });
            }
        }
        catch (Exception e) when (e is OutOfMemoryException or ExternalException or InvalidOperationException)
        {
            return new(form.Name, shape, null, null, $"skipped: {e.Message.Split('\n')[0]}");
        }
        return new(form.Name, shape, forward, forwardBackward, note);
    }

    private static double Median(Device device, TimeSpan budget, int minRuns, int maxRuns, Action run)
    {
        var warmUp = Stopwatch.StartNew();
        for (int i = 0; i < 2; i++) { run(); Synchronize(device); }
        if (warmUp.Elapsed > budget) minRuns = Math.Min(minRuns, 3);
        var times = new List<double>();
        var total = Stopwatch.StartNew();
        while (times.Count < minRuns || (times.Count < maxRuns && total.Elapsed < budget))
        {
            Synchronize(device);
            var watch = Stopwatch.StartNew();
            run();
            Synchronize(device);
            times.Add(watch.Elapsed.TotalMilliseconds);
        }
        times.Sort();
        return times.Count % 2 == 1 ? times[times.Count / 2] : 0.5 * (times[times.Count / 2 - 1] + times[times.Count / 2]);
    }

    private static void Synchronize(Device device)
    {
        if (device.type == DeviceType.CUDA) cuda.synchronize(device);
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
