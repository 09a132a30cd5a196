using Rebased.Configs;
using Rebased.Models;
using Rebased.Modules;
using Rebased.Native;
using System.Diagnostics;

namespace Rebased.Training;

/// <summary>Progress inside an epoch, reported every <see cref="TrainerOptions.ProgressInterval"/> optimizer steps.</summary>
public sealed record StepProgress(
    int Epoch, int MaxEpochs, int StepInEpoch, int StepsPerEpoch, long Step, double Loss,
    double TokensPerSecond, double ElapsedSeconds, double EtaSeconds, double BestAccuracy);

public sealed class TrainerOptions
{
    /// <summary>Optimizer steps between host reads of the running loss (progress display and the divergence check). The step itself never waits for the device.</summary>
    public int ProgressInterval { get; init; } = 10;
    /// <summary>Cancellation stops at the next step boundary, after writing the last checkpoint.</summary>
    public CancellationToken Cancellation { get; init; }
    public Action<StepProgress>? OnProgress { get; init; }
    public Action<EpochMetrics>? OnEpoch { get; init; }
}

/// <summary>
/// The reference's training loop (<c>src/train.py</c>): AdamW on all parameters, cosine annealing stepped
/// once per epoch, gradient accumulation over micro-batches (each micro-batch loss divided by the
/// accumulation count, leftovers at epoch end dropped), cross-entropy at the supervised positions,
/// evaluation on the test set after every epoch, early stop once valid accuracy exceeds the threshold.
/// Writes metrics, TensorBoard scalars, checkpoints and the summary into the run directory.
/// </summary>
public sealed class Trainer
{
    private readonly RunConfig _config;
    private readonly TrainingModel _model;
    private readonly IBatchSource _train;
    private readonly IBatchSource _test;
    private readonly Device _device;
    private readonly RunDirectory _run;
    private readonly TrainerOptions _options;
    private readonly string _configHash;

    public Trainer(RunConfig config, TrainingModel model, IBatchSource train, IBatchSource test, Device device, RunDirectory run, TrainerOptions? options = null)
    {
        _config = config;
        _model = model;
        _train = train;
        _test = test;
        _device = device;
        _run = run;
        _options = options ?? new TrainerOptions();
        _configHash = ConfigWriter.ShortHash(config);
    }

    public int AccumulationSteps => _config.GradientAccumulationSteps;
    public int StepsPerEpoch => _train.BatchesPerEpoch / AccumulationSteps;

    /// <summary>Trains to the end (early stop, max epochs or divergence) or to a cancellation; returns the summary it wrote.</summary>
    public RunSummary Run(bool resume)
    {
        var run = Start(resume);
        // A checkpoint written after the epoch that crossed the threshold: the run had stopped early (its summary was lost).
        if (run.From.NextBatch == 0 && run.From.Epoch > 0 && run.Best > _config.EarlyStoppingThreshold)
            return Finish(run, StopReasons.EarlyStop, Math.Min(run.From.Epoch, _config.MaxEpochs));

        for (int epoch = run.From.Epoch; epoch < _config.MaxEpochs; epoch++)
        {
            double lr = CosineSchedule.LearningRate(epoch, _config.LearningRate, _config.MaxEpochs);
            var trained = TrainEpoch(run, epoch, lr);
            if (trained.StopReason is { } stopped) return Finish(run, stopped, epoch + 1);
            var (validLoss, validAccuracy) = Evaluate(epoch);
            if (EndEpoch(run, epoch, lr, trained, validLoss, validAccuracy) is { } stop) return Finish(run, stop, epoch + 1);
        }
        return Finish(run, StopReasons.MaxEpochs, _config.MaxEpochs);
    }

    /// <summary>What one process of a run carries from epoch to epoch.</summary>
    private sealed class RunState(AdamW optimizer, TrainingPosition from, long parameterCount, TorchSharp.Modules.SummaryWriter tensorBoard)
    {
        public AdamW Optimizer { get; } = optimizer;
        /// <summary>Where this process started: the checkpoint's position, or the beginning.</summary>
        public TrainingPosition From { get; } = from;
        public long ParameterCount { get; } = parameterCount;
        public TorchSharp.Modules.SummaryWriter TensorBoard { get; } = tensorBoard;
        public Stopwatch Wall { get; } = Stopwatch.StartNew();
        public long Step { get; set; } = from.OptimizerSteps;
        public double Best { get; set; } = from.BestAccuracy;
        public double ElapsedSeconds => From.ElapsedSeconds + Wall.Elapsed.TotalSeconds;
    }

    /// <summary>An epoch's training: its mean micro-batch loss, tokens and time, or the reason it stopped early.</summary>
    private sealed record EpochTraining(double TrainLoss, long Tokens, double TrainSeconds, string? StopReason = null);

    private RunState Start(bool resume)
    {
        var parameters = _model.Module.named_parameters().Select(p => (p.name, p.parameter)).ToList();
        var optimizer = new AdamW(parameters, _config.LearningRate, _config.WeightDecay);
        long parameterCount = _model.ParameterCount();
        if (StepsPerEpoch == 0)
            throw new UserError($"data.num_train_examples: {_train.BatchesPerEpoch} loader batch(es) per epoch cannot fill one optimizer step of {AccumulationSteps} micro-batches");

        var position = resume
            ? Checkpoint.Load(_run.LastCheckpoint, _model, optimizer, _configHash)
            : new TrainingPosition(0, 0, 0, 0, 0, 0, 0, 0, 0, _configHash, parameterCount);
        if (position.NextBatch > UsableBatches)
            throw new UserError($"{_run.LastCheckpoint}: next_batch {position.NextBatch} is past the {UsableBatches} batches of an epoch: restore position.json, or delete the checkpoint folder to train the run again from the beginning");
        if (resume)
        {
            _run.TruncateMetrics(position.Epoch);
            _run.RemoveSummary();
        }
        return new RunState(optimizer, position, parameterCount, _run.OpenTensorBoard());
    }

    /// <summary>Micro-batches of an epoch that make whole optimizer steps (the leftovers are dropped, as the reference does).</summary>
    private int UsableBatches => StepsPerEpoch * AccumulationSteps;

    /// <summary>
    /// One epoch's optimizer steps, from the checkpoint's batch when this is the epoch a resume starts in. Stops with
    /// Diverged on a non-finite loss, or with Interrupted (after writing the checkpoint) on cancellation.
    /// </summary>
    private EpochTraining TrainEpoch(RunState run, int epoch, double lr)
    {
        var from = run.From;
        bool continuing = epoch == from.Epoch;
        run.Optimizer.LearningRate = lr;
        _model.Module.train();

        using var lossSum = torch.tensor(continuing ? from.EpochLossSum : 0.0, ScalarType.Float64, _device);
        using var nonFinite = torch.zeros(1, ScalarType.Bool, _device);
        int lossCount = continuing ? from.EpochLossCount : 0;
        long tokens = continuing ? from.EpochTokens : 0;
        double previousTrainSeconds = continuing ? from.EpochTrainSeconds : 0;
        var trainClock = Stopwatch.StartNew();
        double TrainSeconds() => previousTrainSeconds + trainClock.Elapsed.TotalSeconds;
        double windowStart = continuing ? from.EpochLossSum : 0;
        int windowCount = 0;
        long totalSteps = (long)StepsPerEpoch * _config.MaxEpochs;

        EpochTraining Diverged()
        {
            run.Optimizer.ZeroGrad();
            return new EpochTraining(double.NaN, tokens, TrainSeconds(), StopReasons.Diverged);
        }

        for (int b = continuing ? from.NextBatch : 0; b < UsableBatches; b++)
        {
            using (var scope = NewDisposeScope())
            {
                SeedDropout(epoch, b);
                var batch = _train.Batch(epoch, b);
                Tensor detached;
                using (MixedPrecision.Use(_config.Precision)) detached = ForwardBackward(_model, batch, AccumulationSteps);
                lossSum.add_(detached);
                nonFinite.logical_or_(detached.isfinite().logical_not());
                lossCount++;
                windowCount++;
                tokens += batch.Tokens;
            }
            if ((b + 1) % AccumulationSteps != 0) continue;
            run.Optimizer.Step();
            run.Optimizer.ZeroGrad();
            run.Step++;

            int stepInEpoch = (b + 1) / AccumulationSteps;
            if (stepInEpoch % Math.Max(1, _options.ProgressInterval) == 0 || stepInEpoch == StepsPerEpoch || _options.Cancellation.IsCancellationRequested)
            {
                double sum = lossSum.item<double>();
                if (nonFinite.item<bool>()) return Diverged();
                _options.OnProgress?.Invoke(new StepProgress(epoch, _config.MaxEpochs, stepInEpoch, StepsPerEpoch, run.Step,
                    (sum - windowStart) / Math.Max(1, windowCount), tokens / Math.Max(1e-9, TrainSeconds()), run.ElapsedSeconds,
                    RemainingSeconds(run.Wall.Elapsed.TotalSeconds, run.Step - from.OptimizerSteps, totalSteps - run.Step), run.Best));
                windowStart = sum;
                windowCount = 0;
            }
            if (_options.Cancellation.IsCancellationRequested)
            {
                var here = new TrainingPosition(epoch, b + 1, run.Step, lossSum.item<double>(), lossCount, tokens,
                    TrainSeconds(), run.Best, run.ElapsedSeconds, _configHash, run.ParameterCount);
                Checkpoint.Save(_run.LastCheckpoint, _model, run.Optimizer, here);
                return new EpochTraining(double.NaN, tokens, TrainSeconds(), StopReasons.Interrupted);
            }
        }
        run.Optimizer.ZeroGrad();
        if (nonFinite.item<bool>()) return Diverged();
        return new EpochTraining(lossSum.item<double>() / Math.Max(1, lossCount), tokens, TrainSeconds());
    }

    /// <summary>
    /// After the evaluation: the epoch's metrics (metrics.jsonl, TensorBoard, the callback), the checkpoint at the
    /// epoch's end (and the best one), and the reason to stop here, if any.
    /// </summary>
    private string? EndEpoch(RunState run, int epoch, double lr, EpochTraining trained, double validLoss, double validAccuracy)
    {
        var metrics = new EpochMetrics(run.Step, epoch, lr, trained.TrainLoss, validLoss, validAccuracy,
            trained.Tokens / Math.Max(1e-9, trained.TrainSeconds), run.ElapsedSeconds);
        _run.AppendMetrics(metrics);
        int step = (int)run.Step;
        run.TensorBoard.add_scalar("train/loss", (float)trained.TrainLoss, step);
        run.TensorBoard.add_scalar("valid/loss", (float)validLoss, step);
        run.TensorBoard.add_scalar("valid/accuracy", (float)validAccuracy, step);
        run.TensorBoard.add_scalar("lr", (float)lr, step);
        run.TensorBoard.add_scalar("tokens_per_s", (float)metrics.TokensPerS, step);
        _options.OnEpoch?.Invoke(metrics);

        bool improved = validAccuracy > run.Best;
        if (improved) run.Best = validAccuracy;
        var next = new TrainingPosition(epoch + 1, 0, run.Step, 0, 0, 0, 0, run.Best, run.ElapsedSeconds, _configHash, run.ParameterCount);
        Checkpoint.Save(_run.LastCheckpoint, _model, run.Optimizer, next);
        if (improved) Checkpoint.Copy(_run.LastCheckpoint, _run.BestCheckpoint);

        if (validAccuracy > _config.EarlyStoppingThreshold) return StopReasons.EarlyStop;
        if (!double.IsFinite(validLoss)) return StopReasons.Diverged;
        if (_options.Cancellation.IsCancellationRequested && epoch + 1 < _config.MaxEpochs) return StopReasons.Interrupted;
        return null;
    }

    private RunSummary Finish(RunState run, string stopReason, int epochsRun)
    {
        var summary = new RunSummary(_config.RunId, stopReason == StopReasons.Interrupted ? "interrupted" : "finished", stopReason, run.Best,
            epochsRun, run.Step, run.ElapsedSeconds, run.ParameterCount, _device.ToString(), _configHash,
            TorchRuntime.HardwareName(_device), BuildInfo.Commit);
        _run.WriteSummary(summary);
        return summary;
    }

    /// <summary>
    /// The time the steps left will take at the pace of this process (evaluations and checkpoints included): a resumed
    /// run's earlier processes ran elsewhere or at another speed, and their steps say nothing about this one's.
    /// </summary>
    public static double RemainingSeconds(double secondsThisProcess, long stepsThisProcess, long stepsLeft) =>
        secondsThisProcess / Math.Max(1, stepsThisProcess) * stepsLeft;

    /// <summary>
    /// One micro-batch: loss at the supervised positions, backward of loss / accumulation (gradients add up
    /// over the step's micro-batches). Returns the undivided loss, detached, on the device.
    /// </summary>
    public static Tensor ForwardBackward(TrainingModel model, SupervisedBatch batch, int accumulationSteps)
    {
        var hidden = SupervisedLoss.SupervisedHidden(model, batch);
        return ChunkedHead.ForwardBackward(hidden, model.HeadWeight, batch.Targets, 1.0 / accumulationSteps,
            ChunkedHead.RowsPerBlock(hidden.device, model.HeadWeight.shape[0]));
    }

    /// <summary>Valid loss (mean of the batch losses, as the reference) and accuracy over every supervised test position.</summary>
    public (double Loss, double Accuracy) Evaluate(int epoch)
    {
        _model.Module.eval();
        using var noGrad = torch.no_grad();
        using var precision = MixedPrecision.Use(_config.Precision);
        using var lossSum = torch.zeros(1, ScalarType.Float64, _device);
        using var correct = torch.zeros(1, ScalarType.Int64, _device);
        long positions = 0;
        for (int b = 0; b < _test.BatchesPerEpoch; b++)
        {
            using var scope = NewDisposeScope();
            var batch = _test.Batch(epoch, b);
            var hidden = SupervisedLoss.SupervisedHidden(_model, batch);
            var (batchLoss, batchCorrect) = ChunkedHead.Evaluate(hidden, _model.HeadWeight, batch.Targets,
                ChunkedHead.RowsPerBlock(hidden.device, _model.HeadWeight.shape[0]));
            lossSum.add_(batchLoss.div_(batch.Targets.shape[0]));
            correct.add_(batchCorrect);
            positions += batch.Targets.shape[0];
        }
        return (lossSum.item<double>() / _test.BatchesPerEpoch, (double)correct.item<long>() / positions);
    }

    /// <summary>
    /// Dropout draws from a generator seeded by (run seed, epoch, batch), so a run resumed at any batch
    /// sees the same masks as an uninterrupted one, on CPU and CUDA alike.
    /// </summary>
    private void SeedDropout(int epoch, int batch)
    {
        ulong x = (ulong)_config.Seed * 0x9E3779B97F4A7C15UL ^ ((ulong)epoch << 32 | (uint)batch);
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        long seed = (long)((x ^ (x >> 31)) >> 1);
        torch.random.manual_seed(seed);
        if (_device.type == DeviceType.CUDA) torch.cuda.manual_seed(seed);
    }
}
