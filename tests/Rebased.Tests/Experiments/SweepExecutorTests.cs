using System.Text.Json;
using Rebased.Experiments;

namespace Rebased.Tests.Experiments;

public class SweepExecutorTests : SweepKitTests
{
    RunStore OpenStore() => RunStore.Open(Path.Combine(Kit.Dir, "store.db"));

    static ExecutorOptions Options(string sweep, params string?[] slots) => new() { Slots = slots, Sweep = sweep, Lease = TimeSpan.FromSeconds(20) };

    [Fact]
    public async Task RunsEverythingPlacesRunsOnDevicesAndACrashFailsOnlyItsRun()
    {
        using var store = OpenStore();
        var (sweep, runs) = RunStoreTests.Register(store, Kit,
            "  model.sequence_mixer.name: {values: [rebased, crash, based]}\n  model.d_model: {values: [16, 32, 64]}");
        // Two devices, two runs at once on each.
        var executor = new SweepExecutor(store, Kit.FakeTrainer(epochs: 3, epochSeconds: 0.05), Options(sweep, "cuda:0", "cuda:1", "cuda:0", "cuda:1"));
        var summary = await executor.RunAsync(CancellationToken.None);

        Assert.Equal(new ExecutorSummary(6, 3, 0), summary);
        var rows = store.List(sweep);
        foreach (var row in rows)
        {
            var d = (long)row.Config.Get("model.d_model")!;
            if ((string)row.Config.Get("model.sequence_mixer.name")! == "crash")
            {
                Assert.Equal(RunStatus.Failed, row.Status);
                Assert.Equal("the trainer exited with code 3: boom: mixer crash is not a mixer", row.Error);
                continue;
            }
            Assert.Equal(RunStatus.Finished, row.Status);
            Assert.Equal(d / 1000.0 + 0.001, row.BestAccuracy!.Value, 9);
            Assert.Equal(("max_epochs", 3), (row.StopReason, row.EpochsRun!.Value));
            using var metrics = JsonDocument.Parse(row.MetricsJson!);
            Assert.Equal([1, 2, 3], metrics.RootElement.EnumerateArray().Select(e => e.GetProperty("epoch").GetInt32()));
            Assert.Contains(row.Device, new[] { "cuda:0", "cuda:1" });
            Assert.Contains($"start {row.RunDir} from=1 device={row.Device}", Kit.LogLines());
            Assert.True(File.Exists(Path.Combine(row.RunDir, "train.log")));
        }
        Assert.Equal(["cuda:0", "cuda:1"], rows.Select(r => r.Device!).Distinct().Order());

        // Never more than two runs at once on a device, and runs did overlap.
        var open = new Dictionary<string, string>();
        int maxTotal = 0;
        foreach (var line in Kit.LogLines())
        {
            var parts = line.Split(' ');
            if (parts[0] == "start" && !rows.Single(r => r.RunDir == parts[1]).Config.Get("model.sequence_mixer.name")!.Equals("crash"))
                open[parts[1]] = parts[3]["device=".Length..];
            else if (parts[0] == "finish") open.Remove(parts[1]);
            Assert.All(open.Values.GroupBy(v => v), g => Assert.True(g.Count() <= 2));
            maxTotal = Math.Max(maxTotal, open.Count);
        }
        Assert.True(maxTotal > 1, "runs ran concurrently");
    }

    [Fact]
    public async Task ResumesFromACheckpointRestartsAnAttemptWithoutOneAndRecordsARunThatHadFinished()
    {
        using var store = OpenStore();
        var (sweep, runs) = RunStoreTests.Register(store, Kit, "  model.d_model: {values: [16, 32, 48]}");
        // Run 0 was interrupted after epoch 2; run 1 had finished but its result was never recorded; run 2 was
        // killed before its first checkpoint.
        Directory.CreateDirectory(Path.Combine(runs[0].RunDir, "checkpoints", "last"));
        File.WriteAllText(Path.Combine(runs[0].RunDir, "checkpoints", "last", "epoch"), "2\n");
        File.WriteAllText(Path.Combine(runs[0].RunDir, "fake_args"), "mixer=rebased\nd=16\nlr=0.001\n");
        Directory.CreateDirectory(runs[1].RunDir);
        File.WriteAllText(Path.Combine(runs[1].RunDir, "summary.json"),
            """{"best_accuracy":0.625,"epochs_run":7,"wall_time_s":3.5,"stop_reason":"early_stop","status":"finished"}""");
        Directory.CreateDirectory(Path.Combine(runs[2].RunDir, "checkpoints", "last.tmp"));
        File.WriteAllText(Path.Combine(runs[2].RunDir, "metrics.jsonl"), "{\"epoch\":1}\n{\"epo");

        var summary = await new SweepExecutor(store, Kit.FakeTrainer(epochs: 3), Options(sweep, [null])).RunAsync(CancellationToken.None);

        Assert.Equal(new ExecutorSummary(3, 0, 0), summary);
        Assert.Equal([$"start {runs[0].RunDir} from=3 device=default", $"finish {runs[0].RunDir}",
                      $"start {runs[2].RunDir} from=1 device=default", $"finish {runs[2].RunDir}"], Kit.LogLines());
        var rows = store.List(sweep);
        Assert.All(rows, r => Assert.Equal(RunStatus.Finished, r.Status));
        Assert.Equal(0.016 + 0.001, rows[0].BestAccuracy!.Value, 9);
        Assert.Equal((0.625, "early_stop", 7, 3.5), (rows[1].BestAccuracy!.Value, rows[1].StopReason, rows[1].EpochsRun!.Value, rows[1].WallTimeSeconds!.Value));
        using var metrics = JsonDocument.Parse(rows[2].MetricsJson!);
        Assert.Equal([1, 2, 3], metrics.RootElement.EnumerateArray().Select(e => e.GetProperty("epoch").GetInt32()));
    }

    [Fact]
    public async Task CancellationStopsTheTrainersAndGivesTheRunsBack()
    {
        using var store = OpenStore();
        var (sweep, runs) = RunStoreTests.Register(store, Kit, "  model.d_model: {values: [16, 32, 48]}");
        using var cancel = new CancellationTokenSource();
        // Runs that cannot finish before the cancellation however slow the machine is.
        var running = new SweepExecutor(store, Kit.FakeTrainer(epochs: 100_000, epochSeconds: 0.05), Options(sweep, null, null)).RunAsync(cancel.Token);
        SweepTestKit.WaitUntil(() => runs.Take(2).All(r => File.Exists(Path.Combine(r.RunDir, "checkpoints", "last", "epoch"))), TimeSpan.FromSeconds(120), "two checkpoints");
        cancel.Cancel();
        Assert.Equal(new ExecutorSummary(0, 0, 2), await running);
        Assert.All(store.List(sweep), r => Assert.Equal(RunStatus.Pending, r.Status));
        Assert.DoesNotContain(Kit.LogLines(), l => l.StartsWith("finish", StringComparison.Ordinal));
        Assert.Equal(2, Kit.LogLines().Count(l => l.StartsWith("interrupted", StringComparison.Ordinal)));

        var summary = await new SweepExecutor(store, Kit.FakeTrainer(epochs: 3, epochSeconds: 0.01), Options(sweep, null, null)).RunAsync(CancellationToken.None);
        Assert.Equal(new ExecutorSummary(3, 0, 0), summary);
        var starts = Kit.LogLines().Where(l => l.StartsWith("start", StringComparison.Ordinal)).ToList();
        Assert.Equal(5, starts.Count);
        // The two interrupted runs resumed past their checkpoints (the fake stops at once when it is past its last epoch).
        Assert.All(runs.Take(2), r => Assert.Contains(starts, l => l.StartsWith($"start {r.RunDir} from=", StringComparison.Ordinal) && !l.Contains("from=1 ")));
        Assert.All(store.List(sweep), r => Assert.Equal(RunStatus.Finished, r.Status));
        Assert.Equal([2, 2, 1], store.List(sweep).Select(r => r.Attempts));
    }

    [Fact]
    public async Task TrainersThatIgnoreSigintAreStillStoppedAtACheckpoint()
    {
        using var store = OpenStore();
        var (sweep, runs) = RunStoreTests.Register(store, Kit, "  model.d_model: {values: [16, 32]}");
        // As when a script starts the sweep in the background: the trainers inherit SIGINT ignored, which no trap undoes.
        string[] words = ["bash", "-c", "trap '' INT; exec bash \"$0\" \"$@\"", .. Kit.TrainerWords(epochs: 100_000, epochSeconds: 0.05)[1..]];
        using var cancel = new CancellationTokenSource();
        var options = new ExecutorOptions { Slots = [null, null], Sweep = sweep, Lease = TimeSpan.FromSeconds(20), StopGrace = TimeSpan.FromSeconds(60) };
        var running = new SweepExecutor(store, new TrainerCommand(words), options).RunAsync(cancel.Token);
        SweepTestKit.WaitUntil(() => runs.All(r => File.Exists(Path.Combine(r.RunDir, "checkpoints", "last", "epoch"))), TimeSpan.FromSeconds(120), "two checkpoints");
        cancel.Cancel();
        Assert.Equal(new ExecutorSummary(0, 0, 2), await running);
        // Each trainer ran its stop handler (a kill after the grace period would leave no such line).
        Assert.Equal(2, Kit.LogLines().Count(l => l.StartsWith("interrupted", StringComparison.Ordinal)));
        Assert.All(store.List(sweep), r => Assert.Equal(RunStatus.Pending, r.Status));
    }
}
