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
        var parameters = _model.Module.named_parameters().Select(p => (p.name, p.parameter)).ToList();
        var optimizer = new AdamW(parameters, _config.LearningRate, _config.WeightDecay);
        long parameterCount = _model.ParameterCount();
        if (StepsPerEpoch == 0)
            throw new UserError($"data.num_train_examples: {_train.BatchesPerEpoch} loader batch(es) per epoch cannot fill one optimizer step of {AccumulationSteps} micro-batches");

        var position = resume
            ? Checkpoint.Load(_run.LastCheckpoint, _model, optimizer, _configHash)
            : new TrainingPosition(0, 0, 0, 0, 0, 0, 0, 0, 0, _configHash, parameterCount);
        int usableBatches = StepsPerEpoch * AccumulationSteps;
        if (position.NextBatch > usableBatches)
            throw new UserError($"{_run.LastCheckpoint}: next_batch {position.NextBatch} is past the {usableBatches} batches of an epoch: restore position.json, or delete the checkpoint folder to train the run again from the beginning");
        if (resume)
        {
            _run.TruncateMetrics(position.Epoch);
            _run.RemoveSummary();
        }
        var tensorBoard = _run.OpenTensorBoard();
        var wall = Stopwatch.StartNew();
        double ElapsedSeconds() => position.ElapsedSeconds + wall.Elapsed.TotalSeconds;
        double best = position.BestAccuracy;
        long step = position.OptimizerSteps;
        long totalSteps = (long)StepsPerEpoch * _config.MaxEpochs;

        RunSummary Finish(string stopReason, int epochsRun)
        {
            var summary = new RunSummary(_config.RunId, stopReason == StopReasons.Interrupted ? "interrupted" : "finished", stopReason, best,
                epochsRun, step, ElapsedSeconds(), parameterCount, _device.ToString(), _configHash,
                TorchRuntime.HardwareName(_device), BuildInfo.Commit);
            _run.WriteSummary(summary);
            return summary;
        }

        // A checkpoint written after the epoch that crossed the threshold: the run had stopped early (its summary was lost).
        if (position.NextBatch == 0 && position.Epoch > 0 && best > _config.EarlyStoppingThreshold)
            return Finish(StopReasons.EarlyStop, Math.Min(position.Epoch, _config.MaxEpochs));

        for (int epoch = position.Epoch; epoch < _config.MaxEpochs; epoch++)
        {
            bool continuing = epoch == position.Epoch;
            int firstBatch = continuing ? position.NextBatch : 0;
            double lr = CosineSchedule.LearningRate(epoch, _config.LearningRate, _config.MaxEpochs);
            optimizer.LearningRate = lr;
            _model.Module.train();

            using var lossSum = torch.tensor(continuing ? position.EpochLossSum : 0.0, ScalarType.Float64, _device);
            using var nonFinite = torch.zeros(1, ScalarType.Bool, _device);
            int lossCount = continuing ? position.EpochLossCount : 0;
            long tokens = continuing ? position.EpochTokens : 0;
            double previousTrainSeconds = continuing ? position.EpochTrainSeconds : 0;
            var trainClock = Stopwatch.StartNew();
            double windowStart = continuing ? position.EpochLossSum : 0;
            int windowCount = 0;

            TrainingPosition Here(int nextBatch) => new(epoch, nextBatch, step, lossSum.item<double>(), lossCount, tokens,
                previousTrainSeconds + trainClock.Elapsed.TotalSeconds, best, ElapsedSeconds(), _configHash, parameterCount);

            for (int b = firstBatch; b < usableBatches; b++)
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
                optimizer.Step();
                optimizer.ZeroGrad();
                step++;

                int stepInEpoch = (b + 1) / AccumulationSteps;
                if (stepInEpoch % Math.Max(1, _options.ProgressInterval) == 0 || stepInEpoch == StepsPerEpoch || _options.Cancellation.IsCancellationRequested)
                {
                    double sum = lossSum.item<double>();
                    if (nonFinite.item<bool>()) return Diverged(epoch);
                    double trainSeconds = previousTrainSeconds + trainClock.Elapsed.TotalSeconds;
                    _options.OnProgress?.Invoke(new StepProgress(epoch, _config.MaxEpochs, stepInEpoch, StepsPerEpoch, step,
                        (sum - windowStart) / Math.Max(1, windowCount), tokens / Math.Max(1e-9, trainSeconds), ElapsedSeconds(),
                        RemainingSeconds(wall.Elapsed.TotalSeconds, step - position.OptimizerSteps, totalSteps - step), best));
                    windowStart = sum;
                    windowCount = 0;
                }
                if (_options.Cancellation.IsCancellationRequested)
                {
                    Checkpoint.Save(_run.LastCheckpoint, _model, optimizer, Here(b + 1));
                    return Finish(StopReasons.Interrupted, epoch + 1);
                }
            }
            optimizer.ZeroGrad();
            double trainLoss = lossSum.item<double>() / Math.Max(1, lossCount);
            if (nonFinite.item<bool>()) return Diverged(epoch);
            double epochTrainSeconds = previousTrainSeconds + trainClock.Elapsed.TotalSeconds;

            var (validLoss, validAccuracy) = Evaluate(epoch);
            var metrics = new EpochMetrics(step, epoch, lr, trainLoss, validLoss, validAccuracy,
                tokens / Math.Max(1e-9, epochTrainSeconds), ElapsedSeconds());
            _run.AppendMetrics(metrics);
            tensorBoard.add_scalar("train/loss", (float)trainLoss, (int)step);
            tensorBoard.add_scalar("valid/loss", (float)validLoss, (int)step);
            tensorBoard.add_scalar("valid/accuracy", (float)validAccuracy, (int)step);
            tensorBoard.add_scalar("lr", (float)lr, (int)step);
            tensorBoard.add_scalar("tokens_per_s", (float)metrics.TokensPerS, (int)step);
            _options.OnEpoch?.Invoke(metrics);

            bool improved = validAccuracy > best;
            if (improved) best = validAccuracy;
            var next = new TrainingPosition(epoch + 1, 0, step, 0, 0, 0, 0, best, ElapsedSeconds(), _configHash, parameterCount);
            Checkpoint.Save(_run.LastCheckpoint, _model, optimizer, next);
            if (improved) Checkpoint.Copy(_run.LastCheckpoint, _run.BestCheckpoint);

            if (validAccuracy > _config.EarlyStoppingThreshold) return Finish(StopReasons.EarlyStop, epoch + 1);
            if (!double.IsFinite(validLoss)) return Diverged(epoch);
            if (_options.Cancellation.IsCancellationRequested && epoch + 1 < _config.MaxEpochs) return Finish(StopReasons.Interrupted, epoch + 1);
        }
        return Finish(StopReasons.MaxEpochs, _config.MaxEpochs);

        RunSummary Diverged(int epoch)
        {
            optimizer.ZeroGrad();
            return Finish(StopReasons.Diverged, epoch + 1);
        }
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
