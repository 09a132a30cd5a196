using System.ComponentModel;
using System.Globalization;
using System.Runtime.InteropServices;
using Rebased.Configs;
using Rebased.Native;
using Rebased.Training;
using Spectre.Console;
using Spectre.Console.Cli;
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

        [CommandOption("--threads <N>")]
        [Description("CPU threads for libtorch, 1 to 4 x the CPU cores (default: libtorch's choice).")]
        public int? Threads { get; init; }

        public override ValidationResult Validate()
        {
            if (Config is null == Resume is null) return ValidationResult.Error("give either --config FILE or --resume RUN_DIR");
            if (Resume is not null && (Set.Length > 0 || RunDir is not null)) return ValidationResult.Error("--resume continues a run as configured: --set and --run-dir do not apply");
            if (Cli.ThreadsProblem(Threads) is { } threads) return ValidationResult.Error(threads);
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
        if (settings.Resume is { } resumeDir)
        {
            (run, config) = RunDirectory.Open(resumeDir);
            if (run.ReadSummary() is { Status: "finished" } done)
            {
                Console.WriteLine($"{run.Path}: already finished ({done.StopReason} after {done.EpochsRun} epoch(s), best valid accuracy {done.BestAccuracy:F4}); nothing to resume");
                return ExitCodes.Ok;
            }
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
            Devices.Parse(config.Device);
            run = RunDirectory.Create(config, settings.RunDir);
            Console.WriteLine($"run directory {run.Path}");
        }
        var device = Devices.Parse(config.Device);

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            if (cts.IsCancellationRequested) return;
            e.Cancel = true;
            cts.Cancel();
            Console.Error.WriteLine("stopping at the next step boundary (writing a checkpoint); Ctrl-C again to abort");
        };
        Console.CancelKeyPress += onCancel;
        // SIGTERM (a sweep or a job scheduler stopping the run) stops at a step boundary the same way.
        using var onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, signal =>
        {
            if (cts.IsCancellationRequested) return;
            signal.Cancel = true;
            cts.Cancel();
        });
        try
        {
            var setup = TrainingSetup.Create(config, device);
            Console.WriteLine($"{MixerLabel(config.Model.SequenceMixer)}, d_model {config.Model.DModel}, L {config.Data.InputSeqLen}: " +
                              $"{setup.Model.ParameterCount():N0} parameters on {device}; {setup.Description}");
            bool live = !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
            var summary = live ? TrainLive(config, run, setup, device, cts.Token) : TrainPlain(config, run, setup, device, cts.Token);
            Console.WriteLine($"{summary.Status}: {summary.StopReason} after {summary.EpochsRun} epoch(s), {summary.Steps} steps, " +
                              $"best valid accuracy {summary.BestAccuracy:F4}, {summary.WallTimeS:F1} s; {run.SummaryPath}");
            return summary.StopReason == StopReasons.Interrupted ? 130 : ExitCodes.Ok;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

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
            OnProgress = p => Console.WriteLine(FormattableString.Invariant(
                $"epoch {p.Epoch + 1}/{p.MaxEpochs} step {p.StepInEpoch}/{p.StepsPerEpoch} loss {p.Loss:F4} {p.TokensPerSecond:F0} tok/s eta {Eta(p.EtaSeconds)}")),
            OnEpoch = m => Console.WriteLine(EpochLine(m, config.MaxEpochs)),
        });
        return trainer.Run(resume: Directory.Exists(run.LastCheckpoint));
    }

    private static RunSummary TrainLive(RunConfig config, RunDirectory run, TrainingSetup setup, torch.Device device, CancellationToken token)
    {
        RunSummary? summary = null;
        AnsiConsole.Progress()
            .AutoClear(true)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
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
                        task.Description = Markup.Escape(FormattableString.Invariant(
                            $"epoch {p.Epoch + 1}/{p.MaxEpochs} step {p.StepInEpoch}/{p.StepsPerEpoch} loss {p.Loss:F4} best acc {Math.Max(best, p.BestAccuracy):F3} {p.TokensPerSecond / 1000:F1}k tok/s"));
                    },
                    OnEpoch = m =>
                    {
                        best = Math.Max(best, m.ValidAccuracy);
                        AnsiConsole.WriteLine(EpochLine(m, config.MaxEpochs));
                    },
                });
                summary = trainer.Run(resume: Directory.Exists(run.LastCheckpoint));
                task?.StopTask();
            });
        return summary!;
    }

    private static string EpochLine(EpochMetrics m, int maxEpochs) => FormattableString.Invariant(
        $"epoch {m.Epoch + 1}/{maxEpochs}: train_loss {m.TrainLoss:F4} valid_loss {m.ValidLoss:F4} valid_accuracy {m.ValidAccuracy:F4} lr {m.Lr:G4} {m.TokensPerS:F0} tok/s {m.ElapsedS:F1} s");

    private static string Eta(double seconds) =>
        TimeSpan.FromSeconds(Math.Min(seconds, TimeSpan.MaxValue.TotalSeconds / 2)).ToString(seconds >= 3600 ? @"h\:mm\:ss" : @"m\:ss", CultureInfo.InvariantCulture);
}
