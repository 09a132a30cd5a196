using System.Diagnostics;
using Rebased.Experiments;
using Rebased.Tests.Experiments;
using Rebased.Training;

namespace Rebased.Tests.Training;

/// <summary>An uninterrupted `rebased train` of the tiny config, trained once for the tests that compare with it.</summary>
public sealed class TinyReference : IDisposable
{
    public SweepTestKit Kit { get; } = new();
    public string Config => Path.Combine(Kit.Dir, "tiny.yaml");
    public string RunDir => Path.Combine(Kit.Dir, "reference");
    public IReadOnlyList<EpochMetrics> Metrics { get; }
    public const int Epochs = 12;

    public TinyReference()
    {
        File.WriteAllText(Config, "model:\n  sequence_mixer:\n    name: rebased\n  d_model: 24\n  vocab_size: 64\n" +
            "data:\n  vocab_size: 64\n  input_seq_len: 16\n  batch_size: 32\n  num_train_examples: 320\n  num_test_examples: 64\n  caching: false\n" +
            $"max_epochs: {Epochs}\nlearning_rate: 0.003\nseed: 11\nrun_id: tiny\n");
        using var p = TrainFaultTests.Train(Kit, "--config", Config, "--run-dir", RunDir);
        Assert.True(p.WaitForExit(120_000));
        Assert.Equal(0, p.ExitCode);
        Metrics = RunDirectory.Open(RunDir).Run.ReadMetrics();
        Assert.Equal(Epochs, Metrics.Count);
    }

    public void Dispose() => Kit.Dispose();
}

/// <summary>
/// The real trainer as a process, killed (SIGKILL), interrupted (SIGINT twice, SIGTERM, its sweep gone) and
/// faced with torn files: whatever happens, a resumed run writes one metrics line per epoch and ends with the
/// metrics of an uninterrupted run. Kills land at random moments after observed progress (a new metrics line),
/// so the assertions hold however slow the machine is.
/// </summary>
[Collection(TrainFaultTests.Name)]
public class TrainFaultTests(TinyReference reference) : IClassFixture<TinyReference>
{
    public const string Name = "trainer processes";
    readonly SweepTestKit _kit = reference.Kit;

    internal static Process Train(SweepTestKit kit, params string[] args) => Train(kit, null, args);

    internal static Process Train(SweepTestKit kit, IDictionary<string, string>? environment, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = kit.Dir };
        foreach (var a in (string[])[Path.Combine(AppContext.BaseDirectory, "Rebased.Cli.dll"), "train", "--threads", "1", .. args]) start.ArgumentList.Add(a);
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) start.Environment[k] = v;
        var p = Process.Start(start)!;
        var output = Output(kit, p);
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (kit) File.AppendAllText(output, e.Data + "\n"); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (kit) File.AppendAllText(output, e.Data + "\n"); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    static string Output(SweepTestKit kit, Process p) => Path.Combine(kit.Dir, $"train-{p.Id}.log");

    static string ReadOutput(SweepTestKit kit, Process p)
    {
        p.WaitForExit();
        lock (kit) return File.Exists(Output(kit, p)) ? File.ReadAllText(Output(kit, p)) : "";
    }

    static int MetricsLines(string runDir)
    {
        try { return File.ReadAllLines(Path.Combine(runDir, RunDirectory.MetricsFile)).Count(l => l.Length > 0); }
        catch (IOException) { return 0; }
    }

    /// <summary>Waits until the trainer has written at least one more epoch than <paramref name="before"/> (or exited).</summary>
    static void WaitForProgress(Process p, string runDir, int before) =>
        SweepTestKit.WaitUntil(() => p.HasExited || MetricsLines(runDir) > before, TimeSpan.FromSeconds(120), $"an epoch of {runDir}");

    string NewRunDir() => Path.Combine(_kit.Dir, "run-" + Guid.NewGuid().ToString("N")[..8]);

    void AssertMatchesTheReference(string runDir)
    {
        var (run, _) = RunDirectory.Open(runDir);
        Assert.Equal(TrainingTestKit.Comparable(reference.Metrics), TrainingTestKit.Comparable(run.ReadMetrics()));
        Assert.Equal(TinyReference.Epochs, File.ReadAllLines(run.MetricsPath).Count(l => l.Length > 0));
        Assert.Equal(("finished", StopReasons.MaxEpochs), (run.ReadSummary()!.Status, run.ReadSummary()!.StopReason));
        Assert.False(Directory.Exists(run.LastCheckpoint + ".tmp"));
    }

    int Finish(string runDir)
    {
        using var p = Train(_kit, "--resume", runDir);
        Assert.True(p.WaitForExit(120_000));
        return p.ExitCode;
    }

    [Fact]
    public void RepeatedKillsAtRandomMomentsAndTornFilesStillGiveTheUninterruptedRun()
    {
        var runDir = NewRunDir();
        var random = new Random(16);
        int kills = 0;
        for (int attempt = 0; attempt < 4; attempt++)
        {
            bool resume = File.Exists(Path.Combine(runDir, RunDirectory.ConfigFile));
            using var p = resume ? Train(_kit, "--resume", runDir) : Train(_kit, "--config", reference.Config, "--run-dir", runDir);
            WaitForProgress(p, runDir, MetricsLines(runDir));
            if (attempt == 1 && !p.HasExited)
            {
                // A second trainer on the same run is refused, and touches nothing. The first one is paused meanwhile,
                // so that it does not train to the end while the second starts.
                Signal(p.Id, "STOP");
                using var second = Train(_kit, "--resume", runDir);
                Assert.True(second.WaitForExit(60_000));
                Signal(p.Id, "CONT");
                var refusal = ReadOutput(_kit, second);
                Assert.True(second.ExitCode == 1 && refusal.Contains($"process {p.Id} is training this run"), $"exit {second.ExitCode}: {refusal}");
            }
            Thread.Sleep(random.Next(0, 150)); // a random moment: mid-step, mid-checkpoint or mid-evaluation
            Assert.False(p.HasExited && p.ExitCode != 0, $"attempt {attempt} failed: {(p.HasExited ? ReadOutput(_kit, p) : "")}");
            if (p.HasExited) break;
            p.Kill();
            p.WaitForExit();
            if (p.ExitCode == 0) break; // it finished on its own between the check and the kill: there is nothing to tear
            kills++;
            if (attempt == 2)
            {
                // Killed while appending a metrics line, and while swapping in a checkpoint.
                File.AppendAllText(Path.Combine(runDir, RunDirectory.MetricsFile), "{\"step\":12,\"epo");
                Directory.CreateDirectory(Path.Combine(runDir, "checkpoints", "last.tmp"));
                File.WriteAllText(Path.Combine(runDir, "checkpoints", "last.tmp", "model.safetensors"), "partial");
            }
        }
        Assert.True(kills >= 3, $"the trainer was killed {kills} times (the run ended before the kills)");
        Assert.Equal(0, Finish(runDir));
        AssertMatchesTheReference(runDir);
    }

    [Fact]
    public void EveryWayOfStoppingATrainerWritesACheckpointAndTheResumedRunMatches()
    {
        var runDir = NewRunDir();
        using var sleeper = Process.Start("sleep", "600")!;
        string[] ways = ["parent gone", "SIGINT twice", "SIGTERM"];
        foreach (var way in ways)
        {
            var env = way == "parent gone" ? new Dictionary<string, string> { [ParentWatch.EnvironmentVariable] = sleeper.Id.ToString() } : null;
            bool resume = File.Exists(Path.Combine(runDir, RunDirectory.ConfigFile));
            using var p = resume ? Train(_kit, env, "--resume", runDir) : Train(_kit, env, "--config", reference.Config, "--run-dir", runDir);
            WaitForProgress(p, runDir, MetricsLines(runDir));
            Assert.False(p.HasExited, $"{way}: the run ended before it was stopped");
            switch (way)
            {
                case "SIGINT twice": Signal(p.Id, "INT"); Signal(p.Id, "INT"); break;
                case "SIGTERM": Signal(p.Id, "TERM"); break;
                default: sleeper.Kill(); break;
            }
            Assert.True(p.WaitForExit(60_000));
            var output = ReadOutput(_kit, p);
            Assert.True(TrainerCommand.InterruptedExitCode == p.ExitCode, $"{way}: exit {p.ExitCode}\n{output}");
            Assert.Contains($"checkpoint written to {Path.Combine(runDir, "checkpoints", "last")}; continue with `rebased train --resume {runDir}`", output);
            if (way == "parent gone") Assert.Contains("the sweep that started this trainer is gone", output);
            Assert.True(File.Exists(Path.Combine(runDir, "checkpoints", "last", "position.json")));
            Assert.False(Directory.Exists(Path.Combine(runDir, "checkpoints", "last.tmp")));
            Assert.True(MetricsLines(runDir) < TinyReference.Epochs);
        }
        Assert.Equal(0, Finish(runDir));
        AssertMatchesTheReference(runDir);

        // A corrupt summary.json and a hand-edited position past max_epochs: the run is finished, from its checkpoint.
        File.WriteAllText(Path.Combine(runDir, RunDirectory.SummaryFile), "{\"status\": \"fini");
        var position = Path.Combine(runDir, "checkpoints", "last", "position.json");
        File.WriteAllText(position, System.Text.RegularExpressions.Regex.Replace(File.ReadAllText(position), "\"epoch\": \\d+", "\"epoch\": 99"));
        using (var p = Train(_kit, "--resume", runDir))
        {
            Assert.True(p.WaitForExit(60_000));
            var output = ReadOutput(_kit, p);
            Assert.Equal(0, p.ExitCode);
            Assert.Contains($"note: {Path.Combine(runDir, RunDirectory.SummaryFile)} is unreadable", output);
            Assert.Contains("finished: max_epochs after 12 epoch(s)", output);
        }
        AssertMatchesTheReference(runDir);

        // A position that is not JSON: one line naming the file and the fix.
        File.WriteAllText(position, "{\"epoch\": 3, \"next_ba");
        File.Delete(Path.Combine(runDir, RunDirectory.SummaryFile));
        using (var p = Train(_kit, "--resume", runDir))
        {
            Assert.True(p.WaitForExit(60_000));
            Assert.Equal(1, p.ExitCode);
            var error = ReadOutput(_kit, p).Split('\n').Single(l => l.StartsWith("error:", StringComparison.Ordinal));
            Assert.StartsWith($"error: {position}: corrupt checkpoint position", error);
            Assert.EndsWith("restore it, or delete the checkpoint folder to train the run again from the beginning", error);
        }
    }

    static void Signal(int pid, string signal) => Process.Start("kill", [$"-{signal}", pid.ToString()])!.WaitForExit();

    [Fact]
    public void TrainingAFinishedConfigAgainSaysSoAndNewRunStartsAnother()
    {
        var runs = Path.Combine(_kit.Dir, "runs");
        var config = TrainingTestKit.Config();
        var stem = RunDirectory.PathFor(config, null, runsRoot: runs);
        var run = RunDirectory.Create(config, stem);
        run.WriteSummary(new RunSummary("toy", "finished", StopReasons.MaxEpochs, 0.5, 3, 24, 1, 10, "cpu", "hash"));
        var e = Assert.Throws<UserError>(() => RunDirectory.PathFor(config, null, runsRoot: runs));
        Assert.Equal($"{stem}: this config was trained already (max_epochs after 3 epoch(s), best valid accuracy 0.5000; results in {stem}); add --new-run to train it again", e.Message);
        Assert.Equal(stem + "-2", RunDirectory.PathFor(config, null, newRun: true, runsRoot: runs));

        File.Delete(run.SummaryPath);
        File.WriteAllText(run.MetricsPath, "");
        e = Assert.Throws<UserError>(() => RunDirectory.PathFor(config, null, runsRoot: runs));
        Assert.Equal($"{stem}: an unfinished run of this config exists; continue it with `rebased train --resume {stem}`, or add --new-run to start another one", e.Message);
    }
}

[CollectionDefinition(TrainFaultTests.Name)]
public sealed class TrainFaultCollection;
