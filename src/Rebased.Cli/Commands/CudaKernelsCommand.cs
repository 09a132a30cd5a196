using System.Diagnostics;
using Rebased.Kernels.LinearAttention;
using Rebased.Native;
using Spectre.Console.Cli;
using TorchSharp;
using static TorchSharp.torch;

namespace Rebased.Cli.Commands;

/// <summary>Checks and times the CUDA fused form on a GPU host (correctness grid, target shapes, model shapes, rooflines).</summary>
public sealed class CudaKernelsCommand : Command<CudaKernelsCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--check")] public bool Check { get; init; }
        [CommandOption("--full-grid")] public bool FullGrid { get; init; }
        [CommandOption("--bench")] public bool Bench { get; init; }
        [CommandOption("--model-shapes")] public bool ModelShapes { get; init; }
        [CommandOption("--roofline")] public bool Roofline { get; init; }
        [CommandOption("--resources")] public bool Resources { get; init; }
        [CommandOption("--dtypes")] public string Dtypes { get; init; } = "fp32,bf16,fp16";
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellation)
    {
        TorchRuntime.EnsureLoaded();
        if (!cuda.is_available()) throw new UserError("CUDA is not available: run on a GPU host with REBASED_LIBTORCH pointing at a CUDA libtorch");
        var device = CUDA;
        var (nvrtcPath, nvrtcVersion) = Nvrtc.Describe();
        Console.WriteLine($"device {CudaDriver.DeviceName(0)}, sm_{CudaDriver.ComputeCapability(0).Major}{CudaDriver.ComputeCapability(0).Minor}, NVRTC {nvrtcVersion} ({nvrtcPath}), cache {CudaModules.CacheDirectory}");
        var dtypes = settings.Dtypes.Split(',').Select(ParseDtype).ToArray();
        bool ok = true;
        if (settings.Roofline) Roofline(device);
        if (settings.Resources)
            foreach (var dtype in dtypes)
                Console.WriteLine($"resources {dtype} D=16 Dv=64:\n{CudaFused.ResourceReport(0, dtype, PolynomialKernel.Rebased, 16, 64)}");
        if (settings.Check) ok &= Check(device, dtypes, settings.FullGrid);
        if (settings.Bench)
            foreach (var dtype in dtypes)
                foreach (var t in new long[] { 2048, 8192 })
                    foreach (var kernel in new[] { PolynomialKernel.Rebased, PolynomialKernel.Based })
                        Time(device, dtype, new LinearAttentionCase(8, 16, t, 16, 64, kernel), withNaive: t <= 2048);
        if (settings.ModelShapes)
            foreach (var b in new long[] { 64, 512 })
                foreach (var t in new long[] { 512, 2048 })
                    foreach (var dv in new long[] { 5, 21, 42 })
                        Time(device, ScalarType.Float32, new LinearAttentionCase(b, 12, t, 16, dv, PolynomialKernel.Rebased), withNaive: b * 12 * t * t <= 1L << 30);
        return ok ? ExitCodes.Ok : ExitCodes.Failure;
    }

    private static ScalarType ParseDtype(string name) => name switch
    {
        "fp32" => ScalarType.Float32,
        "bf16" => ScalarType.BFloat16,
        "fp16" => ScalarType.Float16,
        _ => throw new UserError($"unknown dtype '{name}' (fp32, bf16, fp16)"),
    };

    private static bool Check(Device device, ScalarType[] dtypes, bool fullGrid)
    {
        var cases = new List<LinearAttentionCase>(LinearAttentionCheck.CoveringCases);
        if (fullGrid)
            foreach (var t in new long[] { 1, 7, 64, 333, 1000, 2048 })
                foreach (var d in new long[] { 4, 16, 32, 128 })
                    foreach (var dv in new long[] { 1, 5, 42, 64, 256 })
                        foreach (var kernel in new[] { PolynomialKernel.Rebased, PolynomialKernel.Based })
                            cases.Add(new LinearAttentionCase(1, 2, t, d, dv, kernel));
        bool ok = true;
        int passed = 0, total = 0;
        var form = new CudaFused();
        foreach (var dtype in dtypes)
        {
            double worst = 0;
            for (int i = 0; i < cases.Count; i++)
            {
                var r = LinearAttentionCheck.Run(form, cases[i], device, dtype, seed: 77 + i);
                total++;
                worst = Math.Max(worst, r.Worst);
                if (r.Passed) passed++;
                else ok = false;
                if (!r.Passed || i < LinearAttentionCheck.CoveringCases.Count)
                    Console.WriteLine($"check {dtype} {cases[i]}: y {r.Y:E2} dq {r.Dq:E2} dk {r.Dk:E2} dv {r.Dv:E2} {(r.Passed ? "ok" : "FAIL")}");
                if (!r.Passed)
                {
                    var n = LinearAttentionCheck.Run(new Naive(), cases[i], device, dtype, seed: 77 + i);
                    Console.WriteLine($"  naive in {dtype} on the same inputs: y {n.Y:E2} dq {n.Dq:E2} dk {n.Dk:E2} dv {n.Dv:E2} {(n.Passed ? "ok" : "FAIL")}");
                }
            }
            Console.WriteLine($"check {dtype}: worst relative error {worst:E2} over {cases.Count} cases");
        }
        Console.WriteLine($"check: {passed}/{total} passed");
        return ok;
    }

    private static void Time(Device device, ScalarType dtype, LinearAttentionCase c, bool withNaive)
    {
        using var scope = NewDisposeScope();
        var q = randn([c.B, c.H, c.T, c.D], dtype, device);
        var k = randn([c.B, c.H, c.T, c.D], dtype, device);
        var v = randn([c.B, c.H, c.T, c.Dv], dtype, device);
        var g = randn([c.B, c.H, c.T, c.Dv], dtype, device);
        double flops = c.B * c.H * (double)c.T * c.T;
        var forms = new List<ILinearAttention> { new CudaFused() };
        if (withNaive) forms.Add(new Naive());
        var line = $"time {dtype} {c}:";
        foreach (var form in forms)
        {
            double fwd = Median(() => { using var s = NewDisposeScope(); form.Forward(q, k, v, c.Kernel, c.Scale, c.Eps); });
            double both = Median(() =>
            {
                using var s = NewDisposeScope();
                var (ql, kl, vl) = (q.detach().requires_grad_(), k.detach().requires_grad_(), v.detach().requires_grad_());
                form.Forward(ql, kl, vl, c.Kernel, c.Scale, c.Eps).backward([g]);
            });
            line += $" {form.Name} fwd {fwd:F3} ms ({flops * (c.D + c.Dv) / fwd / 1e9:F1} TF) fwd+bwd {both:F3} ms ({flops * (4 * c.D + 3 * c.Dv) / both / 1e9:F1} TF);";
        }
        Console.WriteLine(line);
    }

    private static double Median(Action run)
    {
        for (int i = 0; i < 3; i++) run();
        cuda.synchronize();
        Collect();
        var times = new List<double>();
        var total = Stopwatch.StartNew();
        while (times.Count < 5 || (times.Count < 50 && total.Elapsed.TotalSeconds < 1.5))
        {
            var sw = Stopwatch.StartNew();
            run();
            cuda.synchronize();
            times.Add(sw.Elapsed.TotalMilliseconds);
            Collect();
        }
        times.Sort();
        return times[times.Count / 2];
    }

    /// <summary>Releases tensors held only by finalizers (autograd contexts), outside the timed region.</summary>
    private static void Collect()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
    }

    private static void Roofline(Device device)
    {
        using var scope = NewDisposeScope();
        var a = randn([1L << 28], ScalarType.Float32, device);
        var b = empty_like(a);
        double copy = Median(() => b.copy_(a));
        Console.WriteLine($"roofline copy: {2.0 * a.numel() * 4 / copy / 1e9:F2} TB/s (1 GiB read + 1 GiB written in {copy:F3} ms)");
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
        {
            var x = randn([8192, 8192], dtype, device);
            var y = randn([8192, 8192], dtype, device);
            double ms = Median(() => { using var s = NewDisposeScope(); matmul(x, y); });
            Console.WriteLine($"roofline matmul {dtype}: {2.0 * 8192 * 8192 * 8192 / ms / 1e9:F1} TFLOP/s (8192³ in {ms:F3} ms)");
        }
    }
}
