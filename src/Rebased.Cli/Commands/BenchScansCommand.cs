using System.Diagnostics;
using Rebased.Kernels;
using Rebased.Kernels.Scan;
using Rebased.Native;
using Rebased.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Rebased.Cli.Commands;

/// <summary>
/// `rebased bench scans`: forward and forward + backward time of every WKV and selective-scan form that runs on
/// the device (float32), side by side on the same inputs, with the speed-up over the recurrent (reference) form;
/// with --check, each form's output and every gradient against the recurrent form in float64 instead.
/// </summary>
public sealed class BenchScansCommand : Command<BenchScansCommand.Settings>
{
    public sealed class Settings : BenchDeviceSettings
    {
        [CommandOption("--check")]
        [Description("check outputs and all gradients against the recurrent form in float64 (covering shapes plus the given one); exit 1 on failure")]
        public bool Check { get; init; }

        [CommandOption("--batch <B>")]
        [OptionRange(1)]
        [Description("batch size (default 4)")]
        [DefaultValue(4)]
        public int Batch { get; init; } = 4;

        [CommandOption("--length <L>")]
        [OptionRange(1)]
        [Description("sequence length (default 256)")]
        [DefaultValue(256)]
        public int Length { get; init; } = 256;

        [CommandOption("--channels <C>")]
        [OptionRange(1)]
        [Description("model width d_model: WKV runs on C channels, the selective scan on Mamba's d_inner = 2·C (default 64)")]
        [DefaultValue(64)]
        public int Channels { get; init; } = 64;

        [CommandOption("--states <N>")]
        [OptionRange(1)]
        [Description("selective-scan state size (default 16)")]
        [DefaultValue(16)]
        public int States { get; init; } = 16;

        [CommandOption("--repeats <N>")]
        [OptionRange(1)]
        [Description("timed runs per form and measurement after one warm-up; the median is shown (default 5)")]
        [DefaultValue(5)]
        public int Repeats { get; init; } = 5;

        [CommandOption("--forms <NAMES>")]
        [Description("comma-separated forms to run (default: every form that runs on the device)")]
        public string? Forms { get; init; }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellation)
    {
        TorchRuntime.EnsureLoaded();
        var device = Devices.Parse(settings.Device);
        var wanted = settings.Forms?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var wkvForms = WkvForms.Supporting(device, ScalarType.Float32).Where(f => wanted is null || wanted.Contains(f.Name)).ToList();
        var scanForms = SelectiveScanForms.Supporting(device, ScalarType.Float32).Where(f => wanted is null || wanted.Contains(f.Name)).ToList();
        if (wanted != null && wkvForms.Count + scanForms.Count == 0)
            throw new UserError($"--forms '{settings.Forms}': no such form runs on {device.type} (forms: {string.Join(", ", WkvForms.Registry.Names)})");
        if (device.type == DeviceType.CUDA) Console.WriteLine($"device {CudaDriver.DeviceName(0)}, NVRTC cache {CudaModules.CacheDirectory}");
        var shape = new ScanCase(settings.Batch, settings.Length, settings.Channels, settings.States);
        return settings.Check
            ? RunChecks(wkvForms, scanForms, device, shape) ? ExitCodes.Ok : ExitCodes.Failure
            : RunTimings(wkvForms, scanForms, device, shape, settings.Repeats, cancellation);
    }

    private static bool RunChecks(List<IWkv> wkvForms, List<ISelectiveScan> scanForms, Device device, ScanCase given)
    {
        Console.WriteLine($"correctness on {device.type} float32: relative error ‖form − ref‖/‖ref‖ against the recurrent form in float64; " +
            $"tolerance {ScanCheck.Tolerance:E0} (bf16-rounded WKV: {ScanCheck.Bf16RoundedTolerance:E0})");
        bool ok = true;
        int seed = 100;
        foreach (var c in ScanCheck.CoveringCases.Append(given))
        {
            seed++;
            Console.WriteLine(c);
            foreach (var form in wkvForms) ok &= Report("wkv", ScanCheck.Wkv(form, c, device, seed));
            foreach (var form in wkvForms.Where(f => f.Name == "cuda" || (device.type == DeviceType.CPU && f.Name == "parallel")))
                ok &= Report("wkv", ScanCheck.Wkv(new Bf16RoundedWkv(form), c, device, seed, ScanCheck.Bf16RoundedTolerance));
            if (!c.SelectiveScanFitsTheReference) continue;
            foreach (var form in scanForms) ok &= Report("selective scan", ScanCheck.SelectiveScan(form, c, device, seed));
            foreach (var form in scanForms) ok &= Report("scan, plain", ScanCheck.SelectiveScan(form, c, device, seed, plain: true));
        }
        Console.WriteLine(ok ? "all checks passed" : "some checks FAILED");
        return ok;
    }

    private static bool Report(string op, FormCheckResult result)
    {
        Console.WriteLine($"  {op,-15} {result.Form,-14} {string.Join("  ", result.Errors.Select(e => $"{e.Quantity} {e.Error:E1}"))}  {(result.Passed ? "pass" : "FAIL")}");
        return result.Passed;
    }

    private static int RunTimings(List<IWkv> wkvForms, List<ISelectiveScan> scanForms, Device device, ScanCase shape, int repeats, CancellationToken cancellation)
    {
        Console.WriteLine($"{device.type} float32, {shape}; median of {repeats} runs after a warm-up; speed-up = recurrent form's time / form's time");
        static Tensor[] Leaves(Tensor[] x) => x.Select(t => t.to(ScalarType.Float32).detach().requires_grad_(true)).ToArray();
        var (wkvDrawn, wkvProbe) = ScanCheck.WkvInputs(shape, device, 1);
        var wkv = Leaves(wkvDrawn);
        Console.WriteLine($"WKV [B, T, C] = [{shape.Batch}, {shape.Length}, {shape.Channels}]");
        Report(wkvForms.Select(f => (f.Name, (Func<Tensor>)(() => ScanCheck.RunWkv(f, wkv)), wkv, wkvProbe.to(ScalarType.Float32))), repeats, device, cancellation);

        var (scanDrawn, scanProbe) = ScanCheck.SelectiveScanInputs(shape, device, 2);
        var scan = Leaves(scanDrawn);
        Console.WriteLine($"selective scan [B, D, L] = [{shape.Batch}, {2 * shape.Channels}, {shape.Length}], N={shape.States}, with D skip, z gate, Δ bias and softplus");
        Report(scanForms.Select(f => (f.Name, (Func<Tensor>)(() => ScanCheck.RunSelectiveScan(f, scan)), scan, scanProbe.to(ScalarType.Float32))), repeats, device, cancellation);
        return ExitCodes.Ok;
    }

    private static void Report(IEnumerable<(string Name, Func<Tensor> Forward, Tensor[] Inputs, Tensor Probe)> forms, int repeats, Device device, CancellationToken cancellation)
    {
        var rows = new List<(string Name, double Forward, double ForwardBackward)>();
        foreach (var (name, forward, inputs, probe) in forms)
        {
            cancellation.ThrowIfCancellationRequested();
            double Time(bool backward)
            {
                var times = new List<double>();
                for (int i = 0; i <= repeats; i++)
                {
                    using var scope = NewDisposeScope();
                    if (device.type == DeviceType.CUDA) cuda.synchronize();
                    var watch = Stopwatch.StartNew();
                    var y = forward();
                    if (backward) autograd.grad([(y * probe).sum()], inputs);
                    if (device.type == DeviceType.CUDA) cuda.synchronize();
                    if (i > 0) times.Add(watch.Elapsed.TotalMilliseconds);
                }
                times.Sort();
                return times[times.Count / 2];
            }
            rows.Add((name, Time(false), Time(true)));
        }
        var reference = rows.FirstOrDefault(r => r.Name == "recurrent");
        Console.WriteLine($"  {"form",-10} {"fwd ms",10} {"fwd+bwd ms",11} {"fwd speed-up",13} {"f+b speed-up",13}");
        foreach (var (name, fwd, both) in rows)
        {
            string Ratio(double referenceMs, double ms) => reference.Name is null ? "-" : $"{referenceMs / ms:F1}x";
            Console.WriteLine($"  {name,-10} {fwd,10:F3} {both,11:F3} {Ratio(reference.Forward, fwd),13} {Ratio(reference.ForwardBackward, both),13}");
        }
    }
}
