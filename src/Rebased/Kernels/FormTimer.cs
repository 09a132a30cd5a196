using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Rebased.Kernels;

/// <summary>One problem size of a recurrent-state op: q, k [B, H, T, Dk], v [B, H, T, Dv] (the state is Dk×Dv per head).</summary>
public sealed record KeyValueShape(long B, long H, long T, long Dk, long Dv)
{
    public static KeyValueShape Parse(string text)
    {
        var parts = text.Split(',');
        if (parts.Length != 5 || parts.Any(p => !long.TryParse(p.Trim(), out long x) || x < 1))
            throw new UserError($"--shape '{text}' must be five positive integers B,H,T,Dk,Dv");
        var n = parts.Select(p => long.Parse(p.Trim())).ToArray();
        return new(n[0], n[1], n[2], n[3], n[4]);
    }

    public override string ToString() => $"B={B} H={H} T={T} Dk={Dk} Dv={Dv}";
}

/// <summary>Median times of one form; null times were skipped for the reason in Note.</summary>
public sealed record FormTiming(string Form, double? ForwardMs, double? ForwardBackwardMs, string? Note);

/// <summary>What to time for one form: the forward (no autograd) and forward+backward runs, either absent with a note.</summary>
public sealed record TimedForm(string Form, Action? Forward, Action? ForwardBackward, string? Note = null)
{
    /// <summary>
    /// <paramref name="forward"/> on <paramref name="inputs"/> without autograd, and on leaf copies of them with the
    /// backward of upstream gradient <paramref name="dy"/>; skipped with a note when it needs more than the budget.
    /// </summary>
    public static TimedForm OfForward(string form, long neededBytes, long budgetBytes, Func<Tensor[], Tensor> forward, Tensor[] inputs, Tensor dy)
    {
        if (neededBytes > budgetBytes) return new TimedForm(form, null, null, $"skipped: needs about {neededBytes >> 20} MiB");
        var leaves = inputs.Select(x => x.detach().requires_grad_()).ToArray();
        return new TimedForm(form,
            () =>
            {
                using var scope = NewDisposeScope();
                using var noGrad = no_grad();
                forward(inputs);
            },
            () =>
            {
                using var scope = NewDisposeScope();
                foreach (var leaf in leaves) leaf.grad = null;
                forward(leaves).backward([dy]);
            });
    }
}

/// <summary>
/// Times forms side by side, each measurement the median of repeated timings after two warm-up timings. Timings are
/// interleaved round by round, so that load from other processes on a shared machine affects every form alike. A
/// timing is the mean of <c>backToBack</c> runs with the device synchronised only around them all: 1 gives one run's
/// latency (host launch and synchronisation included), more gives the device's throughput, as CUDA-event timers of
/// many queued runs (Triton's do_bench) measure it.
/// </summary>
public static class FormTimer
{
    public const int MinRuns = 5;
    public const int MaxRuns = 50;

    /// <summary>Rounds continue until every measurement has MinRuns runs and its budget is spent (or MaxRuns); one whose warm-up alone exceeds the budget gets 3.</summary>
    public static List<FormTiming> Measure(IReadOnlyList<TimedForm> forms, Device device, TimeSpan budget, int backToBack = 1)
    {
        if (backToBack < 1) throw new ArgumentOutOfRangeException(nameof(backToBack), backToBack, "runs per timing must be at least 1");
        var notes = forms.ToDictionary(f => f.Form, f => f.Note);
        var runs = forms.SelectMany(f => new[] { (Key: (f.Form, Kind: 0), Run: f.Forward), (Key: (f.Form, Kind: 1), Run: f.ForwardBackward) })
            .Where(r => r.Run is not null).Select(r => (r.Key, Run: r.Run!)).ToList();
        var times = new Dictionary<(string, int), List<double>>();
        var minRuns = new Dictionary<(string, int), int>();
        foreach (var (key, run) in runs.ToList())
        {
            try
            {
                double first = Timed(device, run, backToBack);
                if (first < budget.TotalMilliseconds) Timed(device, run, backToBack);
                minRuns[key] = first > budget.TotalMilliseconds ? 3 : MinRuns;
                times[key] = [];
            }
            catch (Exception e) when (e is OutOfMemoryException or ExternalException or InvalidOperationException)
            {
                notes[key.Form] = $"{(key.Kind == 0 ? "" : "fwd+bwd ")}skipped: {e.Message.Split('\n')[0]}";
                runs.RemoveAll(r => r.Key == key);
            }
        }
        bool Needs((string, int) key) =>
            times[key].Count < minRuns[key] || (times[key].Count < MaxRuns && times[key].Sum() < budget.TotalMilliseconds);
        while (runs.Any(r => Needs(r.Key)))
            foreach (var (key, run) in runs)
                if (Needs(key)) times[key].Add(Timed(device, run, backToBack));
        double? Median((string, int) key) => times.TryGetValue(key, out var t) ? MedianOf(t) : null;
        return forms.Select(f => new FormTiming(f.Form, Median((f.Form, 0)), Median((f.Form, 1)), notes[f.Form])).ToList();
    }

    private static double Timed(Device device, Action run, int backToBack)
    {
        Synchronize(device);
        var watch = Stopwatch.StartNew();
        for (int i = 0; i < backToBack; i++) run();
        Synchronize(device);
        double ms = watch.Elapsed.TotalMilliseconds / backToBack;
        if (device.type == DeviceType.CUDA)
        {
            // Lets the finalizers release what earlier runs' autograd graphs hold, outside the timed region.
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
        return ms;
    }

    private static double MedianOf(List<double> times)
    {
        times.Sort();
        return times.Count % 2 == 1 ? times[times.Count / 2] : 0.5 * (times[times.Count / 2 - 1] + times[times.Count / 2]);
    }

    private static void Synchronize(Device device)
    {
        if (device.type == DeviceType.CUDA) cuda.synchronize(device);
    }
}
