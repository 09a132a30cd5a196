using System.Diagnostics;
using Rebased.Experiments;

namespace Rebased.Tests.Experiments;

/// <summary>`rebased sweep` as a separate process, killed (SIGKILL, or SIGINT as Ctrl-C sends) at random
/// moments and started again with the same command: every run must end finished, trained to the end exactly once.</summary>
public class KillAndResumeTests : SweepKitTests
{
    string[] SweepArgs(string file) => ["sweep", file, "--workers", "2", "--store", Path.Combine(Kit.Dir, "store.db")];

    void AssertEachRunFinishedExactlyOnce(string sweepName, int expectedRuns, int? epochs = null)
    {
        var log = Kit.LogLines();
        Assert.DoesNotContain(log, l => l.StartsWith("duplicate", StringComparison.Ordinal));
        using var store = RunStore.Open(Path.Combine(Kit.Dir, "store.db"));
        var rows = store.List(sweepName);
        Assert.Equal(expectedRuns, rows.Count);
        foreach (var row in rows)
        {
            Assert.Equal(RunStatus.Finished, row.Status);
            Assert.Equal((long)row.Config.Get("model.d_model")! / 1000.0 + 0.001, row.BestAccuracy!.Value, 9);
            Assert.True(File.Exists(Path.Combine(row.RunDir, "summary.json")));
            Assert.True(log.Count(l => l == $"finish {row.RunDir}") <= 1);
            if (epochs is { } n)
                Assert.Equal(Enumerable.Range(1, n).Select(e => $"\"epoch\":{e},"),
                    File.ReadAllLines(Path.Combine(row.RunDir, "metrics.jsonl")).Select(l => System.Text.RegularExpressions.Regex.Match(l, "\"epoch\":\\d+,").Value));
        }
        // No trainer is left behind.
        Assert.DoesNotContain(Directory.EnumerateDirectories("/proc"), p =>
        {
            try { return File.ReadAllText(Path.Combine(p, "cmdline")).Contains(Kit.Dir, StringComparison.Ordinal); }
            catch (IOException) { return false; }
        });
    }

    static int RunToEnd(Process p)
    {
        Assert.True(p.WaitForExit(120_000), "the sweep finished in time");
        p.WaitForExit(); // drains the output readers
        return p.ExitCode;
    }

    [Fact]
    public void SweepKilledAtRandomPointsFinishesEveryRunExactlyOnce()
    {
        var file = Kit.WriteSweep("killed", "  model.d_model: {values: [8, 16, 24, 32, 40, 48, 56, 64]}\n  learning_rate: {value: 1e-3}");
        // 8 runs of 0.6 s on 2 workers: 2.4 s of training, more than two attempts of at most 1.2 s each.
        var trainer = Kit.TrainerWords(epochs: 6, epochSeconds: 0.1);
        var random = new Random(20240214);
        int kills = 0;
        for (int attempt = 0; attempt < 5; attempt++)
        {
            using var sweep = Kit.StartCli(trainer, SweepArgs(file));
            Thread.Sleep(random.Next(300, 1200));
            if (sweep.HasExited) break;
            sweep.Kill(); // SIGKILL to the sweep only: its trainers are orphaned, as with kill -9
            sweep.WaitForExit();
            kills++;
        }
        using var final = Kit.StartCli(trainer, SweepArgs(file));
        Assert.Equal(0, RunToEnd(final));
        Assert.True(kills >= 2, $"the sweep was killed {kills} times");
        AssertEachRunFinishedExactlyOnce("killed", 8, epochs: 6);
    }

    [Fact]
    public void TrainersOfAKilledSweepStopThemselvesAndStatusGivesTheirRunsBack()
    {
        var file = Kit.WriteSweep("orphans", "  model.d_model: {values: [8, 16, 24]}");
        var store = Path.Combine(Kit.Dir, "store.db");
        using (var sweep = Kit.StartCli(Kit.TrainerWords(epochs: 100_000, epochSeconds: 0.05), [.. SweepArgs(file), "--lease-seconds", "4"]))
        {
            SweepTestKit.WaitUntil(() => Directory.Exists(Path.Combine(Kit.Dir, "runs", "orphans")) &&
                Directory.GetFiles(Path.Combine(Kit.Dir, "runs", "orphans"), "epoch", SearchOption.AllDirectories).Length >= 2,
                TimeSpan.FromSeconds(120), "checkpoints of two runs");
            sweep.Kill(); // kill -9 of the sweep alone
            sweep.WaitForExit();
        }
        SweepTestKit.WaitUntil(() => Kit.LogLines().Count(l => l.StartsWith("orphaned", StringComparison.Ordinal)) == 2 && !TrainerAlive(),
            TimeSpan.FromSeconds(120), "the orphaned trainers to stop", () => string.Join("\n", Kit.LogLines()));

        using (var open = RunStore.Open(store))
            SweepTestKit.WaitUntil(() => open.List("orphans").All(r => r.LeaseUntil is null || r.LeaseUntil < DateTimeOffset.UtcNow.AddSeconds(-1)),
                TimeSpan.FromSeconds(120), "the leases to expire");
        using (var status = Kit.StartCli(Kit.TrainerWords(), "sweep", "status", "--store", store))
        {
            Assert.Equal(0, RunToEnd(status));
            var output = File.ReadAllText(Path.Combine(Kit.Dir, $"cli-{status.Id}.log"));
            Assert.Contains("2 run(s) marked running had an expired lease (their sweep or worker is gone): given back as pending", output);
            Assert.Matches(@"orphans\s*│\s*0\s*│\s*0\s*│\s*0\s*│\s*3\s*│\s*3", output);
        }
        using (var again = Kit.StartCli(Kit.TrainerWords(epochs: 3), SweepArgs(file))) Assert.Equal(0, RunToEnd(again));
        AssertEachRunFinishedExactlyOnce("orphans", 3);
        Assert.Equal(2, Kit.LogLines().Count(l => l.StartsWith("start", StringComparison.Ordinal) && !l.Contains(" from=1 ")));
    }

    bool TrainerAlive() => Directory.EnumerateDirectories("/proc").Any(p =>
    {
        try { return File.ReadAllText(Path.Combine(p, "cmdline")).Contains(Kit.Trainer, StringComparison.Ordinal); }
        catch (IOException) { return false; }
    });

    [Fact]
    public void CtrlCStopsTheSweepAndTheSameCommandResumesFromCheckpoints()
    {
        var file = Kit.WriteSweep("interrupted", "  model.d_model: {values: [8, 16, 24]}");
        // Runs that cannot finish before the interrupt however slow the machine; the second sweep's trainers stop
        // at once when they resume (past their last epoch).
        var trainer = Kit.TrainerWords(epochs: 100_000, epochSeconds: 0.05);
        string[] checkpoints = [];
        using (var sweep = Kit.StartCli(trainer, ownProcessGroup: true, SweepArgs(file)))
        {
            SweepTestKit.WaitUntil(() =>
            {
                var runs = Path.Combine(Kit.Dir, "runs", "interrupted");
                checkpoints = Directory.Exists(runs) ? Directory.GetFiles(runs, "epoch", SearchOption.AllDirectories) : [];
                return checkpoints.Length >= 2;
            }, TimeSpan.FromSeconds(120), "checkpoints of two runs");
            // Ctrl-C at a terminal: SIGINT to the sweep and its trainers at once, and the sweep signals them again.
            Process.Start("kill", ["-INT", "--", $"-{sweep.Id}"])!.WaitForExit();
            Assert.Equal(1, RunToEnd(sweep)); // interrupted: exit 1, runs given back
            var output = File.ReadAllText(Path.Combine(Kit.Dir, $"cli-{sweep.Id}.log"));
            Assert.Equal(2, output.Split('\n').Count(l => l.Contains("checkpoint written, resumes from its checkpoint on the next run of the sweep")));
            Assert.Contains("this session: 0 finished, 0 failed, 2 interrupted", output);
        }
        Assert.DoesNotContain(Kit.LogLines(), l => l.StartsWith("finish", StringComparison.Ordinal));
        // The trainers were asked to stop (SIGINT), not killed.
        Assert.Equal(2, Kit.LogLines().Count(l => l.StartsWith("interrupted", StringComparison.Ordinal)));

        using (var again = Kit.StartCli(Kit.TrainerWords(epochs: 3), SweepArgs(file))) Assert.Equal(0, RunToEnd(again));
        var starts = Kit.LogLines().Where(l => l.StartsWith("start", StringComparison.Ordinal)).ToList();
        foreach (var checkpoint in checkpoints)
        {
            var runDir = Path.GetFullPath(Path.Combine(checkpoint, "..", "..", ".."));
            Assert.Contains(starts, l => l.StartsWith($"start {runDir} from=", StringComparison.Ordinal) && !l.Contains(" from=1 "));
        }
        AssertEachRunFinishedExactlyOnce("interrupted", 3);
    }
}
