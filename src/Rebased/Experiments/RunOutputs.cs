using System.Text.Json;

namespace Rebased.Experiments;

/// <summary>Reads what `rebased train` leaves in a run directory: summary.json (written when the run is over),
/// metrics.jsonl (one line per epoch) and checkpoints/last/ (the checkpoint a resume starts from).</summary>
public static class RunOutputs
{
    /// <summary>The executor's own log of the trainer's output, kept across attempts.</summary>
    public const string TrainLog = "train.log";

    /// <summary>Whether the run has a checkpoint to resume from: checkpoints/last, or checkpoints/last.old when the
    /// trainer was stopped in the middle of replacing it (the trainer restores it).</summary>
    public static bool HasCheckpoint(string runDir) =>
        new[] { "last", "last.old" }.Select(name => Path.Combine(runDir, "checkpoints", name))
            .Any(dir => Directory.Exists(dir) && Directory.EnumerateFileSystemEntries(dir).Any());

    /// <summary>Removes what an attempt that never reached a checkpoint left behind (the trainer refuses a run
    /// directory that already holds a run), keeping the executor's log and the run's lock file.</summary>
    public static void ClearPartialRun(string runDir)
    {
        if (!Directory.Exists(runDir)) return;
        foreach (var entry in Directory.EnumerateFileSystemEntries(runDir))
        {
            if (Path.GetFileName(entry) is TrainLog or Training.RunLock.FileName) continue;
            if (Directory.Exists(entry)) Directory.Delete(entry, recursive: true);
            else File.Delete(entry);
        }
    }

    /// <summary>The outcome of a finished run, or null when summary.json is missing or does not say "finished".</summary>
    public static RunOutcome? ReadFinished(string runDir)
    {
        var summaryPath = Path.Combine(runDir, "summary.json");
        if (!File.Exists(summaryPath)) return null;
        string text;
        JsonElement summary;
        try
        {
            text = File.ReadAllText(summaryPath);
            summary = JsonDocument.Parse(text).RootElement.Clone();
        }
        catch (Exception e) when (e is JsonException or IOException)
        {
            return null;
        }
        if (!summary.TryGetProperty("status", out var status) || status.GetString() != "finished") return null;
        return new RunOutcome(
            BestAccuracy: Number(summary, "best_accuracy") ?? throw new UserError($"{summaryPath}: no best_accuracy"),
            StopReason: summary.TryGetProperty("stop_reason", out var stop) ? stop.GetString() ?? "" : "",
            EpochsRun: (int)(Number(summary, "epochs_run") ?? 0),
            WallTimeSeconds: Number(summary, "wall_time_s") ?? 0,
            MetricsJson: ReadMetrics(runDir) ?? "[]",
            SummaryJson: text,
            Device: summary.TryGetProperty("device", out var device) && device.ValueKind == JsonValueKind.String ? device.GetString() : null);
    }

    /// <summary>metrics.jsonl as a JSON array (a torn last line, from a run killed while writing, is left out).</summary>
    public static string? ReadMetrics(string runDir)
    {
        var path = Path.Combine(runDir, "metrics.jsonl");
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

    static double? Number(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;
}
