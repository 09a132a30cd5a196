using Rebased.Experiments;

namespace Rebased.Cli.Commands;

/// <summary>Where runs execute: `--workers N` CPU processes, or `--devices a,b --runs-per-device M` on GPUs.</summary>
public class PlacementSettings : CommandSettings
{
    [CommandOption("--store <URL>")]
    [Description("Results store: a SQLite file (default runs/sweeps.db) or postgres://user:pass@host[[:port]]/db.")]
    public string? Store { get; init; }

    [CommandOption("--workers <N>")]
    [OptionRange(1)]
    [Description("Runs at once on this machine without --devices (default 1).")]
    public int? Workers { get; init; }

    [CommandOption("--devices <LIST>")]
    [Description("Comma-separated devices, e.g. cuda:0,cuda:1; each run gets --device.")]
    public string? Devices { get; init; }

    [CommandOption("--runs-per-device <M>")]
    [OptionRange(1)]
    [Description("Runs at once per device (default: CPU cores / (2 x devices), between 1 and 8).")]
    public int? RunsPerDevice { get; init; }

    [CommandOption("--lease-seconds <S>")]
    [OptionRange(4)]
    [Description("A run whose worker has not renewed its lease for this long is claimed again (default 120).")]
    public int LeaseSeconds { get; init; } = 120;

    public override Spectre.Console.ValidationResult Validate()
    {
        if (Devices is not null && Workers is not null) return Spectre.Console.ValidationResult.Error("give either --workers or --devices with --runs-per-device, not both");
        if (Devices is null && RunsPerDevice is not null) return Spectre.Console.ValidationResult.Error("--runs-per-device needs --devices");
        return base.Validate();
    }

    public IReadOnlyList<string> DeviceList() =>
        Devices?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [];

    /// <summary>A --devices entry that this host does not have is an error before any run starts.</summary>
    public void CheckDevices()
    {
        foreach (var name in DeviceList())
            if (Training.Devices.TryParse(name, out _) is { } problem) throw new UserError($"--devices {Devices}: {name}: {problem}");
    }

    /// <summary>The default number of runs per GPU: small MQAR models leave a GPU mostly idle, so several share it,
    /// bounded by the CPU cores that feed them (two per run) and by 8, the best measured on an H200
    /// (docs/results/gpu-training.md: 2.8x the runs one after another, against 2.6x for 4).</summary>
    public static int DefaultRunsPerDevice(int devices, int? cores = null) =>
        Math.Clamp((cores ?? Environment.ProcessorCount) / (2 * Math.Max(1, devices)), 1, 8);

    public int EffectiveRunsPerDevice => RunsPerDevice ?? DefaultRunsPerDevice(DeviceList().Count);

    /// <summary>One device entry per concurrent run.</summary>
    public IReadOnlyList<string?> Slots()
    {
        var devices = DeviceList();
        if (devices.Count == 0) return Enumerable.Repeat<string?>(null, Workers ?? 1).ToList();
        return Enumerable.Range(0, EffectiveRunsPerDevice).SelectMany(_ => devices).Select(d => (string?)d).ToList();
    }

    public ExecutorOptions ExecutorOptions(string? sweep, IReadOnlyCollection<string>? shownKeys)
    {
        var slots = Slots();
        return new ExecutorOptions
        {
            Slots = slots,
            Sweep = sweep,
            Lease = TimeSpan.FromSeconds(LeaseSeconds),
            ThreadsPerRun = Math.Max(1, Environment.ProcessorCount / slots.Count),
            ShownKeys = shownKeys,
            Log = line => Console.WriteLine($"[{DateTime.Now:HH:mm:ss}] {line}"),
        };
    }
}

/// <summary>Runs an executor until it is done or Ctrl-C / SIGTERM stops it (children stopped, runs given back).</summary>
public static class SweepRunner
{
    public static ExecutorSummary Run(RunStore store, ExecutorOptions options, CancellationToken external)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(external);
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; stop.Cancel(); };
        Console.CancelKeyPress += onCancel;
        using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(
            System.Runtime.InteropServices.PosixSignal.SIGTERM, ctx => { ctx.Cancel = true; stop.Cancel(); });
        try
        {
            var executor = new SweepExecutor(store, TrainerCommand.FromEnvironmentOrSelf(), options);
            return executor.RunAsync(stop.Token).GetAwaiter().GetResult();
        }
        finally { Console.CancelKeyPress -= onCancel; }
    }
}
