using System.Text.Json;
using System.Text.Json.Nodes;
using Rebased.Kernels;
using Rebased.Kernels.DeltaRule;
using Rebased.Kernels.Gla;
using Rebased.Kernels.LinearAttention;
using Rebased.Native;
using Rebased.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Rebased.Cli.Commands;

/// <summary>
/// `rebased bench kernels`: times every form of an op family (linear attention by default; gla, delta) that supports
/// the device and dtype, or checks them.
/// </summary>
public sealed class BenchKernelsCommand : Command<BenchKernelsCommand.Settings>
{
    public sealed class Settings : BenchDeviceSettings
    {
        [CommandOption("--dtype <DTYPE>")]
        [Description("fp32, bf16 or fp16 (default fp32); fp64 too with --family gla or delta")]
        [DefaultValue("fp32")]
        public string Dtype { get; init; } = "fp32";

        [CommandOption("--family <FAMILY>")]
        [Description("linear (polynomial linear attention), gla (gated linear attention) or delta (delta rule) (default linear)")]
        [DefaultValue("linear")]
        public string Family { get; init; } = "linear";

        [CommandOption("--kernel <KERNEL>")]
        [Description("linear family: rebased (x²) or based (1 + x + x²/2) (default rebased)")]
        [DefaultValue("rebased")]
        public string Kernel { get; init; } = "rebased";

        [CommandOption("--shape <B,H,T,D,Dv>")]
        [Description("run this one shape instead of the default sweep over T (for gla and delta: B,H,T,Dk,Dv)")]
        public string? Shape { get; init; }

        [CommandOption("--json <FILE>")]
        [Description("also write the rows as a JSON array")]
        public string? Json { get; init; }

        [CommandOption("--seconds <SECONDS>")]
        [Description("time budget per form and measurement, after at least 5 interleaved runs (default 1)")]
        [DefaultValue(1.0)]
        public double Seconds { get; init; } = 1.0;

        [CommandOption("--back-to-back <N>")]
        [OptionRange(1)]
        [Description("runs per timing with no device synchronisation between them, the time being their mean: 1 (default) times one run's latency, launch and synchronisation included; more times the device's throughput, as CUDA-event timers of queued runs (FLA's do_bench) do")]
        [DefaultValue(1)]
        public int BackToBack { get; init; } = 1;

        [CommandOption("--forms <NAMES>")]
        [Description("comma-separated forms to run (default: every form that supports the device and dtype)")]
        public string? Forms { get; init; }

        [CommandOption("--check")]
        [Description("instead of timing, check every form against a float64 reference (linear: the quadratic form, both kernels; gla, delta: the recurrence; a covering set of shapes); exit 1 on any failure")]
        public bool Check { get; init; }

        public override ValidationResult Validate()
        {
            if (base.Validate() is { Successful: false } device) return device;
            if (Dtype is not ("fp32" or "bf16" or "fp16" or "fp64")) return ValidationResult.Error($"--dtype '{Dtype}' must be fp32, bf16 or fp16 (or fp64 with --family gla or delta)");
            if (Dtype == "fp64" && Family == "linear") return ValidationResult.Error("--dtype fp64 is for --family gla or delta");
            if (Family is not ("linear" or "gla" or "delta")) return ValidationResult.Error($"--family '{Family}' must be linear, gla or delta");
            if (Kernel is not ("rebased" or "based")) return ValidationResult.Error($"--kernel '{Kernel}' must be rebased or based");
            if (Seconds <= 0) return ValidationResult.Error($"--seconds {Seconds} must be positive");
            return ValidationResult.Success();
        }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellation)
    {
        TorchRuntime.EnsureLoaded();
        var device = Devices.Parse(settings.Device);
        var dtype = settings.Dtype switch { "bf16" => ScalarType.BFloat16, "fp16" => ScalarType.Float16, "fp64" => ScalarType.Float64, _ => ScalarType.Float32 };
        if (settings.Family == "gla")
            return RunFamily(GlaForms.Registry, GlaCheck.CoveringCases, (f, c, seed) => GlaCheck.Run(f, c, device, dtype, seed),
                GlaBenchmark.Measure, device, dtype, settings, cancellation);
        if (settings.Family == "delta")
            return RunFamily(DeltaRuleForms.Registry, DeltaRuleCheck.CoveringCases, (f, c, seed) => DeltaRuleCheck.Run(f, c, device, dtype, seed),
                DeltaRuleBenchmark.Measure, device, dtype, settings, cancellation);
        var forms = LinearAttentionForms.Supporting(device, dtype).ToList();
        if (settings.Forms != null)
        {
            var wanted = settings.Forms.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            foreach (var name in wanted) LinearAttentionForms.Get(name, device, dtype);
            forms = forms.Where(f => wanted.Contains(f.Name)).ToList();
        }
        return settings.Check ? RunChecks(forms, device, dtype, settings) : RunTimings(forms, device, dtype, settings, cancellation);
    }

    private static int RunChecks(List<ILinearAttention> forms, Device device, ScalarType dtype, Settings settings)
    {
        Console.WriteLine($"correctness on {device.type} {settings.Dtype}: error ‖ours − ref‖/max(‖ref‖, its inputs' scale) against the quadratic form in float64, tolerance {LinearAttentionCheck.Tolerance(dtype):E0}");
        Console.WriteLine($"  {"form",-10} {"case",-40} {"y",9} {"dq",9} {"dk",9} {"dv",9}  result");
        bool allPassed = true;
        int index = 0;
        foreach (var c in LinearAttentionCheck.CoveringCases)
        {
            foreach (var form in forms)
            {
                var r = LinearAttentionCheck.Run(form, c, device, dtype, seed: 1000 + index);
                allPassed &= r.Passed;
                string result = r.Skipped != null ? $"skipped ({r.Skipped})" : r.Passed ? "pass" : "FAIL";
                Console.WriteLine($"  {form.Name,-10} {c,-40} {Error(r.Y),9} {Error(r.Dq),9} {Error(r.Dk),9} {Error(r.Dv),9}  {result}");
            }
            index++;
        }
        Console.WriteLine(allPassed ? "all checks passed" : "some checks failed");
        return allPassed ? ExitCodes.Ok : ExitCodes.Failure;
    }

    /// <summary>--check or timings for a family with a recurrent reference (gla, delta).</summary>
    private static int RunFamily<TForm, TCase>(KernelForms<TForm> registry, IReadOnlyList<TCase> cases, Func<TForm, TCase, long, FormCheckResult> check,
        Func<IReadOnlyList<TForm>, KeyValueShape, Device, ScalarType, TimeSpan, int, List<FormTiming>> measure,
        Device device, ScalarType dtype, Settings settings, CancellationToken cancellation) where TForm : IKernelForm
    {
        var forms = registry.Supporting(device, dtype).ToList();
        if (settings.Forms != null)
        {
            var wanted = settings.Forms.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            foreach (var name in wanted) registry.Get(name, device, dtype);
            forms = forms.Where(f => wanted.Contains(f.Name)).ToList();
        }
        if (settings.Check)
        {
            Console.WriteLine($"{registry.Family} on {device.type} {settings.Dtype}: relative error ‖ours − ref‖/‖ref‖ against the recurrence in float64, tolerance {FormCheck.Tolerance(dtype):E0}");
            bool allPassed = true;
            for (int i = 0; i < cases.Count; i++)
                foreach (var form in forms)
                {
                    var r = check(form, cases[i], 2000 + i);
                    allPassed &= r.Passed;
                    Console.WriteLine($"  {form.Name,-10} {r.Case,-44} {string.Join(" ", r.Errors.Select(e => $"{e.Quantity} {Error(e.Error)}"))}  {(r.Passed ? "pass" : "FAIL")}");
                }
            Console.WriteLine(allPassed ? "all checks passed" : "some checks failed");
            return allPassed ? ExitCodes.Ok : ExitCodes.Failure;
        }
        var shapes = settings.Shape != null
            ? [KeyValueShape.Parse(settings.Shape)]
            : device.type == DeviceType.CUDA
                ? new long[] { 512, 1024, 2048, 4096, 8192 }.Select(t => new KeyValueShape(8, 4, t, 64, 64)).ToList()
                : new long[] { 256, 512, 1024 }.Select(t => new KeyValueShape(1, 4, t, 32, 32)).ToList();
        Console.WriteLine($"{registry.Family} on {device.type} {settings.Dtype}, {Environment.ProcessorCount} cores, libtorch threads {get_num_threads()}; {TimingNote(settings.BackToBack)}");
        var rows = new JsonArray();
        foreach (var shape in shapes)
        {
            cancellation.ThrowIfCancellationRequested();
            Console.WriteLine(shape);
            Console.WriteLine($"  {"form",-10} {"fwd ms",10} {"fwd+bwd ms",11}  note");
            foreach (var t in measure(forms, shape, device, dtype, TimeSpan.FromSeconds(settings.Seconds), settings.BackToBack))
            {
                Console.WriteLine($"  {t.Form,-10} {Ms(t.ForwardMs),10} {Ms(t.ForwardBackwardMs),11}  {t.Note}");
                if (t.ForwardMs is null && t.ForwardBackwardMs is null) continue;
                rows.Add(new JsonObject
                {
                    ["device"] = settings.Device, ["dtype"] = settings.Dtype, ["family"] = settings.Family, ["form"] = t.Form,
                    ["B"] = shape.B, ["H"] = shape.H, ["T"] = shape.T, ["Dk"] = shape.Dk, ["Dv"] = shape.Dv,
                    ["fwd_ms"] = t.ForwardMs, ["fwdbwd_ms"] = t.ForwardBackwardMs, ["back_to_back"] = settings.BackToBack,
                });
            }
        }
        WriteJson(rows, settings.Json);
        return ExitCodes.Ok;
    }

    private static void WriteJson(JsonArray rows, string? path)
    {
        if (path == null) return;
        File.WriteAllText(path, rows.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        AnsiConsole.MarkupLine($"wrote {rows.Count} rows to {Markup.Escape(path)}");
    }

    private static string Error(double e) => double.IsNaN(e) ? "-" : e.ToString("E2");

    private static int RunTimings(List<ILinearAttention> forms, Device device, ScalarType dtype, Settings settings, CancellationToken cancellation)
    {
        var kernel = settings.Kernel == "based" ? PolynomialKernel.Based : PolynomialKernel.Rebased;
        var shapes = settings.Shape != null
            ? [LinearAttentionShape.Parse(settings.Shape)]
            : device.type == DeviceType.CUDA
                ? new long[] { 512, 1024, 2048, 4096, 8192 }.Select(t => new LinearAttentionShape(8, 16, t, 16, 64)).ToList()
                : new long[] { 256, 512, 1024, 2048 }.Select(t => new LinearAttentionShape(1, 12, t, 16, 42)).ToList();
        AnsiConsole.MarkupLine($"linear attention ({settings.Kernel}) on {device.type} {settings.Dtype}, {Environment.ProcessorCount} cores, libtorch threads {get_num_threads()}; " +
            $"{TimingNote(settings.BackToBack)}; TFLOP/s on fwd = B·H·T²·(D+Dv), bwd = B·H·T²·(3D+2Dv); speed-up = naive time / form time");
        var rows = new JsonArray();
        foreach (var shape in shapes)
        {
            cancellation.ThrowIfCancellationRequested();
            var timings = LinearAttentionBenchmark.Measure(forms, shape, kernel, device, dtype, TimeSpan.FromSeconds(settings.Seconds), settings.BackToBack);
            var naive = timings.Find(t => t.Form == "naive");
            AnsiConsole.MarkupLine($"B={shape.B} H={shape.H} T={shape.T} D={shape.D} Dv={shape.Dv}");
            Console.WriteLine($"  {"form",-10} {"fwd ms",10} {"fwd+bwd ms",11} {"TFLOP/s",9} {"fwd vs naive",13} {"f+b vs naive",13}  note");
            foreach (var t in timings)
            {
                Console.WriteLine($"  {t.Form,-10} {Ms(t.ForwardMs),10} {Ms(t.ForwardBackwardMs),11} {(t.TflopsForwardBackward is { } tf ? tf.ToString("F4") : "-"),9} " +
                    $"{Ratio(naive?.ForwardMs, t.ForwardMs),13} {Ratio(naive?.ForwardBackwardMs, t.ForwardBackwardMs),13}  {t.Note}");
                if (t.ForwardMs is null && t.ForwardBackwardMs is null) continue;
                rows.Add(new JsonObject
                {
                    ["device"] = settings.Device, ["dtype"] = settings.Dtype, ["kernel"] = settings.Kernel, ["form"] = t.Form,
                    ["B"] = shape.B, ["H"] = shape.H, ["T"] = shape.T, ["D"] = shape.D, ["Dv"] = shape.Dv,
                    ["fwd_ms"] = t.ForwardMs, ["fwdbwd_ms"] = t.ForwardBackwardMs, ["tflops_fwdbwd"] = t.TflopsForwardBackward,
                    ["back_to_back"] = settings.BackToBack,
                });
            }
        }
        WriteJson(rows, settings.Json);
        return ExitCodes.Ok;
    }

    private static string TimingNote(int backToBack) => backToBack == 1
        ? "median ms of interleaved runs, each synchronised"
        : $"median ms of interleaved timings, each the mean of {backToBack} back-to-back runs";

    private static string Ms(double? ms) => ms is { } x ? x.ToString(x < 10 ? "F3" : "F1") : "-";

    private static string Ratio(double? naive, double? form) => naive is { } n && form is { } f ? $"{n / f:F2}x" : "-";
}
