using System.Globalization;
using System.Runtime.InteropServices;
using Rebased.Configs;
using Rebased.Experiments;
using Rebased.Models;
using Rebased.Native;
using Rebased.Training;
using TorchSharp;

namespace Rebased.Cli.Commands;

public sealed class TrainCommand : Command<TrainCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--config <FILE>")]
        [Description("Run config (the reference's YAML schema), e.g. configs/simple_mqar.yaml.")]
        public string? Config { get; init; }

        [CommandOption("--set <KEY=VALUE>")]
        [Description("Override a config value by dotted path, as W&B sweeps do (repeatable): --set model.d_model=64.")]
        public string[] Set { get; init; } = Array.Empty<string>();

        [CommandOption("--device <DEVICE>")]
        [Description("cpu, cuda or cuda:N (default: the config's device, cpu).")]
        public string? Device { get; init; }

        [CommandOption("--run-dir <DIR>")]
        [Description("Run directory (default runs/<run_id>-<config hash>/).")]
        public string? RunDir { get; init; }

        [CommandOption("--resume <DIR>")]
        [Description("Continue the run in DIR from its last checkpoint.")]
        public string? Resume { get; init; }

        [CommandOption("--new-run")]
        [Description("Train another run of a config that was trained before, in runs/<run_id>-<config hash>-2/ (-3, ...).")]
        public bool NewRun { get; init; }

        [CommandOption("--threads <N>")]
        [ThreadsRange]
        [Description("CPU threads for libtorch, 1 to 4 x the CPU cores (default: libtorch's choice).")]
        public int? Threads { get; init; }

        public override ValidationResult Validate()
        {
            if (Config is null == Resume is null) return ValidationResult.Error("give either --config FILE or --resume RUN_DIR");
            if (Resume is not null && (Set.Length > 0 || RunDir is not null || NewRun)) return ValidationResult.Error("--resume continues a run as configured: --set, --run-dir and --new-run do not apply");
            if (NewRun && RunDir is not null) return ValidationResult.Error("--new-run picks a new default run directory: leave out --run-dir (a new --run-dir is a new run already)");
            return ValidationResult.Success();
        }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellation)
    {
        CpuThreading.PreferPassiveWaiting();
        CpuThreading.KeepFreedMemory();
        TorchRuntime.EnsureLoaded();
        if (settings.Threads is { } threads) torch.set_num_threads(threads);

        RunDirectory run;
        RunConfig config;
        RunLock trainerLock;
        if (settings.Resume is { } resumeDir)
        {
            (run, config) = RunDirectory.Open(resumeDir);
            trainerLock = RunLock.Acquire(run.Path);
            foreach (var note in run.RecoverCheckpoints()) Console.WriteLine($"note: {note}");
            if (run.TryReadSummary() is { Status: "finished" } done)
            {
                trainerLock.Dispose();
                Console.WriteLine($"{run.Path}: already finished ({done.StopReason} after {done.EpochsRun} epoch(s), best valid accuracy {done.BestAccuracy:F4}); nothing to resume");
                return ExitCodes.Ok;
            }
            if (File.Exists(run.SummaryPath) && run.TryReadSummary() is null)
                Console.WriteLine($"note: {run.SummaryPath} is unreadable; it is written again from the checkpoint");
            if (settings.Device is { } d) config.Device = d;
            if (Directory.Exists(run.LastCheckpoint)) Console.WriteLine($"resuming {run.Path}");
            else
            {
                Console.WriteLine($"resuming {run.Path}: no checkpoint yet, starting from the beginning");
                run.TruncateMetrics(0);
            }
        }
        else
        {
            var loaded = ConfigLoader.Load(settings.Config!, settings.Set);
            if (settings.Device is { } d) loaded.Config.Device = d;
            var resolved = ConfigResolver.Resolve(loaded);
            foreach (var note in resolved.Notes) Console.WriteLine($"note: {note}");
            config = resolved.Config;
            MemoryEstimate.Check(config, Devices.Parse(config.Device));
            var path = RunDirectory.PathFor(config, settings.RunDir, settings.NewRun);
            trainerLock = RunLock.Acquire(path);
            run = RunDirectory.Create(config, path);
            Console.WriteLine($"run directory {run.Path}");
        }
        using var heldUntilExit = trainerLock;
        var device = Devices.Parse(config.Device);

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        // Every way of stopping a run (Ctrl-C, SIGTERM from a sweep or a scheduler, the sweep that started it
        // dying) ends at the next step boundary with a checkpoint; repeated signals (a terminal's Ctrl-C reaches a
        // sweep's trainers besides the sweep's own) do not cut the checkpoint short.
        void Stop(string why)
        {
            if (cts.IsCancellationRequested)
            {
                Console.Error.WriteLine($"{why}: already stopping at the next step boundary (writing a checkpoint); kill -9 {Environment.ProcessId} aborts without one");
                return;
            }
            Console.Error.WriteLine($"{why}: stopping at the next step boundary (writing a checkpoint)");
            cts.Cancel();
        }
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            Stop("interrupted");
        };
        Console.CancelKeyPress += onCancel;
        using var onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, signal =>
        {
            signal.Cancel = true;
            Stop("SIGTERM");
        });
        using var parentWatch = ParentWatch.FromEnvironment(() => Stop("the sweep that started this trainer is gone"));
        try
        {
            var setup = TrainingSetup.Create(config, device);
            Console.WriteLine($"{MixerLabel(config.Model.SequenceMixer)}, d_model {config.Model.DModel}, L {config.Data.InputSeqLen}: " +
                              $"{setup.Model.ParameterCount():N0} parameters, recurrent state {StateSizes(setup.LanguageModel, config.Data.InputSeqLen)} on {device}");
            Console.WriteLine(setup.Description);
            bool live = !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
            var summary = live ? TrainLive(config, run, setup, device, cts.Token) : TrainPlain(config, run, setup, device, cts.Token);
            if (summary.StopReason == StopReasons.Interrupted)
            {
                Console.WriteLine($"interrupted in epoch {summary.EpochsRun}/{config.MaxEpochs} at optimizer step {summary.Steps}: checkpoint written to {run.LastCheckpoint}; " +
                                  $"continue with `rebased train --resume {run.Path}`");
                return TrainerCommand.InterruptedExitCode;
            }
            Console.WriteLine($"{summary.Status}: {summary.StopReason} after {summary.EpochsRun} epoch(s), {summary.Steps} steps, " +
                              $"best valid accuracy {summary.BestAccuracy:F4}, {summary.WallTimeS:F1} s");
            Console.WriteLine($"summary: {run.SummaryPath}");
            return ExitCodes.Ok;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    /// <summary>"6,240 + 3,264 numbers per layer" (<see cref="Rebased.Mixers.ISequenceMixer.StateSize"/> at the training length).</summary>
    private static string StateSizes(LanguageModel model, int sequenceLength) =>
        $"{string.Join(" + ", model.StateSizes(sequenceLength).Select(s => s.ToString("N0", CultureInfo.InvariantCulture)))} numbers per layer";

    /// <summary>"BaseConv + ReBased" for an expanded hybrid, else the mixer's class name.</summary>
    private static string MixerLabel(ComponentConfig mixer)
    {
        static string ClassName(string path) => path[(path.LastIndexOf('.') + 1)..];
        if (mixer.Kwargs.TryGetValue("configs", out var layers) && layers is IEnumerable<object?> list)
            return string.Join(" + ", list.OfType<IDictionary<string, object?>>().Select(l => ClassName(l["name"]?.ToString() ?? "?")));
        return ClassName(mixer.Name);
    }

    private static int ProgressInterval(torch.Device device) => device.type == DeviceType.CUDA ? 50 : 10;

    private static RunSummary TrainPlain(RunConfig config, RunDirectory run, TrainingSetup setup, torch.Device device, CancellationToken token)
    {
        var trainer = setup.NewTrainer(run, new TrainerOptions
        {
            ProgressInterval = ProgressInterval(device) * 5,
            Cancellation = token,
            OnProgress = p => Console.WriteLine(Cli.Fit(ProgressLine(p, p.BestAccuracy), Cli.ConsoleWidth)),
            OnEpoch = m => Console.WriteLine(Cli.Fit(EpochLine(m, config.MaxEpochs), Cli.ConsoleWidth)),
        });
        return trainer.Run(resume: Directory.Exists(run.LastCheckpoint));
    }

    private static RunSummary TrainLive(RunConfig config, RunDirectory run, TrainingSetup setup, torch.Device device, CancellationToken token)
    {
        RunSummary? summary = null;
        AnsiConsole.Progress()
            .AutoClear(true)
            // The trainer's own ETA: a remaining-time column estimates from the progress since the display started, which
            // after --resume includes the steps done before it (an estimate many times too low).
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn { Width = BarColumns - 1 })
            .Start(ctx =>
            {
                ProgressTask? task = null;
                double best = 0;
                var trainer = setup.NewTrainer(run, new TrainerOptions
                {
                    ProgressInterval = ProgressInterval(device),
                    Cancellation = token,
                    OnProgress = p =>
                    {
                        task ??= ctx.AddTask("training", maxValue: (double)p.StepsPerEpoch * p.MaxEpochs);
                        task.Value = (double)p.Epoch * p.StepsPerEpoch + p.StepInEpoch;
                        task.Description = Markup.Escape(Cli.Fit(ProgressLine(p, best), Cli.ConsoleWidth - BarColumns));
                    },
                    OnEpoch = m =>
                    {
                        best = Math.Max(best, m.ValidAccuracy);
                        AnsiConsole.WriteLine(Cli.Fit(EpochLine(m, config.MaxEpochs), Cli.ConsoleWidth));
                    },
                });
                summary = trainer.Run(resume: Directory.Exists(run.LastCheckpoint));
                task?.StopTask();
            });
        return summary!;
    }

    /// <summary>The live display's progress bar and the space before it.</summary>
    private const int BarColumns = 11;

    /// <summary>A progress line, short enough that it and the live display's bar fit 80 columns.</summary>
    public static string ProgressLine(StepProgress p, double best) => FormattableString.Invariant(
        $"ep {p.Epoch + 1}/{p.MaxEpochs} {p.StepInEpoch}/{p.StepsPerEpoch} loss {p.Loss:F4} acc {Math.Max(best, p.BestAccuracy):F3} {Rate(p.TokensPerSecond)} tok/s eta {Duration(p.EtaSeconds)}");

    /// <summary>An epoch's line within 80 columns (metrics.jsonl has every field in full).</summary>
    public static string EpochLine(EpochMetrics m, int maxEpochs) => FormattableString.Invariant(
        $"ep {m.Epoch + 1}/{maxEpochs} loss {m.TrainLoss:F3} valid {m.ValidLoss:F3} acc {m.ValidAccuracy:F4} lr {m.Lr:0.0e+00} {Rate(m.TokensPerS)} tok/s {Duration(m.ElapsedS)}");

    /// <summary>Tokens per second in thousands or millions, so that a GPU's rate is as short as a CPU's.</summary>
    private static string Rate(double tokensPerSecond) => tokensPerSecond >= 1e6
        ? FormattableString.Invariant($"{tokensPerSecond / 1e6:F1}M")
        : FormattableString.Invariant($"{tokensPerSecond / 1e3:F1}k");

    /// <summary>m:ss, or h:mm:ss from an hour on (hours past a day are not folded into days).</summary>
    private static string Duration(double seconds)
    {
        var time = TimeSpan.FromSeconds(Math.Min(seconds, TimeSpan.MaxValue.TotalSeconds / 2));
        return time.TotalHours >= 1
            ? FormattableString.Invariant($"{(long)time.TotalHours}:{time.Minutes:00}:{time.Seconds:00}")
            : FormattableString.Invariant($"{time.Minutes}:{time.Seconds:00}");
    }
}
