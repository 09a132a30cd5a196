using System.Text.Json;

namespace Rebased.Experiments;

/// <summary>Reads what `rebased train` leaves in a run directory: summary.json (written last, when the run is
/// over), metrics.jsonl (one line per epoch) and checkpoints/.</summary>
public static class RunOutputs
{
    public static bool HasCheckpoint(string runDir)
    {
        var dir = Path.Combine(runDir, "checkpoints");
        return Directory.Exists(dir) && Directory.EnumerateFileSystemEntries(dir).Any();
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
            SummaryJson: text);
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
