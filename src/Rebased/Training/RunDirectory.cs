using System.Text.Json;
using Rebased.Configs;

namespace Rebased.Training;

/// <summary>
/// A run's directory: config.yaml (the resolved config), metrics.jsonl, summary.json, tensorboard/
/// (event files) and checkpoints/{last,best}/. Default location runs/&lt;run_id&gt;-&lt;hash of the config&gt;/.
/// </summary>
public sealed class RunDirectory
{
    public const string ConfigFile = "config.yaml";
    public const string MetricsFile = "metrics.jsonl";
    public const string SummaryFile = "summary.json";

    public string Path { get; }
    public string ConfigPath => System.IO.Path.Combine(Path, ConfigFile);
    public string MetricsPath => System.IO.Path.Combine(Path, MetricsFile);
    public string SummaryPath => System.IO.Path.Combine(Path, SummaryFile);
    public string TensorBoardPath => System.IO.Path.Combine(Path, "tensorboard");
    public string LastCheckpoint => System.IO.Path.Combine(Path, "checkpoints", "last");
    public string BestCheckpoint => System.IO.Path.Combine(Path, "checkpoints", "best");

    private RunDirectory(string path) => Path = System.IO.Path.GetFullPath(path);

    /// <summary>The run directory at <paramref name="path"/>, to read what a trainer left there.</summary>
    public static RunDirectory At(string path) => new(path);

    /// <summary>Whether a resume has a checkpoint to start from (<see cref="Checkpoint.Exists"/>).</summary>
    public bool HasCheckpointToResume => Checkpoint.Exists(LastCheckpoint);

    /// <summary>
    /// Where a new run goes: the explicit directory, or by default runs/&lt;run_id&gt;-&lt;hash&gt;. A default directory that
    /// holds a run already (the same config was trained before) is an error saying how to resume it, unless
    /// <paramref name="newRun"/> asks for another run of the config: then -2, -3, ... after it.
    /// </summary>
    public static string PathFor(RunConfig config, string? explicitPath, bool newRun = false, string runsRoot = "runs")
    {
        if (explicitPath is not null) return explicitPath;
        var stem = System.IO.Path.Combine(runsRoot, $"{config.RunId}-{ConfigWriter.ShortHash(config)}");
        if (!HoldsRun(stem)) return stem;
        if (!newRun)
        {
            var message = new RunDirectory(stem).TryReadSummary() is { Status: "finished" } done
                ? $"{stem}: this config was trained already ({done.StopReason} after {done.EpochsRun} epoch(s), best valid accuracy " +
                  $"{done.BestAccuracy.ToString("F4", System.Globalization.CultureInfo.InvariantCulture)}; results in {stem}); add --new-run to train it again"
                : $"{stem}: an unfinished run of this config exists; continue it with `rebased train --resume {stem}`, or add --new-run to start another one";
            throw new UserError(message);
        }
        var path = stem;
        for (int n = 2; HoldsRun(path); n++) path = $"{stem}-{n}";
        return path;
    }

    /// <summary>A new run's directory at <paramref name="path"/>, which must not hold a run already (resume that one instead).</summary>
    public static RunDirectory Create(RunConfig config, string path)
    {
        if (HoldsRun(path)) throw new UserError($"{path}: already holds a run (resume it with --resume {path}, or choose another --run-dir)");
        Directory.CreateDirectory(path);
        var run = new RunDirectory(path);
        File.WriteAllText(run.ConfigPath, ConfigWriter.ToYaml(config));
        return run;
    }

    /// <summary>An existing run to resume: its resolved config is read back from config.yaml.</summary>
    public static (RunDirectory Run, RunConfig Config) Open(string path)
    {
        var run = new RunDirectory(path);
        if (!Directory.Exists(path)) throw new UserError($"{path}: run directory not found");
        if (!File.Exists(run.ConfigPath)) throw new UserError($"{path}: not a run directory (no {ConfigFile})");
        var loaded = ConfigResolver.Resolve(ConfigLoader.Load(run.ConfigPath));
        return (run, loaded.Config);
    }

    private static bool HoldsRun(string path) =>
        Directory.Exists(path) && (File.Exists(System.IO.Path.Combine(path, SummaryFile)) || File.Exists(System.IO.Path.Combine(path, MetricsFile)) ||
                                   Directory.Exists(System.IO.Path.Combine(path, "checkpoints")));

    /// <summary>
    /// metrics.jsonl, one line per epoch. A torn last line (the trainer was killed while appending it) is left out:
    /// that epoch's checkpoint was not written yet, so a resume trains the epoch again. Any other line that is not
    /// a metrics record is an error naming the file and the line.
    /// </summary>
    public IReadOnlyList<EpochMetrics> ReadMetrics()
    {
        if (!File.Exists(MetricsPath)) return Array.Empty<EpochMetrics>();
        var lines = File.ReadAllLines(MetricsPath);
        var metrics = new List<EpochMetrics>();
        for (int i = 0; i < lines.Length; i++)
        {
            if (lines[i].Length == 0) continue;
            try
            {
                metrics.Add(JsonSerializer.Deserialize<EpochMetrics>(lines[i], Json.Line)!);
            }
            catch (JsonException) when (lines.Skip(i + 1).All(l => l.Length == 0)) { }
            catch (JsonException e)
            {
                throw new UserError($"{MetricsPath}: line {i + 1} is not a metrics record ({e.Message}): repair or delete that line", e);
            }
        }
        return metrics;
    }

    /// <summary>Keeps the metrics of the first <paramref name="epochs"/> epochs (lines written after the checkpoint a resume starts from are dropped).</summary>
    public void TruncateMetrics(int epochs)
    {
        var kept = ReadMetrics().Where(m => m.Epoch < epochs).Select(m => JsonSerializer.Serialize(m, Json.Line));
        // Replaced whole, so that a kill in the middle leaves the old lines rather than a part of them.
        var temp = MetricsPath + ".tmp";
        File.WriteAllLines(temp, kept);
        File.Move(temp, MetricsPath, overwrite: true);
    }

    public void AppendMetrics(EpochMetrics metrics) =>
        File.AppendAllText(MetricsPath, JsonSerializer.Serialize(metrics, Json.Line) + "\n");

    public void WriteSummary(RunSummary summary)
    {
        var temp = SummaryPath + ".tmp";
        File.WriteAllText(temp, JsonSerializer.Serialize(summary, Json.Indented) + "\n");
        File.Move(temp, SummaryPath, overwrite: true);
    }

    public RunSummary? ReadSummary() =>
        File.Exists(SummaryPath) ? JsonSerializer.Deserialize<RunSummary>(File.ReadAllText(SummaryPath), Json.Line) : null;

    /// <summary>summary.json, or null when it is missing or unreadable (a resume rebuilds it from the checkpoint).</summary>
    public RunSummary? TryReadSummary()
    {
        try { return ReadSummary() is { Status: not null } summary ? summary : null; }
        catch (JsonException) { return null; }
    }

    /// <summary>Repairs the checkpoints after a trainer that was stopped while writing one (see <see cref="Checkpoint.Recover"/>).</summary>
    public IReadOnlyList<string> RecoverCheckpoints() => [.. Checkpoint.Recover(LastCheckpoint), .. Checkpoint.Recover(BestCheckpoint)];

    public void RemoveSummary() => File.Delete(SummaryPath);

    public TorchSharp.Modules.SummaryWriter OpenTensorBoard() => torch.utils.tensorboard.SummaryWriter(TensorBoardPath);
}
