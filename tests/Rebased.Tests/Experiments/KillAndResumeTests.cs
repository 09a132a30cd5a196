using System.Diagnostics;
using Rebased.Experiments;

namespace Rebased.Tests.Experiments;

/// <summary>`rebased sweep` as a separate process, killed (SIGKILL, or SIGINT as Ctrl-C sends) at random
/// moments and started again with the same command: every run must end finished, trained to the end exactly once.</summary>
public class KillAndResumeTests : IDisposable
{
    readonly SweepTestKit _kit = new();
    public void Dispose() => _kit.Dispose();

    string[] SweepArgs(string file) => ["sweep", file, "--workers", "2", "--store", Path.Combine(_kit.Dir, "store.db")];

    void AssertEachRunFinishedExactlyOnce(string sweepName, int expectedRuns)
    {
        var log = _kit.LogLines();
        Assert.DoesNotContain(log, l => l.StartsWith("duplicate", StringComparison.Ordinal));
        using var store = RunStore.Open(Path.Combine(_kit.Dir, "store.db"));
        var rows = store.List(sweepName);
        Assert.Equal(expectedRuns, rows.Count);
        foreach (var row in rows)
        {
            Assert.Equal(RunStatus.Finished, row.Status);
            Assert.Equal((long)row.Config.Get("model.d_model")! / 1000.0 + 0.001, row.BestAccuracy!.Value, 9);
            Assert.True(File.Exists(Path.Combine(row.RunDir, "summary.json")));
            Assert.True(log.Count(l => l == $"finish {row.RunDir}") <= 1);
        }
        // No trainer is left behind.
        Assert.DoesNotContain(Directory.EnumerateDirectories("/proc"), p =>
        {
            try { return File.ReadAllText(Path.Combine(p, "cmdline")).Contains(_kit.Dir, StringComparison.Ordinal); }
            catch (IOException) { return false; }
        });
    }

    static int RunToEnd(Process p)
    {
        Assert.True(p.WaitForExit(60_000), "the sweep finished in time");
        return p.ExitCode;
    }

    [Fact]
    public void SweepKilledAtRandomPointsFinishesEveryRunExactlyOnce()
    {
        var file = _kit.WriteSweep("killed", "  model.d_model: {values: [8, 16, 24, 32, 40, 48, 56, 64]}\n  learning_rate: {value: 1e-3}");
        // 8 runs of 0.6 s on 2 workers: 2.4 s of training, more than two attempts of at most 1.2 s each.
        var trainer = _kit.TrainerWords(epochs: 6, epochSeconds: 0.1);
        var random = new Random(20240214);
        int kills = 0;
        for (int attempt = 0; attempt < 5; attempt++)
        {
            using var sweep = _kit.StartCli(trainer, SweepArgs(file));
            Thread.Sleep(random.Next(300, 1200));
            if (sweep.HasExited) break;
            sweep.Kill(); // SIGKILL to the sweep only: its trainers are orphaned, as with kill -9
            sweep.WaitForExit();
            kills++;
        }
        using var final = _kit.StartCli(trainer, SweepArgs(file));
        Assert.Equal(0, RunToEnd(final));
        Assert.True(kills >= 2, $"the sweep was killed {kills} times");
        AssertEachRunFinishedExactlyOnce("killed", 8);
    }

    [Fact]
    public void CtrlCStopsTheSweepAndTheSameCommandResumesFromCheckpoints()
    {
        var file = _kit.WriteSweep("interrupted", "  model.d_model: {values: [8, 16, 24]}");
        // Runs of 2 s: long enough that none finishes before the interrupt on a loaded machine.
        var trainer = _kit.TrainerWords(epochs: 40, epochSeconds: 0.05);
        string[] checkpoints = [];
        using (var sweep = _kit.StartCli(trainer, SweepArgs(file)))
        {
            SweepTestKit.WaitUntil(() =>
            {
                var runs = Path.Combine(_kit.Dir, "runs", "interrupted");
                checkpoints = Directory.Exists(runs) ? Directory.GetFiles(runs, "epoch", SearchOption.AllDirectories) : [];
                return checkpoints.Length >= 2;
            }, TimeSpan.FromSeconds(30), "checkpoints of two runs");
            Process.Start("kill", ["-INT", sweep.Id.ToString()])!.WaitForExit();
            Assert.Equal(1, RunToEnd(sweep)); // interrupted: exit 1, runs given back
        }
        Assert.DoesNotContain(_kit.LogLines(), l => l.StartsWith("finish", StringComparison.Ordinal));
        // The trainers were asked to stop (SIGINT), not killed.
        Assert.Equal(2, _kit.LogLines().Count(l => l.StartsWith("interrupted", StringComparison.Ordinal)));

        using (var again = _kit.StartCli(trainer, SweepArgs(file))) Assert.Equal(0, RunToEnd(again));
        var starts = _kit.LogLines().Where(l => l.StartsWith("start", StringComparison.Ordinal)).ToList();
        foreach (var checkpoint in checkpoints)
        {
            var runDir = Path.GetFullPath(Path.Combine(checkpoint, "..", "..", ".."));
            Assert.Contains(starts, l => l.StartsWith($"start {runDir} from=", StringComparison.Ordinal) && !l.Contains(" from=1 "));
        }
        AssertEachRunFinishedExactlyOnce("interrupted", 3);
    }
}
