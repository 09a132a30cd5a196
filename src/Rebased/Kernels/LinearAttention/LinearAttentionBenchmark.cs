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
/// Times forms of the op side by side: forward (no autograd) and forward+backward, each the median of repeated
/// runs after two warm-up runs. Runs of the forms are interleaved round by round, so that load from other
/// processes on a shared machine affects every form alike. On CUDA the device is synchronised around every run.
/// </summary>
public static class LinearAttentionBenchmark
{
    /// <summary>Forms whose memory need at a shape (an estimate of the largest live tensors) exceeds this are skipped.</summary>
    public static long MemoryBudgetBytes { get; set; } = 8L << 30;

    public const int MinRuns = 5;
    public const int MaxRuns = 50;

    /// <summary>Times every form at one shape; rounds continue until each form has MinRuns runs and the budget per form is spent (or MaxRuns).</summary>
    public static List<LinearAttentionTiming> Measure(IReadOnlyList<ILinearAttention> forms, LinearAttentionShape shape, PolynomialKernel kernel,
        Device device, ScalarType dtype, TimeSpan budgetPerForm)
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

        var forward = new Dictionary<ILinearAttention, Action>();
        var forwardBackward = new Dictionary<ILinearAttention, Action>();
        var notes = new Dictionary<ILinearAttention, string>();
        foreach (var form in forms)
        {
            long forwardBytes = EstimatedBytes(form, shape, element, backward: false);
            if (forwardBytes > MemoryBudgetBytes) { notes[form] = $"skipped: needs about {forwardBytes >> 20} MiB"; continue; }
            forward[form] = () =>
            {
                using var inner = NewDisposeScope();
                using var noGrad = no_grad();
                form.Forward(q, k, v, kernel, scale, eps);
            };
            long backwardBytes = EstimatedBytes(form, shape, element, backward: true);
            if (backwardBytes > MemoryBudgetBytes) { notes[form] = $"fwd+bwd skipped: needs about {backwardBytes >> 20} MiB"; continue; }
            forwardBackward[form] = () =>
            {
                using var inner = NewDisposeScope();
                qg.grad = null; kg.grad = null; vg.grad = null;
                form.Forward(qg, kg, vg, kernel, scale, eps).backward([dy]);
            };
        }
        var runs = forward.Select(p => (Form: p.Key, Kind: 0, Run: p.Value))
            .Concat(forwardBackward.Select(p => (Form: p.Key, Kind: 1, Run: p.Value))).ToList();
        var medians = Interleaved(runs.Select(r => ((r.Form, r.Kind), r.Run)).ToList(), device, budgetPerForm, notes);
        return forms.Select(f => new LinearAttentionTiming(f.Name, shape,
            medians.TryGetValue((f, 0), out var fwd) ? fwd : null,
            medians.TryGetValue((f, 1), out var fb) ? fb : null,
            notes.GetValueOrDefault(f))).ToList();
    }

    /// <summary>
    /// Round-robin over the measurements: every round runs each one that still needs samples (fewer than
    /// MinRuns, or fewer than MaxRuns while its time spent is under the budget). A measurement whose warm-up run
    /// alone exceeds the budget is sampled 3 times only.
    /// </summary>
    private static Dictionary<(ILinearAttention, int), double> Interleaved(List<((ILinearAttention Form, int Kind) Key, Action Run)> runs,
        Device device, TimeSpan budget, Dictionary<ILinearAttention, string> notes)
    {
        var times = new Dictionary<(ILinearAttention, int), List<double>>();
        var minRuns = new Dictionary<(ILinearAttention, int), int>();
        foreach (var (key, run) in runs.ToList())
        {
            try
            {
                double first = Timed(device, run);
                if (first < budget.TotalMilliseconds) Timed(device, run);
                minRuns[key] = first > budget.TotalMilliseconds ? 3 : MinRuns;
                times[key] = [];
            }
            catch (Exception e) when (e is OutOfMemoryException or ExternalException or InvalidOperationException)
            {
                notes[key.Form] = $"{(key.Kind == 0 ? "" : "fwd+bwd ")}skipped: {e.Message.Split('\n')[0]}";
                runs.RemoveAll(r => r.Key == key);
            }
        }
        bool Needs((ILinearAttention, int) key) =>
            times[key].Count < minRuns[key] || (times[key].Count < MaxRuns && times[key].Sum() < budget.TotalMilliseconds);
        while (runs.Any(r => Needs(r.Key)))
            foreach (var (key, run) in runs)
                if (Needs(key)) times[key].Add(Timed(device, run));
        return times.ToDictionary(p => p.Key, p => Median(p.Value));
    }

    private static double Timed(Device device, Action run)
    {
        Synchronize(device);
        var watch = Stopwatch.StartNew();
        run();
        Synchronize(device);
        double ms = watch.Elapsed.TotalMilliseconds;
        Release(device);
        return ms;
    }

    private static double Median(List<double> times)
    {
        times.Sort();
        return times.Count % 2 == 1 ? times[times.Count / 2] : 0.5 * (times[times.Count / 2 - 1] + times[times.Count / 2]);
    }

    private static void Synchronize(Device device)
    {
        if (device.type != DeviceType.CUDA) return;
        cuda.synchronize(device);
    }

    /// <summary>
    /// On CUDA, lets the finalizers release what the autograd contexts of earlier runs still hold (device memory
    /// otherwise piles up across runs at large shapes); called outside the timed region.
    /// </summary>
    private static void Release(Device device)
    {
        if (device.type != DeviceType.CUDA) return;
        GC.Collect();
        GC.WaitForPendingFinalizers();
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
