using System.Text.Json.Nodes;
using Rebased.Experiments;
using Rebased.Tests.Training;

namespace Rebased.Tests.Experiments;

/// <summary>The runs file carries finished runs from one store to another: what goes out comes back the same, a
/// sweep run against the importing store skips the imported runs, and a broken file is an error naming its line.</summary>
public class RunsFileTests : SweepKitTests
{
    string RunsPath => Path.Combine(Kit.Dir, "results", "runs.jsonl");

    (RunStore Store, string Sweep, IReadOnlyList<RunRecord> Runs) StoreWithFinishedRuns(int finished)
    {
        var store = RunStore.Open(Path.Combine(Kit.Dir, "source.db"));
        var (sweep, runs) = RunStoreTests.Register(store, Kit, "  model.d_model: {values: [64, 128]}\n  learning_rate: {values: [1e-3, 3e-3]}");
        for (int i = 0; i < finished; i++)
        {
            var run = store.Claim("w", "cuda:0", TimeSpan.FromMinutes(1), sweep)!;
            var metrics = $"[{{\"epoch\":0,\"valid_accuracy\":0.25}},{{\"epoch\":1,\"valid_accuracy\":{0.5 + i / 10.0}}}]";
            var summary = "{\"status\":\"finished\",\"device_name\":\"NVIDIA H100 80GB HBM3\",\"commit\":\"abc123\"}";
            Assert.True(store.Finish(run, "w", new RunOutcome(0.5 + i / 10.0, "max_epochs", 2, 10 + i, metrics, summary, "cuda:0")));
        }
        return (store, sweep, runs);
    }

    [Fact]
    public void ExportedRunsImportIntoAFreshStoreWithTheirOutcomesAndTheSweepSkipsThem()
    {
        var (source, sweep, runs) = StoreWithFinishedRuns(finished: 3);
        using (source) Assert.Equal(3, RunsFile.Merge(RunsPath, source.List(sweep).Where(r => r.Status == RunStatus.Finished)));

        var lines = RunsFile.Read(RunsPath);
        Assert.Equal(runs.Take(3).Select(r => r.ConfigHash), lines.Select(l => l.Run.ConfigHash));
        var second = lines[1].Line;
        Assert.Equal((64L, 64L, 0.003), ((long)second["d_model"]!, (long)second["seq_len"]!, (double)second["lr"]!));
        Assert.Equal("attention", (string)second["mixer"]!); // the kit's base config
        Assert.Equal([0.25, 0.6], second["valid_accuracy_by_epoch"]!.AsArray().Select(a => (double)a!));
        Assert.Equal(("NVIDIA H100 80GB HBM3", "abc123", 11.0), ((string)second["device"]!, (string)second["commit"]!, (double)second["wall_s"]!));

        using var target = RunStore.Open(Path.Combine(Kit.Dir, "target.db"));
        Assert.Equal(3, target.ImportFinished(lines.Select(l => l.Run)));
        Assert.Equal(0, target.ImportFinished(lines.Select(l => l.Run)));     // finished rows keep their outcome
        Assert.Equal(1, target.Register(runs));                               // only the unfinished point is new
        var rows = target.List(sweep);
        Assert.Equal([RunStatus.Finished, RunStatus.Finished, RunStatus.Finished, RunStatus.Pending], rows.Select(r => r.Status));
        Assert.Equal([0.5, 0.6, 0.7], rows.Take(3).Select(r => r.BestAccuracy!.Value), new ToleranceComparer(1e-12));
        Assert.Equal(runs[3].ConfigHash, target.Claim("w", null, TimeSpan.FromMinutes(1), sweep)!.ConfigHash);
        Assert.Equal(runs.Take(3).Select(r => r.ConfigJson), rows.Take(3).Select(r => r.ConfigJson));
    }

    [Fact]
    public void TheCommittedFigure1RunsArePointsOfTheFigure1Sweep()
    {
        // The grid continues across machines from this file: a change to config reading or hashing that moved a
        // finished run off its point would re-run it.
        var points = SweepDefinition.Load(ConfigTests.RepoFile("configs", "figure1.yaml")).Expand().Select(r => r.Hash).ToHashSet();
        var committed = RunsFile.Read(ConfigTests.RepoFile("docs", "results", "figure1", "runs.jsonl"));
        Assert.Equal(90, points.Count);
        Assert.NotEmpty(committed);
        Assert.All(committed, line => Assert.Contains(line.Run.ConfigHash, points));
    }

    [Fact]
    public void ImportCompletesARunThatTheStoreHoldsAsPending()
    {
        var (source, sweep, runs) = StoreWithFinishedRuns(finished: 1);
        using (source) RunsFile.Merge(RunsPath, source.List(sweep).Where(r => r.Status == RunStatus.Finished));
        using var target = RunStore.Open(Path.Combine(Kit.Dir, "target.db"));
        target.Register(runs);
        Assert.Equal(1, target.ImportFinished(RunsFile.Read(RunsPath).Select(l => l.Run)));
        var row = target.Get(sweep, runs[0].ConfigHash)!;
        Assert.Equal((RunStatus.Finished, 0.5, "max_epochs", 2), (row.Status, row.BestAccuracy!.Value, row.StopReason, row.EpochsRun!.Value));
    }

    [Fact]
    public void ExportKeepsTheLinesAlreadyThereAndAddsOnlyNewRuns()
    {
        var (source, sweep, _) = StoreWithFinishedRuns(finished: 2);
        using (source)
        {
            var finished = source.List(sweep).Where(r => r.Status == RunStatus.Finished).ToList();
            Assert.Equal(1, RunsFile.Merge(RunsPath, finished.Skip(1)));
            var before = File.ReadAllLines(RunsPath);
            Assert.Equal(1, RunsFile.Merge(RunsPath, finished));
            Assert.Equal(0, RunsFile.Merge(RunsPath, finished));
            var after = File.ReadAllLines(RunsPath);
            Assert.Equal(2, after.Length);
            Assert.Equal(before[0], after[1]);          // ordered by grid position, the old line unchanged
        }
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(RunsPath)!, "*.tmp"));
    }

    [Theory]
    [InlineData("torn", ":2: not valid JSON")]
    [InlineData("duplicate", ":3: run ")]
    [InlineData("edited", "does not match its config")]
    [InlineData("missing", "'best_accuracy' is missing")]
    public void ABrokenRunsFileIsAnErrorNamingTheLine(string fault, string message)
    {
        var (source, sweep, _) = StoreWithFinishedRuns(finished: 2);
        using (source) RunsFile.Merge(RunsPath, source.List(sweep).Where(r => r.Status == RunStatus.Finished));
        var lines = File.ReadAllLines(RunsPath).ToList();
        switch (fault)
        {
            case "torn": lines[1] = lines[1][..(lines[1].Length / 2)]; break;
            case "duplicate": lines.Add(lines[0]); break;
            case "edited":
                var line = JsonNode.Parse(lines[0])!.AsObject();
                line["config"]!["learning_rate"] = 0.01;
                lines[0] = line.ToJsonString();
                break;
            case "missing":
                var stripped = JsonNode.Parse(lines[1])!.AsObject();
                stripped.Remove("best_accuracy");
                lines[1] = stripped.ToJsonString();
                break;
        }
        File.WriteAllLines(RunsPath, lines);
        var error = Assert.Throws<UserError>(() => RunsFile.Read(RunsPath));
        Assert.Contains(RunsPath, error.Message);
        Assert.Contains(message, error.Message);
    }

    sealed class ToleranceComparer(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double a, double b) => Math.Abs(a - b) <= tolerance;
        public int GetHashCode(double value) => 0;
    }
}
