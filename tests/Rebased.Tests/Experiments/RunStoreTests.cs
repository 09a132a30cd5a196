using Rebased.Experiments;

namespace Rebased.Tests.Experiments;

/// <summary>Store semantics, on SQLite always and on PostgreSQL when REBASED_TEST_POSTGRES names a server
/// (postgres://user:pass@host/db); without it the PostgreSQL cases are reported as skipped.</summary>
public class RunStoreTests : SweepKitTests
{
    public static TheoryData<string> Stores => ["sqlite", "postgres"];

    internal static string? PostgresUrl => Environment.GetEnvironmentVariable("REBASED_TEST_POSTGRES");

    internal static string StoreUrl(string kind, SweepTestKit kit)
    {
        if (kind == "sqlite") return Path.Combine(kit.Dir, "store.db");
        Skip.If(string.IsNullOrEmpty(PostgresUrl), "PostgreSQL tests skipped: set REBASED_TEST_POSTGRES=postgres://user:pass@host/db (.ci/run does)");
        return PostgresUrl!;
    }

    /// <summary>Registers a sweep with a unique name (so that tests can share one PostgreSQL database).</summary>
    internal static (string Sweep, IReadOnlyList<RunRecord> Runs) Register(RunStore store, SweepTestKit kit, string parameters)
    {
        var name = "t" + Guid.NewGuid().ToString("N")[..12];
        var sweep = SweepDefinition.Load(kit.WriteSweep(name, parameters));
        var records = SweepPlan.Records(sweep, sweep.Expand(), Path.Combine(kit.Dir, "runs", name), writeFiles: true);
        Assert.Equal(records.Count, store.Register(records));
        return (name, records);
    }

    static RunOutcome Outcome(double accuracy) => new(accuracy, "max_epochs", 3, 1.5, "[{\"epoch\":1}]", "{\"status\":\"finished\"}");

    [SkippableTheory]
    [MemberData(nameof(Stores))]
    public void RegisterIsIdempotentAndClaimsFollowTheGridOrder(string kind)
    {
        using var store = RunStore.Open(StoreUrl(kind, Kit));
        var (sweep, runs) = Register(store, Kit, "  seed: {values: [1, 2, 3]}");
        Assert.Equal(0, store.Register(runs));
        var lease = TimeSpan.FromMinutes(1);
        var first = store.Claim("w1", "cuda:0", lease, sweep)!;
        Assert.Equal(runs[0].ConfigHash, first.ConfigHash);
        Assert.Equal((RunStatus.Running, "w1", "cuda:0", 1), (first.Status, first.Worker, first.Device, first.Attempts));
        Assert.NotNull(first.StartedAt);
        Assert.True(first.LeaseUntil > DateTimeOffset.UtcNow.AddSeconds(30));

        Assert.True(store.Finish(first, "w1", Outcome(0.75)));
        Assert.False(store.Finish(first, "w1", Outcome(0.8)));   // a run finishes once
        var second = store.Claim("w2", null, lease, sweep)!;
        Assert.Equal(runs[1].ConfigHash, second.ConfigHash);
        Assert.False(store.Fail(second, "w1", "not yours", null));  // only the holder writes
        Assert.True(store.Fail(second, "w2", "exit code 3", "[]"));
        var third = store.Claim("w2", null, lease, sweep)!;
        Assert.True(store.Release(third, "w2"));
        Assert.Equal(runs[2].ConfigHash, store.Claim("w3", null, lease, sweep)!.ConfigHash);
        Assert.Null(store.Claim("w4", null, lease, sweep));

        var rows = store.List(sweep);
        Assert.Equal([RunStatus.Finished, RunStatus.Failed, RunStatus.Running], rows.Select(r => r.Status));
        Assert.Equal(0.75, rows[0].BestAccuracy);
        Assert.Equal(("max_epochs", 3, 1.5, "[{\"epoch\":1}]"), (rows[0].StopReason, rows[0].EpochsRun!.Value, rows[0].WallTimeSeconds!.Value, rows[0].MetricsJson));
        Assert.NotNull(rows[0].FinishedAt);
        Assert.Equal("exit code 3", rows[1].Error);
        Assert.Equal(2, rows[2].Attempts);
        Assert.Equal(new Dictionary<string, int> { ["finished"] = 1, ["running"] = 1, ["failed"] = 1, ["pending"] = 0 }, store.Counts(sweep));
        Assert.Equal(1, store.RetryFailed(sweep));
        Assert.Equal(1, store.Counts(sweep)[RunStatus.Pending]);
        Assert.Contains(sweep, store.Sweeps());
    }

    [SkippableTheory]
    [MemberData(nameof(Stores))]
    public void ConcurrentClaimsNeverHandOutARunTwice(string kind)
    {
        var url = StoreUrl(kind, Kit);
        string sweep;
        using (var setup = RunStore.Open(url)) sweep = Register(setup, Kit, "  seed: {values: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}\n  model.d_model: {values: [8, 16, 32, 64]}").Sweep;
        // Six claimers, each with its own store (own connections), race for 40 runs.
        var claimed = new System.Collections.Concurrent.ConcurrentBag<(string Worker, string Hash)>();
        Parallel.For(0, 6, new ParallelOptions { MaxDegreeOfParallelism = 6 }, w =>
        {
            using var store = RunStore.Open(url);
            while (store.Claim($"w{w}", null, TimeSpan.FromMinutes(1), sweep) is { } run)
            {
                claimed.Add(($"w{w}", run.ConfigHash));
                Assert.True(store.Finish(run, $"w{w}", Outcome(0.5)));
            }
        });
        Assert.Equal(40, claimed.Count);
        Assert.Equal(40, claimed.Select(c => c.Hash).Distinct().Count());
        using var check = RunStore.Open(url);
        Assert.All(check.List(sweep), r => Assert.Equal((RunStatus.Finished, 1), (r.Status, r.Attempts)));
    }

    [SkippableTheory]
    [MemberData(nameof(Stores))]
    public void ExpiredLeaseIsClaimedAgainAndTheOldHolderCannotWrite(string kind)
    {
        using var store = RunStore.Open(StoreUrl(kind, Kit));
        var (sweep, _) = Register(store, Kit, "  seed: {value: 1}");
        var lease = TimeSpan.FromMilliseconds(600);
        var held = store.Claim("dead", null, lease, sweep)!;
        Assert.Null(store.Claim("alive", null, lease, sweep));
        Assert.True(store.Heartbeat(held, "dead", lease));
        Thread.Sleep(900);
        var taken = store.Claim("alive", null, TimeSpan.FromMinutes(1), sweep)!;
        Assert.Equal((held.ConfigHash, "alive", 2), (taken.ConfigHash, taken.Worker, taken.Attempts));
        Assert.False(store.Heartbeat(held, "dead", lease));
        Assert.False(store.Finish(held, "dead", Outcome(0.1)));
        Assert.True(store.Finish(taken, "alive", Outcome(0.9)));
        Assert.Equal(0.9, store.List(sweep).Single().BestAccuracy);
    }

    [Fact]
    public void StoreUrlsAreParsedOrRejected()
    {
        using (var sqlite = RunStore.Open("sqlite:" + Path.Combine(Kit.Dir, "a.db"))) Assert.Equal(Path.Combine(Kit.Dir, "a.db"), sqlite.Description);
        Assert.Contains("unknown scheme", Assert.Throws<UserError>(() => RunStore.Open("mysql://x/y")).Message);
        Assert.Contains("names no database", Assert.Throws<UserError>(() => RunStore.Open("postgres://u:secret@localhost")).Message);
        var e = Assert.Throws<UserError>(() => RunStore.Open("postgres://u:secret@127.0.0.1:1/db"));
        Assert.Contains("cannot open the results store postgres://u@127.0.0.1:1/db", e.Message);
        Assert.DoesNotContain("secret", e.Message);
    }
}
