using System.Text.Json;
using Rebased.Configs;
using TorchSharp;

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

    /// <summary>
    /// A new run's directory. Given explicitly, it must not hold a run already (resume that one instead);
    /// by default runs/&lt;run_id&gt;-&lt;hash&gt;, or -2, -3, ... after it when that is taken.
    /// </summary>
    public static RunDirectory Create(RunConfig config, string? explicitPath, string runsRoot = "runs")
    {
        string path;
        if (explicitPath is not null)
        {
            path = explicitPath;
            if (HoldsRun(path)) throw new UserError($"{path}: already holds a run (resume it with --resume {path}, or choose another --run-dir)");
        }
        else
        {
            var stem = System.IO.Path.Combine(runsRoot, $"{config.RunId}-{ConfigWriter.ShortHash(config)}");
            path = stem;
            for (int n = 2; HoldsRun(path); n++) path = $"{stem}-{n}";
        }
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

    public IReadOnlyList<EpochMetrics> ReadMetrics()
    {
        if (!File.Exists(MetricsPath)) return Array.Empty<EpochMetrics>();
        return File.ReadAllLines(MetricsPath).Where(l => l.Length > 0)
            .Select(l => JsonSerializer.Deserialize<EpochMetrics>(l, Json.Line)!).ToList();
    }

    /// <summary>Keeps the metrics of the first <paramref name="epochs"/> epochs (lines written after the checkpoint a resume starts from are dropped).</summary>
    public void TruncateMetrics(int epochs)
    {
        var kept = ReadMetrics().Where(m => m.Epoch < epochs).Select(m => JsonSerializer.Serialize(m, Json.Line));
        File.WriteAllLines(MetricsPath, kept);
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

    public void RemoveSummary() => File.Delete(SummaryPath);

    public TorchSharp.Modules.SummaryWriter OpenTensorBoard() => torch.utils.tensorboard.SummaryWriter(TensorBoardPath);
}
