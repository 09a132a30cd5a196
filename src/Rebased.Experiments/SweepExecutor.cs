using System.Diagnostics;
using System.Text;
using Rebased.Training;

namespace Rebased.Experiments;

public sealed class ExecutorOptions
{
    /// <summary>One entry per concurrent run: the device passed to the trainer (null: the trainer's default).</summary>
    public required IReadOnlyList<string?> Slots { get; init; }
    /// <summary>Only runs of this sweep (null: any sweep in the store).</summary>
    public string? Sweep { get; init; }
    public TimeSpan Lease { get; init; } = TimeSpan.FromSeconds(120);
    /// <summary>CPU threads per child (OMP_NUM_THREADS/MKL_NUM_THREADS) unless the environment sets them.</summary>
    public int? ThreadsPerRun { get; init; }
    /// <summary>When nothing is pending, keep polling while other workers hold runs (their leases may expire).</summary>
    public bool WaitForOtherWorkers { get; init; } = true;
    public Action<string> Log { get; init; } = _ => { };
    /// <summary>How long a trainer may take to stop after the sweep asks it to before it is killed.</summary>
    public TimeSpan StopGrace { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Override keys shown in log lines (null: all).</summary>
    public IReadOnlyCollection<string>? ShownKeys { get; init; }
}

public sealed record ExecutorSummary(int Finished, int Failed, int Interrupted);

/// <summary>
/// Runs a store's pending runs as child processes (`rebased train …`), several at once: each slot claims a run,
/// starts the trainer (with --resume when the run directory holds a checkpoint), renews the run's lease while it
/// trains, and records the outcome. A crashing child marks only its run failed. On cancellation (Ctrl-C, SIGTERM)
/// the children are stopped and their runs given back as pending, to be resumed from their checkpoints.
/// </summary>
public sealed class SweepExecutor(RunStore store, TrainerCommand trainer, ExecutorOptions options)
{
    public static string WorkerPrefix => $"{Environment.MachineName}:{Environment.ProcessId}:";

    int _finished, _failed, _interrupted;

    public async Task<ExecutorSummary> RunAsync(CancellationToken cancellation)
    {
        var slots = options.Slots.Select((device, i) => Task.Run(() => SlotLoopAsync(WorkerPrefix + i, device, cancellation))).ToArray();
        await Task.WhenAll(slots);
        return new ExecutorSummary(_finished, _failed, _interrupted);
    }

    async Task SlotLoopAsync(string worker, string? device, CancellationToken cancellation)
    {
        var poll = TimeSpan.FromTicks(Math.Min(options.Lease.Ticks / 2, TimeSpan.FromSeconds(5).Ticks));
        while (!cancellation.IsCancellationRequested)
        {
            var run = store.Claim(worker, device, options.Lease, options.Sweep);
            if (run is null)
            {
                if (!options.WaitForOtherWorkers || store.CountRunningElsewhere(WorkerPrefix, options.Sweep) == 0) return;
                try { await Task.Delay(poll, cancellation); } catch (OperationCanceledException) { return; }
                continue;
            }
            await RunOneAsync(run, worker, device, cancellation);
        }
    }

    async Task RunOneAsync(RunRecord run, string worker, string? device, CancellationToken cancellation)
    {
        var label = $"{run.ConfigHash} [{run.Describe(options.ShownKeys)}]";
        if (RunOutputs.ReadFinished(run.RunDir) is { } done)
        {
            // The trainer finished but its result was not recorded (the sweep was killed in between).
            if (store.Finish(run, worker, done)) { Interlocked.Increment(ref _finished); options.Log($"recorded {label}: accuracy {done.BestAccuracy:F4} (finished earlier)"); }
            return;
        }
        if (!await WaitForOtherTrainerAsync(run.RunDir))
        {
            var busy = $"another process still trains {run.RunDir} (it holds {RunLock.FileName}): stop it, then run the sweep again with --retry-failed";
            store.Fail(run, worker, busy, null);
            Interlocked.Increment(ref _failed);
            options.Log($"failed  {label}: {busy}");
            return;
        }
        bool resume = RunOutputs.HasCheckpoint(run.RunDir);
        if (!resume) RunOutputs.ClearPartialRun(run.RunDir);
        Directory.CreateDirectory(run.RunDir);
        var args = trainer.Arguments(run, device, resume);
        var start = new ProcessStartInfo(trainer.Program[0]) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        if (options.ThreadsPerRun is { } threads)
            foreach (var name in new[] { "OMP_NUM_THREADS", "MKL_NUM_THREADS" })
                if (Environment.GetEnvironmentVariable(name) is null) start.Environment[name] = threads.ToString(System.Globalization.CultureInfo.InvariantCulture);
        start.Environment[ParentWatch.EnvironmentVariable] = Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);

        using var log = new StreamWriter(Path.Combine(run.RunDir, RunOutputs.TrainLog), append: true) { AutoFlush = true };
        var errorTail = new StringBuilder();
        log.WriteLine($"# {DateTimeOffset.UtcNow:O} {worker}: {trainer.Program[0]} {string.Join(" ", args)}");

        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (log)
            {
                log.WriteLine(e.Data);
                errorTail.AppendLine(e.Data);
                if (errorTail.Length > 4000) errorTail.Remove(0, errorTail.Length - 4000);
            }
        };
        try { process.Start(); }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            store.Fail(run, worker, $"cannot start the trainer '{trainer.Program[0]}': {e.Message}", null);
            Interlocked.Increment(ref _failed);
            options.Log($"failed  {label}: cannot start the trainer: {e.Message}");
            return;
        }
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        options.Log($"started {label}{(device is null ? "" : $" on {device}")}{(resume ? " (resuming)" : "")}");

        using var stopHeartbeat = new CancellationTokenSource();
        bool leaseLost = false;
        var heartbeat = Task.Run(async () =>
        {
            var interval = options.Lease / 4;
            while (!stopHeartbeat.IsCancellationRequested)
            {
                try { await Task.Delay(interval, stopHeartbeat.Token); } catch (OperationCanceledException) { return; }
                bool held;
                try { held = store.Heartbeat(run, worker, options.Lease); }
                catch (Exception) { continue; } // a store hiccup; the next beat retries before the lease runs out
                if (!held) { leaseLost = true; Kill(process); return; }
            }
        });

        try { await process.WaitForExitAsync(cancellation); }
        catch (OperationCanceledException) { await InterruptAsync(process); }
        process.WaitForExit(); // drains the output readers
        stopHeartbeat.Cancel();
        await heartbeat;

        if (leaseLost) { options.Log($"lost    {label}: its lease expired and another worker took it"); return; }
        if (process.ExitCode == 0 && RunOutputs.ReadFinished(run.RunDir) is { } outcome)
        {
            if (store.Finish(run, worker, outcome)) Interlocked.Increment(ref _finished);
            options.Log($"done    {label}: accuracy {outcome.BestAccuracy:F4} ({outcome.StopReason}, {outcome.EpochsRun} epochs)");
            return;
        }
        // A trainer stopped by a signal (the sweep's, or a terminal's Ctrl-C that reached it first) wrote its
        // checkpoint and exits 130; one killed after the grace period resumes from its previous checkpoint.
        if (process.ExitCode == TrainerCommand.InterruptedExitCode || cancellation.IsCancellationRequested)
        {
            store.Release(run, worker);
            Interlocked.Increment(ref _interrupted);
            var stopped = process.ExitCode == TrainerCommand.InterruptedExitCode
                ? "checkpoint written, resumes from its checkpoint"
                : $"the trainer exited with code {process.ExitCode} without writing a checkpoint at the stop; it " +
                  (RunOutputs.HasCheckpoint(run.RunDir) ? "resumes from its last earlier checkpoint" : "had no checkpoint yet and starts again from the beginning");
            options.Log($"stopped {label}: {stopped} on the next run of the sweep");
            return;
        }
        string tail;
        lock (log) tail = LastLines(errorTail.ToString(), 3);
        var error = process.ExitCode == 0
            ? "the trainer exited without writing a finished summary.json"
            : $"the trainer exited with code {process.ExitCode}{(tail.Length > 0 ? ": " + tail : "")}";
        store.Fail(run, worker, error, RunOutputs.ReadMetrics(run.RunDir));
        Interlocked.Increment(ref _failed);
        options.Log($"failed  {label}: {error}");
    }

    static string LastLines(string text, int count) =>
        string.Join(" | ", text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).TakeLast(count));

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    static extern int SendSignal(int pid, int signal);

    /// <summary>Waits (up to the stop grace period) for a trainer that this sweep did not start, such as one left by a
    /// killed sweep that is writing its last checkpoint, to let go of the run directory. False when it did not.</summary>
    async Task<bool> WaitForOtherTrainerAsync(string runDir)
    {
        var deadline = DateTime.UtcNow + options.StopGrace;
        while (RunLock.IsHeld(runDir))
        {
            if (DateTime.UtcNow > deadline) return false;
            await Task.Delay(100, CancellationToken.None);
        }
        return true;
    }

    /// <summary>Asks the trainer to stop (it writes its checkpoint at the next step boundary), and kills it when it has
    /// not stopped within the grace period. SIGTERM, not SIGINT: a sweep started in the background by a script runs
    /// with SIGINT ignored, its trainers inherit that, and an ignored signal stays ignored.</summary>
    async Task InterruptAsync(Process process)
    {
        if (!process.HasExited) SendSignal(process.Id, SigTerm);
        using var grace = new CancellationTokenSource(options.StopGrace);
        try { await process.WaitForExitAsync(grace.Token); }
        catch (OperationCanceledException) { Kill(process); await process.WaitForExitAsync(CancellationToken.None); }
    }

    static void Kill(Process process)
    {
        try { if (!process.HasExited) process.Kill(entireProcessTree: true); }
        catch (InvalidOperationException) { }
    }

    /// <summary>
    /// Puts back runs that a killed sweep on this machine left 'running' (its process is gone): a trainer it left
    /// behind (a process training the run's directory, started with --run-dir or --resume) is asked to stop (it
    /// writes its checkpoint) and killed after the grace period, a run whose trainer had finished is recorded as
    /// finished, the others become pending and resume from their checkpoints.
    /// </summary>
    public static (int Recorded, int Released) RecoverLocal(RunStore store, string? sweep, TimeSpan? grace = null)
    {
        int recorded = 0, released = 0;
        var host = Environment.MachineName + ":";
        foreach (var run in store.List(sweep).Where(r => r.Status == RunStatus.Running && r.Worker?.StartsWith(host, StringComparison.Ordinal) == true))
        {
            var parts = run.Worker!.Split(':');
            if (parts.Length < 3 || !int.TryParse(parts[1], out var pid) || pid == Environment.ProcessId || IsAlive(pid)) continue;
            StopOrphanedTrainers(run.RunDir, grace ?? TimeSpan.FromSeconds(30));
            if (RunOutputs.ReadFinished(run.RunDir) is { } outcome) { if (store.Finish(run, run.Worker, outcome)) recorded++; }
            else if (store.Release(run, run.Worker)) released++;
        }
        return (recorded, released);
    }

    static bool IsAlive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var state = stat[(stat.LastIndexOf(')') + 2)..].FirstOrDefault();
            return state is not ('Z' or 'X');
        }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return true; }
    }

    const int SigTerm = 15;

    static void StopOrphanedTrainers(string runDir, TimeSpan grace)
    {
        var orphans = new List<Process>();
        foreach (var pid in TrainerProcesses.Of(runDir))
        {
            try { orphans.Add(Process.GetProcessById(pid)); }
            catch (ArgumentException) { continue; } // already gone
            SendSignal(pid, SigTerm);
        }
        var deadline = DateTime.UtcNow + grace;
        foreach (var orphan in orphans)
        {
            using (orphan)
            {
                var left = deadline - DateTime.UtcNow;
                if (!orphan.WaitForExit(left > TimeSpan.Zero ? left : TimeSpan.Zero)) Kill(orphan);
                orphan.WaitForExit(10_000);
            }
        }
    }
}
