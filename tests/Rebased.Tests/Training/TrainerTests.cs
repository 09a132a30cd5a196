using Rebased.Training;
using static Rebased.Tests.Training.TrainingTestKit;

namespace Rebased.Tests.Training;

[Collection(GlobalRngCollection.Name)]
public class TrainerTests
{
    public TrainerTests() => TorchRuntime.EnsureLoaded();

    [Fact]
    public void SameSeedGivesIdenticalMetrics()
    {
        var config = Config();
        var a = RunDirectory.Create(config, TempDir());
        var b = RunDirectory.Create(config, TempDir());
        var sa = NewTrainer(config, a).Run(resume: false);
        var sb = NewTrainer(config, b).Run(resume: false);
        Assert.Equal(3, a.ReadMetrics().Count);
        Assert.Equal(Comparable(a.ReadMetrics()), Comparable(b.ReadMetrics()));
        Assert.Equal(sa.BestAccuracy, sb.BestAccuracy);
        Assert.Equal("finished", sa.Status);
        Assert.Equal(StopReasons.MaxEpochs, sa.StopReason);
        Assert.Equal(24, sa.Steps);
        // it learns: loss falls, and a different seed gives different numbers
        var m = a.ReadMetrics();
        Assert.True(m[^1].TrainLoss < m[0].TrainLoss);
        var other = Config("seed=8");
        var c = RunDirectory.Create(other, TempDir());
        NewTrainer(other, c).Run(resume: false);
        Assert.NotEqual(a.ReadMetrics()[0].ValidLoss, c.ReadMetrics()[0].ValidLoss);
    }

    [Theory]
    [InlineData(5, 1)]
    [InlineData(8, 1)]
    [InlineData(3, 2)]
    public void ResumedRunEqualsUninterruptedRun(int stopAfterSteps, int accumulation)
    {
        var config = Config($"gradient_accumulation_steps={accumulation}");
        var whole = RunDirectory.Create(config, TempDir());
        var wholeSummary = NewTrainer(config, whole).Run(resume: false);

        var parted = RunDirectory.Create(config, TempDir());
        using var cts = new CancellationTokenSource();
        var first = NewTrainer(config, parted, new TrainerOptions
        {
            ProgressInterval = 1, Cancellation = cts.Token,
            OnProgress = p => { if (p.Step == stopAfterSteps) cts.Cancel(); },
        }).Run(resume: false);
        Assert.Equal(StopReasons.Interrupted, first.StopReason);
        Assert.Equal(stopAfterSteps, first.Steps);
        var (reopened, savedConfig) = RunDirectory.Open(parted.Path);
        var resumed = NewTrainer(savedConfig, reopened).Run(resume: true);

        Assert.Equal(Comparable(whole.ReadMetrics()), Comparable(parted.ReadMetrics()));
        Assert.Equal(wholeSummary.BestAccuracy, resumed.BestAccuracy);
        Assert.Equal(wholeSummary.Steps, resumed.Steps);
        Assert.Equal("finished", resumed.Status);
    }

    [Fact]
    public void TheEtaAfterAResumeCountsOnlyTheStepsOfThisProcess()
    {
        Assert.Equal(30.0, Trainer.RemainingSeconds(secondsThisProcess: 2, stepsThisProcess: 4, stepsLeft: 60));
        Assert.Equal(0.0, Trainer.RemainingSeconds(5, 10, 0));

        var config = Config();
        var run = RunDirectory.Create(config, TempDir());
        using var cts = new CancellationTokenSource();
        NewTrainer(config, run, new TrainerOptions { ProgressInterval = 1, Cancellation = cts.Token, OnProgress = p => { if (p.Step == 3) cts.Cancel(); } }).Run(resume: false);
        // The earlier process took (by its record) a million seconds for its 3 steps: an estimate from the whole run
        // or from the whole epoch would be millions of seconds; this process's pace (milliseconds a step) is not.
        var positionFile = Path.Combine(run.LastCheckpoint, "position.json");
        var position = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(positionFile))!;
        position["elapsed_s"] = 1e6;
        position["epoch_train_seconds"] = 1e6;
        File.WriteAllText(positionFile, position.ToJsonString());

        var progress = new List<StepProgress>();
        var (reopened, saved) = RunDirectory.Open(run.Path);
        NewTrainer(saved, reopened, new TrainerOptions { ProgressInterval = 1, OnProgress = progress.Add }).Run(resume: true);
        Assert.Equal(24 - 3, progress.Count);
        Assert.All(progress, p => Assert.True(p.EtaSeconds < 1e5, $"eta {p.EtaSeconds} s at step {p.Step}"));
        Assert.All(progress, p => Assert.True(p.ElapsedSeconds >= 1e6));
        Assert.Equal(0, progress[^1].EtaSeconds);
    }

    [Fact]
    public void NonFiniteLossStopsTheRunAsDiverged()
    {
        var config = Config("learning_rate=1e9");
        var run = RunDirectory.Create(config, TempDir());
        var summary = NewTrainer(config, run).Run(resume: false);
        Assert.Equal(StopReasons.Diverged, summary.StopReason);
        Assert.Equal("finished", summary.Status);
        Assert.Equal(summary, run.ReadSummary());
        Assert.True(summary.Steps < 24);
    }

    [Fact]
    public void EarlyStopOnceAccuracyExceedsTheThreshold()
    {
        var config = Config("early_stopping_threshold=0.05", "max_epochs=20");
        var run = RunDirectory.Create(config, TempDir());
        var summary = NewTrainer(config, run).Run(resume: false);
        Assert.Equal(StopReasons.EarlyStop, summary.StopReason);
        var metrics = run.ReadMetrics();
        Assert.Equal(summary.EpochsRun, metrics.Count);
        Assert.True(metrics[^1].ValidAccuracy > 0.05);
        Assert.All(metrics.SkipLast(1), m => Assert.True(m.ValidAccuracy <= 0.05));
        Assert.Equal(metrics.Max(m => m.ValidAccuracy), summary.BestAccuracy);
        Assert.True(Directory.Exists(run.BestCheckpoint));
    }

    [Fact]
    public void CorruptOrMismatchedCheckpointsAreClearErrors()
    {
        var config = Config("max_epochs=1");
        var run = RunDirectory.Create(config, TempDir());
        NewTrainer(config, run).Run(resume: false);

        var modelFile = Path.Combine(run.LastCheckpoint, "model.safetensors");
        var bytes = File.ReadAllBytes(modelFile);
        File.WriteAllBytes(modelFile, bytes[..(bytes.Length / 2)]);
        var e = Assert.Throws<UserError>(() => NewTrainer(config, run).Run(resume: true));
        Assert.Contains("model.safetensors", e.Message);

        var wider = Config("max_epochs=1", "model.d_model=24");
        var other = RunDirectory.Create(wider, TempDir());
        NewTrainer(wider, other).Run(resume: false);
        Directory.Delete(run.LastCheckpoint, true);
        Checkpoint.Copy(other.LastCheckpoint, run.LastCheckpoint);
        e = Assert.Throws<UserError>(() => NewTrainer(config, run).Run(resume: true));
        Assert.Contains("checkpoint was written for config", e.Message);

        Directory.Delete(run.LastCheckpoint, true);
        e = Assert.Throws<UserError>(() => NewTrainer(config, run).Run(resume: true));
        Assert.Contains("no checkpoint to resume from", e.Message);
    }

    [Fact]
    public void InterruptedCheckpointWritesAndTornMetricsAreRepairedAndTheRunMatches()
    {
        var config = Config();
        var whole = RunDirectory.Create(config, TempDir());
        NewTrainer(config, whole).Run(resume: false);

        var parted = RunDirectory.Create(config, TempDir());
        using var cts = new CancellationTokenSource();
        NewTrainer(config, parted, new TrainerOptions { Cancellation = cts.Token, OnEpoch = m => { if (m.Epoch == 1) cts.Cancel(); } }).Run(resume: false);
        // Stopped in the middle of the next checkpoint swap (last moved to last.old, last.tmp not moved in) and
        // while appending a metrics line.
        Directory.Move(parted.LastCheckpoint, parted.LastCheckpoint + ".old");
        Directory.CreateDirectory(parted.LastCheckpoint + ".tmp");
        File.AppendAllText(parted.MetricsPath, "{\"step\":24,\"ep");
        Assert.Equal(2, parted.ReadMetrics().Count);

        Assert.Equal([$"restored {parted.LastCheckpoint} from last.old (a checkpoint swap was interrupted)", $"removed the partial checkpoint {parted.LastCheckpoint}.tmp"],
            parted.RecoverCheckpoints());
        Assert.Empty(parted.RecoverCheckpoints());
        var resumed = NewTrainer(config, parted).Run(resume: true);
        Assert.Equal(Comparable(whole.ReadMetrics()), Comparable(parted.ReadMetrics()));
        Assert.Equal(("finished", 24L), (resumed.Status, resumed.Steps));

        File.WriteAllText(parted.MetricsPath, File.ReadAllText(parted.MetricsPath).Replace("\"epoch\":1,", "\"epoch\":1,,"));
        var e = Assert.Throws<UserError>(() => parted.ReadMetrics());
        Assert.StartsWith($"{parted.MetricsPath}: line 2 is not a metrics record", e.Message);
        Assert.EndsWith("repair or delete that line", e.Message);
    }

    [Fact]
    public void AnEarlyStoppedRunWhoseSummaryWasLostIsFinishedOnResumeWithoutTraining()
    {
        var config = Config("early_stopping_threshold=0.05", "max_epochs=20");
        var run = RunDirectory.Create(config, TempDir());
        var summary = NewTrainer(config, run).Run(resume: false);
        File.Delete(run.SummaryPath);
        var again = NewTrainer(config, run).Run(resume: true);
        Assert.Equal((StopReasons.EarlyStop, summary.EpochsRun, summary.Steps, summary.BestAccuracy), (again.StopReason, again.EpochsRun, again.Steps, again.BestAccuracy));
        Assert.Equal(summary.EpochsRun, run.ReadMetrics().Count);
    }

    [Fact]
    public void ARunDirectoryHasOneTrainerAtATime()
    {
        var dir = TempDir();
        using (RunLock.Acquire(dir))
        {
            Assert.True(RunLock.IsHeld(dir));
            var e = Assert.Throws<UserError>(() => RunLock.Acquire(dir));
            Assert.Equal($"{dir}: another process is training this run (it holds trainer.lock); wait for it to stop, or stop it first", e.Message);
        }
        Assert.False(RunLock.IsHeld(dir));
        using (RunLock.Acquire(dir)) Assert.True(File.Exists(Path.Combine(dir, RunLock.FileName)));
    }
}
