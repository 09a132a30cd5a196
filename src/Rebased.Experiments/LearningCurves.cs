using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Rebased.Configs;
using Rebased.Training;

namespace Rebased.Experiments;

/// <summary>A run's valid accuracy after each epoch, with what identifies its config.</summary>
public sealed record LearningCurve(string Mixer, int SeqLen, int DModel, double LearningRate, long Seed, IReadOnlyList<double> ValidAccuracy,
    string? Name = null, string? Device = null, string? Commit = null, string? Run = null)
{
    /// <summary>The first epoch (1-based) whose valid accuracy is above the threshold, or null.</summary>
    public int? FirstEpochAbove(double threshold)
    {
        for (int i = 0; i < ValidAccuracy.Count; i++)
            if (ValidAccuracy[i] > threshold) return i + 1;
        return null;
    }

    public bool SameConfig(LearningCurve other) => Mixer == other.Mixer && SeqLen == other.SeqLen && DModel == other.DModel &&
        Math.Abs(LearningRate - other.LearningRate) <= 1e-12 * Math.Max(1, Math.Abs(LearningRate)) && Seed == other.Seed;
}

/// <summary>One config: our curve against the reference trainer's (same data, init seed, lr and schedule).</summary>
public sealed record CurveComparison(string Name, LearningCurve Ours, LearningCurve? Reference)
{
    public const double Threshold = 0.9;
    public const int ToleranceEpochs = 2;
    /// <summary>Below this the model has learned nothing yet (MQAR's chance accuracy is about 1/vocab).</summary>
    public const double NearChance = 0.01;

    /// <summary>Where the reference passed 0.9: ours passed it within ±2 epochs. Where it stayed near chance: ours did too
    /// over the reference's epochs. Null without a reference or while ours is too short to tell.</summary>
    public bool? MeetsTarget
    {
        get
        {
            if (Reference is null) return null;
            if (Reference.FirstEpochAbove(Threshold) is { } reference)
            {
                if (Ours.FirstEpochAbove(Threshold) is { } ours) return Math.Abs(ours - reference) <= ToleranceEpochs;
                return Ours.ValidAccuracy.Count >= reference + ToleranceEpochs ? false : null;
            }
            if (Reference.ValidAccuracy.All(a => a < NearChance))
            {
                int epochs = Reference.ValidAccuracy.Count;
                return Ours.ValidAccuracy.Count < epochs ? null : Ours.ValidAccuracy.Take(epochs).All(a => a < NearChance);
            }
            return null;
        }
    }
}

public static class LearningCurves
{
    /// <summary>The reference's curves: a file with a "runs" list (shared/reference_curves/mqar_tta_h200.json), each with
    /// mixer, L, d_model, lr, seed and valid_accuracy_by_epoch; or a results_tta.json of the reference anchor, whose
    /// "configs" list holds per config its "epochs" (a config that ran no epoch has no curve).</summary>
    public static IReadOnlyList<LearningCurve> ReadReference(string path)
    {
        if (!File.Exists(path)) throw new UserError($"{path}: reference curves file not found");
        JsonNode? root;
        try { root = JsonNode.Parse(File.ReadAllText(path)); }
        catch (JsonException e) { throw new UserError($"{path}: not valid JSON ({e.Message.Split(" Path:")[0].TrimEnd('.')})"); }
        var (list, listName) = root?["runs"] is JsonArray runs ? (runs, "runs") : root?["configs"] is JsonArray configs ? (configs, "configs")
            : throw new UserError($"{path}: neither a \"runs\" nor a \"configs\" list (expected shared/reference_curves/mqar_tta_h200.json or a results_tta.json of the reference anchor)");
        var fileSeed = root?["settings"]?["seed"] is JsonValue s && s.TryGetValue<long>(out var seed) ? seed : (long?)null;
        var curves = new List<LearningCurve>();
        int index = 0;
        foreach (var run in list)
        {
            var where = $"{path}: {listName}[{index++}]";
            T Field<T>(string key) => run?[key] is JsonValue v && v.TryGetValue<T>(out var x) ? x : throw new UserError($"{where}: '{key}' is missing or of the wrong type");
            IReadOnlyList<double> accuracy = listName == "runs"
                ? run?["valid_accuracy_by_epoch"] is JsonArray a ? a.Select(x => x!.GetValue<double>()).ToList()
                    : throw new UserError($"{where}: 'valid_accuracy_by_epoch' is missing")
                : run?["epochs"] is JsonArray epochs ? epochs.Select(e => e?["valid_accuracy"] is JsonValue v && v.TryGetValue<double>(out var x) ? x
                    : throw new UserError($"{where}: an epoch without 'valid_accuracy'")).ToList()
                    : throw new UserError($"{where}: 'epochs' is missing");
            if (accuracy.Count == 0) continue;
            long runSeed = run?["seed"] is not null ? Field<long>("seed") : fileSeed ?? throw new UserError($"{where}: 'seed' is missing (neither the config nor settings name it)");
            curves.Add(new LearningCurve(Field<string>("mixer"), Field<int>("L"), Field<int>("d_model"), Field<double>("lr"), runSeed,
                accuracy, Name: Field<string>("name")));
        }
        return curves;
    }

    /// <summary>Our curve from a run directory (config.yaml and metrics.jsonl; device and commit from summary.json when it has them).</summary>
    public static LearningCurve ReadRun(string path)
    {
        var (run, config) = RunDirectory.Open(path);
        var metrics = run.ReadMetrics();
        if (metrics.Count == 0) throw new UserError($"{run.MetricsPath}: no epochs yet (the run has not finished its first epoch)");
        var summary = run.TryReadSummary();
        var mixer = SequenceMixerPresets.NameOf(config.Model, config.Data.InputSeqLen) ?? config.Model.SequenceMixer.Name;
        return new LearningCurve(mixer, config.Data.InputSeqLen, config.Model.DModel, config.LearningRate, config.Seed,
            metrics.Select(m => m.ValidAccuracy).ToList(), Device: summary?.DeviceName ?? summary?.Device, Commit: summary?.Commit,
            Run: Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(path))));
    }

    /// <summary>Pairs each of our runs with the reference's curve of the same config and seed.</summary>
    public static IReadOnlyList<CurveComparison> Compare(IReadOnlyList<LearningCurve> ours, IReadOnlyList<LearningCurve> reference) =>
        ours.Select(o =>
        {
            var match = reference.FirstOrDefault(r => r.SameConfig(o));
            var name = match?.Name is { } n ? (match.Seed == 42 ? n : $"{n}_seed{match.Seed}")
                : $"{o.Mixer}_L{o.SeqLen}_d{o.DModel}_lr{o.LearningRate.ToString("G", CultureInfo.InvariantCulture)}_seed{o.Seed}";
            return new CurveComparison(name, o, match);
        }).ToList();

    /// <summary>The per-epoch table of one comparison, for the terminal.</summary>
    public static string Table(CurveComparison c)
    {
        var sb = new StringBuilder();
        var target = c.MeetsTarget switch { true => "meets the target", false => "MISSES the target", null => "not decidable" };
        sb.AppendLine($"{c.Name}{(c.Ours.Run is { } run && run != c.Name ? $" (run {run})" : "")}: first epoch above {CurveComparison.Threshold}: reference {Epoch(c.Reference?.FirstEpochAbove(CurveComparison.Threshold))}, " +
                      $"ours {Epoch(c.Ours.FirstEpochAbove(CurveComparison.Threshold))} ({target})");
        sb.AppendLine("  epoch  reference   ours");
        int epochs = Math.Max(c.Ours.ValidAccuracy.Count, c.Reference?.ValidAccuracy.Count ?? 0);
        for (int e = 0; e < epochs; e++)
            sb.AppendLine($"  {e + 1,5}  {Cell(c.Reference?.ValidAccuracy, e),9}  {Cell(c.Ours.ValidAccuracy, e),6}");
        return sb.ToString();

        static string Epoch(int? e) => e?.ToString(CultureInfo.InvariantCulture) ?? "never";
        static string Cell(IReadOnlyList<double>? a, int e) => a is not null && e < a.Count ? a[e].ToString("F4", CultureInfo.InvariantCulture) : "-";
    }

    /// <summary>curves.json: per config its name, both first epochs above 0.9, both curves, our device and commit.</summary>
    public static string Json(IReadOnlyList<CurveComparison> comparisons)
    {
        var list = new JsonArray();
        foreach (var c in comparisons)
            list.Add(new JsonObject
            {
                ["name"] = c.Name,
                ["run"] = c.Ours.Run,
                ["mixer"] = c.Ours.Mixer,
                ["seq_len"] = c.Ours.SeqLen,
                ["d_model"] = c.Ours.DModel,
                ["lr"] = c.Ours.LearningRate,
                ["seed"] = c.Ours.Seed,
                ["reference_first_epoch_above_0.9"] = c.Reference?.FirstEpochAbove(CurveComparison.Threshold),
                ["ours_first_epoch_above_0.9"] = c.Ours.FirstEpochAbove(CurveComparison.Threshold),
                ["meets_target"] = c.MeetsTarget,
                ["reference_valid_accuracy_by_epoch"] = c.Reference is null ? null : new JsonArray(c.Reference.ValidAccuracy.Select(a => (JsonNode?)a).ToArray()),
                ["ours_valid_accuracy_by_epoch"] = new JsonArray(c.Ours.ValidAccuracy.Select(a => (JsonNode?)a).ToArray()),
                ["device"] = c.Ours.Device,
                ["commit"] = c.Ours.Commit,
            });
        return list.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }
}
