using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Rebased.Experiments;

/// <summary>
/// A JSON-lines file of finished runs, one object per run, which carries a sweep's results across machines and
/// sessions (e.g. docs/results/figure1/runs.jsonl): `sweep export` adds a store's finished runs to it, `sweep import`
/// puts them into another store, where the sweep then skips them. A line holds the run's identity (sweep, config hash,
/// full config), its outcome and per-epoch metrics, and the readable fields a plot needs (mixer, d_model, seq_len, lr,
/// seed, max_epochs, valid_accuracy_by_epoch, device, commit).
/// </summary>
public static class RunsFile
{
    static readonly JsonSerializerOptions Compact = new() { WriteIndented = false };

    /// <summary>One line for a finished run of the store.</summary>
    public static JsonObject ToLine(RunRecord run)
    {
        if (run.Status != RunStatus.Finished) throw new ArgumentException($"run {run.ConfigHash} is {run.Status}, not finished");
        var config = run.Config;
        var metrics = run.MetricsJson is null ? new JsonArray() : JsonNode.Parse(run.MetricsJson)!.AsArray();
        var summary = run.SummaryJson is null ? null : JsonNode.Parse(run.SummaryJson)!.AsObject();
        return new JsonObject
        {
            ["sweep"] = run.Sweep,
            ["config_hash"] = run.ConfigHash,
            ["position"] = run.Position,
            ["mixer"] = config.Get("model.sequence_mixer.name") as string,
            ["d_model"] = Number(config, "model.d_model"),
            ["seq_len"] = Number(config, "data.input_seq_len"),
            ["lr"] = Number(config, "learning_rate"),
            ["seed"] = Number(config, "seed"),
            ["max_epochs"] = Number(config, "max_epochs"),
            ["stop_reason"] = run.StopReason,
            ["epochs_run"] = run.EpochsRun,
            ["best_accuracy"] = run.BestAccuracy,
            ["valid_accuracy_by_epoch"] = new JsonArray(metrics.Select(m => (JsonNode?)(m?["valid_accuracy"] is JsonValue v && v.TryGetValue<double>(out var a) ? JsonValue.Create(a) : null)).ToArray()),
            ["wall_s"] = run.WallTimeSeconds,
            ["device"] = summary?["device_name"]?.GetValue<string>() ?? run.Device,
            ["commit"] = summary?["commit"]?.GetValue<string>(),
            ["overrides"] = JsonNode.Parse(run.OverridesJson),
            ["config"] = JsonNode.Parse(run.ConfigJson),
            ["metrics"] = metrics,
            ["summary"] = summary,
        };
    }

    static JsonNode? Number(ConfigTree config, string key) => config.Get(key) switch
    {
        long l => JsonValue.Create(l),
        double d => JsonValue.Create(d),
        string s when double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => JsonValue.Create(d),
        _ => null,
    };

    /// <summary>The store row a line describes, checked: every field present and the config's hash equal to config_hash.</summary>
    public static RunRecord FromLine(JsonObject line, string where)
    {
        string Text(string key) => line[key] is JsonValue v && v.TryGetValue<string>(out var s) && s.Length > 0 ? s
            : throw new UserError($"{where}: '{key}' is missing or not a string (a line of `rebased sweep export` has it)");
        JsonNode Node(string key) => line[key] ?? throw new UserError($"{where}: '{key}' is missing (a line of `rebased sweep export` has it)");
        T Value<T>(string key) => Node(key) is JsonValue v && v.TryGetValue<T>(out var x) ? x
            : throw new UserError($"{where}: '{key}' is not a {(typeof(T) == typeof(int) ? "whole number" : "number")}");

        var hash = Text("config_hash");
        if (Node("config") is not JsonObject configNode) throw new UserError($"{where}: 'config' is not a JSON object");
        var configJson = configNode.ToJsonString(Compact);
        var actual = ConfigTree.FromJson(configJson).Hash();
        if (actual != hash)
            throw new UserError($"{where}: config_hash {hash} does not match its config (hash {actual}): the line was edited or written by a version that hashes configs differently; export it again from its store");
        if (Node("overrides") is not JsonObject overrides) throw new UserError($"{where}: 'overrides' is not a JSON object");
        if (Node("metrics") is not JsonArray metrics) throw new UserError($"{where}: 'metrics' is not a JSON array");
        return new RunRecord
        {
            Sweep = Text("sweep"),
            ConfigHash = hash,
            Position = Value<int>("position"),
            ConfigJson = ConfigTree.FromJson(configJson).CanonicalJson(),
            OverridesJson = overrides.ToJsonString(Compact),
            BaseConfigPath = "(imported)",
            RunDir = "(imported)",
            Status = RunStatus.Finished,
            Device = line["device"] is JsonValue device && device.TryGetValue<string>(out var name) ? name : null,
            BestAccuracy = Value<double>("best_accuracy"),
            StopReason = Text("stop_reason"),
            EpochsRun = Value<int>("epochs_run"),
            WallTimeSeconds = Value<double>("wall_s"),
            MetricsJson = metrics.ToJsonString(Compact),
            SummaryJson = line["summary"] is JsonObject summary ? summary.ToJsonString(Compact) : null,
        };
    }

    /// <summary>The file's lines, in order, each checked; a malformed line or a run given twice is an error naming
    /// the file and line. A missing file has no lines.</summary>
    public static IReadOnlyList<(JsonObject Line, RunRecord Run)> Read(string path)
    {
        var result = new List<(JsonObject, RunRecord)>();
        if (!File.Exists(path)) return result;
        var seen = new Dictionary<(string, string), int>();
        int number = 0;
        foreach (var text in File.ReadLines(path))
        {
            number++;
            if (text.Trim().Length == 0) continue;
            var where = $"{path}:{number}";
            JsonObject line;
            try
            {
                line = JsonNode.Parse(text) as JsonObject ?? throw new UserError($"{where}: not a JSON object (each line of a runs file is one run)");
            }
            catch (JsonException e)
            {
                throw new UserError($"{where}: not valid JSON ({e.Message.Split(" Path:")[0].TrimEnd('.')}); fix or delete the line, or export it again from its store");
            }
            var run = FromLine(line, where);
            if (seen.TryGetValue((run.Sweep, run.ConfigHash), out var first))
                throw new UserError($"{where}: run {run.ConfigHash} of sweep {run.Sweep} is already on line {first}; delete one of the two lines");
            seen[(run.Sweep, run.ConfigHash)] = number;
            result.Add((line, run));
        }
        return result;
    }

    /// <summary>Adds the finished runs that the file lacks (a run already in it keeps its line), writes the file whole
    /// (lines ordered by sweep and grid position) and returns how many were added.</summary>
    public static int Merge(string path, IEnumerable<RunRecord> finished)
    {
        var lines = Read(path).ToDictionary(l => (l.Run.Sweep, l.Run.ConfigHash), l => (l.Line, l.Run.Position));
        int added = 0;
        foreach (var run in finished)
        {
            if (lines.ContainsKey((run.Sweep, run.ConfigHash))) continue;
            lines[(run.Sweep, run.ConfigHash)] = (ToLine(run), run.Position);
            added++;
        }
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        var temporary = Path.Combine(directory, $".{Path.GetFileName(path)}.{Environment.ProcessId}.tmp");
        File.WriteAllLines(temporary, lines.OrderBy(l => l.Key.Sweep, StringComparer.Ordinal).ThenBy(l => l.Value.Position)
            .Select(l => l.Value.Line.ToJsonString(Compact)));
        File.Move(temporary, path, overwrite: true);
        return added;
    }
}
