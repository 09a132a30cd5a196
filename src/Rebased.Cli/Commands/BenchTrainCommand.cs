using Rebased.Configs;
using Rebased.Data;
using Rebased.Models;
using Rebased.Modules;
using Rebased.Native;
using Rebased.Training;
using System.Diagnostics;
using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace Rebased.Cli.Commands;

/// <summary>
/// Time of one optimizer step of MQAR training (batch 512 by default, with the reference's micro-batching
/// rule), exactly as `rebased train` runs it: batches from the MQAR loader, forward at the supervised
/// positions, backward, AdamW. Median over the timed steps after warm-up.
/// </summary>
public sealed class BenchTrainCommand : Command<BenchTrainCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--device <DEVICE>")] [Description("cpu (default), cuda or cuda:N.")] public string Device { get; init; } = "cpu";
        [CommandOption("--mixer <NAME>")] [Description("Sequence mixer (default rebased; based, attention, conv_attention, rwkv, mamba, ...).")] public string Mixer { get; init; } = "rebased";
        [CommandOption("--seq-len <L>")] [OptionRange(2)] [Description("Sequence length (default 512).")] public int SeqLen { get; init; } = 512;
        [CommandOption("--kv-pairs <K>")] [OptionRange(1)] [Description("Key-value pairs per sequence (default: the reference's rule, 16 at L = 128, else L/4).")] public int? KvPairs { get; init; }
        [CommandOption("--d-model <D>")] [OptionRange(1)] [Description("Model width (default 128).")] public int DModel { get; init; } = 128;
        [CommandOption("--steps <N>")] [OptionRange(1)] [Description("Timed optimizer steps (default 30).")] public int Steps { get; init; } = 30;
        [CommandOption("--warmup <N>")] [OptionRange(0)] [Description("Untimed steps first (default 3).")] public int Warmup { get; init; } = 3;
        [CommandOption("--batch <B>")] [OptionRange(1)] [Description("Examples per optimizer step (split by the micro-batching rule; default 512).")] public int Batch { get; init; } = 512;
        [CommandOption("--vocab <V>")] [OptionRange(1)] [Description("Vocabulary size (default 8192).")] public int Vocab { get; init; } = 8192;
        [CommandOption("--lr <LR>")] [Description("AdamW learning rate (default 1e-3).")] public double LearningRate { get; init; } = 1e-3;
        [CommandOption("--threads <N>")] [ThreadsRange] [Description("CPU threads for libtorch, 1 to 4 x the CPU cores (default: libtorch's choice).")] public int? Threads { get; init; }
        [CommandOption("--precision <P>")] [Description("fp32 (the reference's numerics, default) or bf16 (mixed precision for the matrix products).")] public string Precision { get; init; } = PrecisionNames.Float32;
        [CommandOption("--phases")] [Description("Also time the phases of a step (batch, model forward, head and backward, optimizer), synchronising between them.")] public bool Phases { get; init; }

    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellation)
    {
        CpuThreading.PreferPassiveWaiting();
        CpuThreading.KeepFreedMemory();
        TorchRuntime.EnsureLoaded();
        if (s.Threads is { } threads) torch.set_num_threads(threads);
        var overrides = new List<string>
        {
            $"model.sequence_mixer.name={s.Mixer}", $"model.d_model={s.DModel}", $"model.vocab_size={s.Vocab}",
            $"data.vocab_size={s.Vocab}", $"data.input_seq_len={s.SeqLen}", $"data.batch_size={s.Batch}",
            $"data.num_train_examples={s.Batch}", $"learning_rate={s.LearningRate.ToString("R", CultureInfo.InvariantCulture)}", "data.mode=fast",
            $"precision={s.Precision}",
        };
        var config = ConfigResolver.Resolve(ConfigLoader.Parse("", "bench train", overrides)).Config;
        if (s.KvPairs is { } k) config.Data.Builder.Kwargs["num_kv_pairs"] = k;
        var device = Devices.Parse(s.Device);

        torch.random.manual_seed(0);
        var data = config.Data.Task().Splits(config.Data.Request()).Train.Generate();
        using var batches = new TaskBatchSource(data.Batches(config.Data.BatchSize, shuffle: true, seed: 0, device));
        var model = new Models.LanguageModel(config.Model);
        model.to(device);
        model.train();
        var trainingModel = new TrainingModel(model, model.Hidden, model.TokenEmbedding);
        var optimizer = new AdamW(model.named_parameters().Select(p => (p.name, p.parameter)), config.LearningRate, config.WeightDecay);
        int accumulation = config.GradientAccumulationSteps;
        using var precision = MixedPrecision.Use(config.Precision);
        bool cuda = device.type == DeviceType.CUDA;

        var times = new List<double>();
        long peak = 0;
        for (int step = 0; step < s.Warmup + s.Steps && !cancellation.IsCancellationRequested; step++)
        {
            var clock = Stopwatch.StartNew();
            // One dispose scope per micro-batch, as the trainer has: a micro-batch's tensors go before the next one's forward.
            for (int micro = 0; micro < accumulation; micro++)
            {
                using var scope = NewDisposeScope();
                Trainer.ForwardBackward(trainingModel, batches.Batch(step, micro), accumulation);
            }
            optimizer.Step();
            optimizer.ZeroGrad();
            if (cuda) torch.cuda.synchronize(device);
            if (step >= s.Warmup) times.Add(clock.Elapsed.TotalMilliseconds);
            Console.Error.WriteLine(FormattableString.Invariant($"step {step + 1}/{s.Warmup + s.Steps}{(step < s.Warmup ? " (warm-up)" : "")}: {clock.Elapsed.TotalMilliseconds:F0} ms"));
            if (cuda) peak = Math.Max(peak, CudaDriver.MemoryInUse(device.index < 0 ? 0 : device.index));
        }
        if (times.Count == 0) return 130;
        times.Sort();
        double median = times.Count % 2 == 1 ? times[times.Count / 2] : (times[times.Count / 2 - 1] + times[times.Count / 2]) / 2;
        double tokensPerStep = (double)config.Data.BatchSize * accumulation * config.Data.InputSeqLen;

        var grid = new Grid().AddColumn().AddColumn();
        void Row(string key, string value) => grid.AddRow(Markup.Escape(key), Markup.Escape(value));
        Row("mixer", $"{s.Mixer}, L {config.Data.InputSeqLen}, K {config.Data.Builder.Kwargs["num_kv_pairs"]}, d_model {s.DModel}, vocab {s.Vocab}");
        Row("parameters", model.ParameterCount().ToString("N0", CultureInfo.InvariantCulture));
        Row("step", $"{config.Data.BatchSize} × {accumulation} (micro-batch × accumulation) on {device}, {torch.get_num_threads()} CPU threads, {config.Precision} products");
        Row("ms/step", FormattableString.Invariant($"{median:F1} median of {times.Count} after {s.Warmup} warm-up (min {times[0]:F1}, max {times[^1]:F1})"));
        Row("tokens/s", FormattableString.Invariant($"{tokensPerStep / median * 1000:N0}"));
        Row("peak GPU memory", cuda ? FormattableString.Invariant($"{peak / (double)(1L << 30):F2} GiB in use on the GPU (driver's count: context and libtorch's cache included)") : "n/a (CPU)");
        if (s.Phases)
            foreach (var (phase, ms) in PhaseTimes(trainingModel, batches, optimizer, accumulation, device))
                Row($"  {phase}", FormattableString.Invariant($"{ms:F1} ms per step"));
        AnsiConsole.Write(grid);
        return ExitCodes.Ok;
    }

    /// <summary>Median over 3 steps of each phase's time, synchronising the device between phases.</summary>
    private static IEnumerable<(string, double)> PhaseTimes(TrainingModel model, TaskBatchSource batches, AdamW optimizer, int accumulation, Device device)
    {
        var phases = new[] { "batch", "model forward", "head (logits, loss) + backward", "optimizer" };
        var samples = phases.ToDictionary(p => p, _ => new List<double>());
        void Sync() { if (device.type == DeviceType.CUDA) torch.cuda.synchronize(device); }
        for (int step = 0; step < 3; step++)
        {
            var totals = new double[4];
            for (int micro = 0; micro < accumulation; micro++)
            {
                using var scope = NewDisposeScope();
                var clock = Stopwatch.StartNew();
                var batch = batches.Batch(step, micro);
                Sync(); totals[0] += clock.Elapsed.TotalMilliseconds; clock.Restart();
                var hidden = SupervisedLoss.SupervisedHidden(model, batch);
                Sync(); totals[1] += clock.Elapsed.TotalMilliseconds; clock.Restart();
                ChunkedHead.ForwardBackward(hidden, model.HeadWeight, batch.Targets, 1.0 / accumulation,
                    ChunkedHead.RowsPerBlock(device, model.HeadWeight.shape[0]));
                Sync(); totals[2] += clock.Elapsed.TotalMilliseconds;
            }
            var optimizerClock = Stopwatch.StartNew();
            optimizer.Step();
            optimizer.ZeroGrad();
            Sync(); totals[3] = optimizerClock.Elapsed.TotalMilliseconds;
            for (int i = 0; i < 4; i++) samples[phases[i]].Add(totals[i]);
        }
        return phases.Select(p => (p, samples[p].Order().ElementAt(1)));
    }
}
