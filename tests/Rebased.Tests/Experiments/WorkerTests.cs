using System.Diagnostics;
using Rebased.Experiments;

namespace Rebased.Tests.Experiments;

/// <summary>`rebased sweep worker` processes sharing a store, as scheduler tasks do: on SQLite always, on
/// PostgreSQL when REBASED_TEST_POSTGRES is set (skipped otherwise, with the reason shown).</summary>
public class WorkerTests : SweepKitTests
{
    static int? ReadEpoch(string runDir)
    {
        try { return int.Parse(File.ReadAllText(Path.Combine(runDir, "checkpoints", "last", "epoch"))); }
        catch (Exception e) when (e is IOException or FormatException) { return null; }
    }

    [SkippableTheory]
    [MemberData(nameof(RunStoreTests.Stores), MemberType = typeof(RunStoreTests))]
    public void TwoWorkersShareTheRunsAndAKilledWorkersRunIsReclaimedAfterItsLease(string kind)
    {
        var url = RunStoreTests.StoreUrl(kind, Kit);
        var name = "w" + Guid.NewGuid().ToString("N")[..12];
        var file = Kit.WriteSweep(name, "  model.d_model: {values: [8, 16, 24, 32, 40, 48]}");
        var trainer = Kit.TrainerWords(epochs: 6, epochSeconds: 0.15);

        // --emit-slurm records the runs and writes the array script the workers would be started by.
        var script = Path.Combine(Kit.Dir, "sweep.sbatch");
        using (var emit = Kit.StartCli(trainer, "sweep", file, "--store", url, "--emit-slurm", script)) Assert.True(emit.WaitForExit(30_000) && emit.ExitCode == 0);
        var text = File.ReadAllText(script);
        Assert.Contains("#SBATCH --array=0-5", text);
        Assert.Contains($"sweep worker --store '{url}' --sweep '{name}' --workers 1", text);
        using var store = RunStore.Open(url);
        Assert.Equal(6, store.Counts(name)[RunStatus.Pending]);

        string[] workerArgs = ["sweep", "worker", "--store", url, "--sweep", name, "--lease-seconds", "4"];
        using var a = Kit.StartCli(trainer, workerArgs);
        SweepTestKit.WaitUntil(() => store.List(name).Any(r => r.Worker?.Contains($":{a.Id}:") == true),
            TimeSpan.FromSeconds(30), "worker A's first claim");
        using var b = Kit.StartCli(trainer, workerArgs);
        SweepTestKit.WaitUntil(() => store.List(name).Any(r => r.Worker?.Contains($":{b.Id}:") == true), TimeSpan.FromSeconds(30), "worker B's first claim");

        // A dies with its trainer (a lost machine) in the middle of a run: that run stays 'running' until its lease
        // runs out.
        RunRecord? killedRun = null;
        SweepTestKit.WaitUntil(() => (killedRun = store.List(name).FirstOrDefault(r => r.Status == RunStatus.Running && r.Worker!.Contains($":{a.Id}:")
            && ReadEpoch(r.RunDir) is 1 or 2)) is not null, TimeSpan.FromSeconds(30), "worker A in the middle of a run");
        a.Kill(entireProcessTree: true);
        a.WaitForExit();
        Assert.False(File.Exists(Path.Combine(killedRun!.RunDir, "summary.json")));
        var killedAt = Stopwatch.StartNew();
        SweepTestKit.WaitUntil(() => Kit.LogLines().Count(l => l.StartsWith($"start {killedRun.RunDir} ", StringComparison.Ordinal)) == 2,
            TimeSpan.FromSeconds(30), "the killed run to be claimed again",
            () => File.ReadAllText(Path.Combine(Kit.Dir, $"cli-{b.Id}.log")) + string.Join("\n", store.List(name).Select(r => $"{r.ConfigHash} {r.Status} {r.Worker} {r.LeaseUntil:O}")));
        Assert.True(killedAt.Elapsed > TimeSpan.FromSeconds(2.5), $"re-claimed {killedAt.Elapsed} after the kill, before the lease expired");

        Assert.True(b.WaitForExit(60_000));
        Assert.Equal(0, b.ExitCode);
        var rows = store.List(name);
        Assert.All(rows, r => Assert.Equal(RunStatus.Finished, r.Status));
        var retaken = rows.Single(r => r.ConfigHash == killedRun.ConfigHash);
        Assert.Equal(2, retaken.Attempts);
        Assert.Contains($":{b.Id}:", retaken.Worker);
        var log = Kit.LogLines();
        Assert.DoesNotContain(log, l => l.StartsWith("duplicate", StringComparison.Ordinal));
        Assert.All(rows, r => Assert.Equal(1, log.Count(l => l == $"finish {r.RunDir}")));
        // No run other than the killed one was started twice.
        Assert.All(rows.Where(r => r.ConfigHash != killedRun.ConfigHash), r => Assert.Equal(1, r.Attempts));
    }
}
