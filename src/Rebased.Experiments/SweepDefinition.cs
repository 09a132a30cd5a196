using YamlDotNet.RepresentationModel;

namespace Rebased.Experiments;

/// <summary>One point of a sweep's grid: its overrides (dotted key → value, in the sweep file's order) and the
/// resulting config with its identity.</summary>
public sealed record SweepRun(int Index, IReadOnlyList<KeyValuePair<string, object?>> Overrides, ConfigTree Config, string Hash)
{
    public string Describe() => string.Join(" ", Overrides.Select(o => $"{o.Key}={ConfigTree.FormatScalar(o.Value)}"));
}

/// <summary>
/// A grid sweep in the W&amp;B sweep format the reference writes (configs/main_fig_sweep.yaml): `method: grid`,
/// `parameters` whose entries carry `values: [...]` or `value: x` under dotted config keys, and the base config
/// named by `--config_path` in `command`. Our own files may give the base config as `base:` instead (a path,
/// relative to the sweep file, or an inline mapping).
/// </summary>
public sealed class SweepDefinition
{
    public required string Name { get; init; }
    public required string SourcePath { get; init; }
    /// <summary>Absolute path of the base config file; null when the base is inline.</summary>
    public string? BaseConfigPath { get; init; }
    public required ConfigTree BaseConfig { get; init; }
    public required IReadOnlyList<(string Key, IReadOnlyList<object?> Values)> Parameters { get; init; }

    public static SweepDefinition Load(string path)
    {
        if (!File.Exists(path)) throw new UserError($"sweep file not found: {path}");
        var full = Path.GetFullPath(path);
        var stream = Configs.YamlText.Load(File.ReadAllText(full), path);
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
            throw new UserError($"{path}: a sweep file must be a YAML mapping");

        var method = Scalar(root, "method") ?? "grid";
        if (method != "grid") throw new UserError($"{path}: method '{method}' is not supported (only grid)");
        var name = Scalar(root, "name") ?? Path.GetFileNameWithoutExtension(full);
        if (name.Length == 0 || name.IndexOfAny(['/', '\\']) >= 0 || name.Contains(".."))
            throw new UserError($"{path}: sweep name '{name}' must be a plain name (it names the runs folder)");

        var (baseConfig, basePath) = ReadBase(root, full, path);
        var parameters = ReadParameters(root, path);
        return new SweepDefinition { Name = name, SourcePath = full, BaseConfigPath = basePath, BaseConfig = baseConfig, Parameters = parameters };
    }

    static string? Scalar(YamlMappingNode map, string key) =>
        map.Children.TryGetValue(new YamlScalarNode(key), out var node) ? (node as YamlScalarNode)?.Value : null;

    static (ConfigTree, string?) ReadBase(YamlMappingNode root, string fullPath, string shownPath)
    {
        string? relative = null;
        if (root.Children.TryGetValue(new YamlScalarNode("base"), out var baseNode))
        {
            if (baseNode is YamlMappingNode inline) return (ConfigTree.FromMapping(inline), null);
            relative = (baseNode as YamlScalarNode)?.Value;
        }
        else if (root.Children.TryGetValue(new YamlScalarNode("command"), out var commandNode) && commandNode is YamlSequenceNode command)
        {
            var args = command.Children.OfType<YamlScalarNode>().Select(s => s.Value ?? "").ToList();
            for (int i = 0; i < args.Count; i++)
            {
                if (args[i] == "--config_path" && i + 1 < args.Count) relative = args[i + 1];
                else if (args[i].StartsWith("--config_path=", StringComparison.Ordinal)) relative = args[i]["--config_path=".Length..];
            }
        }
        if (string.IsNullOrEmpty(relative))
            throw new UserError($"{shownPath}: no base config: give `base: FILE` or a `command` with --config_path FILE");
        var resolved = ResolveBase(relative, fullPath)
            ?? throw new UserError($"{shownPath}: base config '{relative}' not found (looked next to the sweep file, its parent folder and the current folder)");
        return (ConfigTree.LoadYaml(resolved), resolved);
    }

    /// <summary>The reference's command paths are relative to the repository root (configs/config_mqar.yaml next to
    /// configs/main_fig_sweep.yaml), ours to the sweep file; both are tried, then the current folder.</summary>
    static string? ResolveBase(string relative, string sweepPath)
    {
        if (Path.IsPathRooted(relative)) return File.Exists(relative) ? relative : null;
        var sweepDir = Path.GetDirectoryName(sweepPath)!;
        var candidates = new List<string> { Path.Combine(sweepDir, relative) };
        if (Path.GetDirectoryName(sweepDir) is { } parent) candidates.Add(Path.Combine(parent, relative));
        candidates.Add(Path.GetFullPath(relative));
        return candidates.Select(Path.GetFullPath).FirstOrDefault(File.Exists);
    }

    static List<(string, IReadOnlyList<object?>)> ReadParameters(YamlMappingNode root, string path)
    {
        if (!root.Children.TryGetValue(new YamlScalarNode("parameters"), out var node)) return [];
        if (node is not YamlMappingNode parameters) throw new UserError($"{path}: `parameters` must be a mapping");
        var result = new List<(string, IReadOnlyList<object?>)>();
        foreach (var (keyNode, specNode) in parameters.Children)
        {
            var key = ((YamlScalarNode)keyNode).Value ?? "";
            if (specNode is not YamlMappingNode spec)
                throw new UserError($"{path}: parameter '{key}' must be a mapping with `values` or `value`");
            if (spec.Children.TryGetValue(new YamlScalarNode("values"), out var values))
            {
                if (values is not YamlSequenceNode list || list.Children.Count == 0)
                    throw new UserError($"{path}: parameter '{key}': `values` must be a non-empty list");
                result.Add((key, list.Children.Select(ConfigTree.ConvertNode).ToList()));
            }
            else if (spec.Children.TryGetValue(new YamlScalarNode("value"), out var value))
                result.Add((key, [ConfigTree.ConvertNode(value)]));
            else
                throw new UserError($"{path}: parameter '{key}' has neither `values` nor `value` (distributions need method random/bayes, which are not supported)");
        }
        return result;
    }

    /// <summary>The grid in a stable order: parameters in file order, the first one varying slowest. Points whose
    /// configs coincide are listed once.</summary>
    public IReadOnlyList<SweepRun> Expand()
    {
        var runs = new List<SweepRun>();
        var seen = new HashSet<string>();
        var choice = new int[Parameters.Count];
        long total = Parameters.Aggregate(1L, (n, p) => n * p.Values.Count);
        for (long point = 0; point < total; point++)
        {
            long rest = point;
            for (int i = Parameters.Count - 1; i >= 0; i--)
            {
                choice[i] = (int)(rest % Parameters[i].Values.Count);
                rest /= Parameters[i].Values.Count;
            }
            var config = BaseConfig.Clone();
            var overrides = new List<KeyValuePair<string, object?>>();
            for (int i = 0; i < Parameters.Count; i++)
            {
                var value = Parameters[i].Values[choice[i]];
                config.Set(Parameters[i].Key, value);
                overrides.Add(new(Parameters[i].Key, value));
            }
            var hash = config.Hash();
            if (seen.Add(hash)) runs.Add(new SweepRun(runs.Count, overrides, config, hash));
        }
        return runs;
    }
}
