using System.Diagnostics;
using Rebased.Kernels.Scan;
using Rebased.Native;
using static TorchSharp.torch;

namespace Rebased.Bench;

/// <summary>
/// Forward + backward time of each WKV and selective-scan form on the same inputs, side by side, with the ratio
/// to the recurrent (reference) form. Options: --batch B, --length T, --channels C (WKV; d_inner for the scan),
/// --repeats N, --device cpu|cuda.
/// </summary>
internal static class ScanBench
{
    public static int Run(string[] args)
    {
        var options = new Dictionary<string, string>();
        for (int i = 0; i + 1 < args.Length; i += 2) options[args[i].TrimStart('-')] = args[i + 1];
        int Option(string name, int fallback) => options.TryGetValue(name, out var s) ? int.Parse(s) : fallback;
        int batch = Option("batch", 4), length = Option("length", 256), channels = Option("channels", 128), repeats = Option("repeats", 3);
        TorchRuntime.EnsureLoaded();
        var device = new Device(options.GetValueOrDefault("device", "cpu"));
        manual_seed(0);

        Tensor Leaf(Tensor t) => t.to(device).requires_grad_(true);
        var decay = Leaf(randn(channels));
        var first = Leaf(randn(channels));
        var k = Leaf(randn(batch, length, channels));
        var v = Leaf(randn(batch, length, channels));
        Console.WriteLine($"WKV, B={batch} T={length} C={channels}, {device.type}: forward + backward");
        Report(WkvForms.All.Select(f => (f.Name, (Action)(() => f.Forward(decay, first, k, v).sum().backward()))), repeats, device);

        const int states = 16;
        var u = Leaf(randn(batch, channels, length));
        var delta = Leaf(randn(batch, channels, length));
        var a = Leaf(-rand(channels, states) * states);
        var b = Leaf(randn(batch, states, length));
        var c = Leaf(randn(batch, states, length));
        Console.WriteLine($"selective scan, B={batch} D={channels} N={states} L={length}, {device.type}: forward + backward");
        Report(SelectiveScanForms.All.Select(f => (f.Name, (Action)(() => f.Forward(u, delta, a, b, c, deltaSoftplus: true).sum().backward()))), repeats, device);
        return 0;
    }

    private static void Report(IEnumerable<(string Name, Action Step)> forms, int repeats, Device device)
    {
        var times = new List<(string Name, double Ms)>();
        foreach (var (name, step) in forms)
        {
            void Once()
            {
                using var scope = NewDisposeScope();
                step();
                if (device.type == TorchSharp.DeviceType.CUDA) cuda.synchronize();
            }
            Once();
            var watch = Stopwatch.StartNew();
            for (int i = 0; i < repeats; i++) Once();
            times.Add((name, watch.Elapsed.TotalMilliseconds / repeats));
        }
        double reference = times.First(t => t.Name == "recurrent").Ms;
        foreach (var (name, ms) in times) Console.WriteLine($"  {name,-10} {ms,10:F1} ms   {reference / ms,6:F1}x recurrent");
    }
}
