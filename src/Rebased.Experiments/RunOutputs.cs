using System.Text.Json;
using Rebased.Training;

namespace Rebased.Experiments;

/// <summary>What the sweep executor needs from the run directories `rebased train` leaves (<see cref="RunDirectory"/>):
/// whether a run can resume, its outcome once finished, and its metrics as stored in the run store.</summary>
public static class RunOutputs
{
    /// <summary>The executor's own log of the trainer's output, kept across attempts.</summary>
    public const string TrainLog = "train.log";

    public static bool HasCheckpoint(string runDir) => RunDirectory.At(runDir).HasCheckpointToResume;

    /// <summary>Removes what an attempt that never reached a checkpoint left behind (the trainer refuses a run
    /// directory that already holds a run), keeping the executor's log and the run's lock file.</summary>
    public static void ClearPartialRun(string runDir)
    {
        if (!Directory.Exists(runDir)) return;
        foreach (var entry in Directory.EnumerateFileSystemEntries(runDir))
        {
            if (Path.GetFileName(entry) is TrainLog or RunLock.FileName) continue;
            if (Directory.Exists(entry)) Directory.Delete(entry, recursive: true);
            else File.Delete(entry);
        }
    }

    /// <summary>The outcome of a finished run, or null when summary.json is missing, unreadable or not "finished".</summary>
    public static RunOutcome? ReadFinished(string runDir)
    {
        var run = RunDirectory.At(runDir);
        if (run.TryReadSummary() is not { Status: "finished" } summary) return null;
        return new RunOutcome(summary.BestAccuracy, summary.StopReason, summary.EpochsRun, summary.WallTimeS,
            ReadMetrics(runDir) ?? "[]", File.ReadAllText(run.SummaryPath), summary.Device);
    }

    /// <summary>metrics.jsonl as a JSON array (a torn last line, from a run killed while writing, is left out).</summary>
    public static string? ReadMetrics(string runDir)
    {
        var path = RunDirectory.At(runDir).MetricsPath;
        if (!File.Exists(path)) return null;
        var lines = new List<string>();
        foreach (var line in File.ReadLines(path))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            try { using var _ = JsonDocument.Parse(line); lines.Add(line.Trim()); }
            catch (JsonException) { }
        }
        return "[" + string.Join(",", lines) + "]";
    }
}
