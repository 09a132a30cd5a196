using System.Globalization;
using System.Numerics;
using System.Reflection;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Rebased.Configs;

/// <summary>A config as read: the typed config and the notes about what was ignored or changed.</summary>
public sealed record LoadedConfig(RunConfig Config, IReadOnlyList<string> Notes, string Source);

/// <summary>
/// Reads the reference's YAML run configs (snake_case keys onto <see cref="RunConfig"/>) and applies
/// <c>key.path=value</c> overrides with dotted paths, as W&amp;B sweeps pass them. Every problem is a
/// <see cref="UserError"/> naming the key and where it came from (file and line, or the override).
/// </summary>
public static class ConfigLoader
{
    /// <summary>Top-level keys that only drive W&amp;B or the terminal in the reference; accepted and ignored.</summary>
    public static readonly IReadOnlySet<string> IgnoredKeys =
        new HashSet<string> { "logger", "tags", "tqdm", "launch_id", "sweep_id", "_wandb", "sequence_mixer" };

    public static LoadedConfig Load(string path, IEnumerable<string>? overrides = null, string overrideLabel = "--set")
    {
        if (!File.Exists(path)) throw new UserError($"{path}: config file not found");
        return Parse(File.ReadAllText(path), path, overrides, overrideLabel);
    }

    /// <summary>Parses a config's YAML text and applies the overrides; <paramref name="overrideLabel"/> names them in
    /// messages: "--set" on the command line, "parameter" in a sweep.</summary>
    public static LoadedConfig Parse(string yaml, string source, IEnumerable<string>? overrides = null, string overrideLabel = "--set")
    {
        var sources = new Dictionary<YamlNode, string>(ReferenceEqualityComparer.Instance);
        var root = ReadRoot(yaml, source);
        MarkSources(root, source, sources);
        foreach (var assignment in overrides ?? Array.Empty<string>()) ApplyOverride(root, assignment, $"{overrideLabel} {assignment}", sources);

        var notes = new List<string>();
        var config = new RunConfig();
        Bind(root, config, "", sources, notes);
        if (Lookup(root, "model", "sequence_mixer", "name") is null)
            throw new UserError($"{source}: model.sequence_mixer.name: missing (the reference has no default mixer); set it in the file or with --set model.sequence_mixer.name=rebased");
        return new LoadedConfig(config, notes, source);
    }

    private static YamlNode? Lookup(YamlMappingNode map, params string[] path)
    {
        YamlNode? node = map;
        foreach (var key in path)
            node = node is YamlMappingNode m && m.Children.TryGetValue(new YamlScalarNode(key), out var child) ? child : null;
        return node;
    }

    private static YamlMappingNode ReadRoot(string yaml, string source)
    {
        var stream = YamlText.Load(yaml, source);
        if (stream.Documents.Count == 0) return new YamlMappingNode();
        return stream.Documents[0].RootNode as YamlMappingNode
            ?? throw new UserError($"{source}: the top level must be a mapping of keys (data, model, learning_rate, ...)");
    }

    private static void MarkSources(YamlNode node, string source, Dictionary<YamlNode, string> sources)
    {
        sources[node] = $"{source}:{node.Start.Line}";
        switch (node)
        {
            case YamlMappingNode map:
                foreach (var (key, value) in map.Children) { sources[key] = $"{source}:{key.Start.Line}"; MarkSources(value, source, sources); }
                break;
            case YamlSequenceNode seq:
                foreach (var item in seq.Children) MarkSources(item, source, sources);
                break;
        }
    }

    private static void ApplyOverride(YamlMappingNode root, string assignment, string origin, Dictionary<YamlNode, string> sources)
    {
        int eq = assignment.IndexOf('=');
        if (eq <= 0) throw new UserError($"{origin}: expected key.path=value");
        var path = assignment[..eq].Trim().TrimStart('-');
        var parts = path.Split('.');
        if (parts.Any(p => p.Length == 0)) throw new UserError($"{origin}: '{path}' is not a dotted key path");
        var value = ParseValue(assignment[(eq + 1)..]);
        MarkSources(value, origin, sources);
        foreach (var n in value.AllNodes) sources[n] = origin;

        var map = root;
        for (int i = 0; i < parts.Length - 1; i++)
        {
            var key = new YamlScalarNode(parts[i]);
            if (!map.Children.TryGetValue(key, out var child))
            {
                child = new YamlMappingNode();
                map.Children[key] = child;
                sources[child] = origin;
            }
            map = child as YamlMappingNode
                ?? throw new UserError($"{origin}: '{string.Join('.', parts[..(i + 1)])}' is a value, not a section with keys");
        }
        var last = new YamlScalarNode(parts[^1]);
        sources[last] = origin;
        map.Children.Remove(last);
        map.Children[last] = value;
    }

    private static YamlNode ParseValue(string text)
    {
        var trimmed = text.Trim();
        if (trimmed.StartsWith('[') || trimmed.StartsWith('{') || trimmed.StartsWith('"') || trimmed.StartsWith('\''))
        {
            try
            {
                var stream = new YamlStream();
                stream.Load(new StringReader(trimmed));
                if (stream.Documents.Count > 0) return stream.Documents[0].RootNode;
            }
            catch (YamlException) { }
        }
        return new YamlScalarNode(trimmed);
    }

    private static void Bind(YamlMappingNode map, object target, string prefix, Dictionary<YamlNode, string> sources, List<string> notes)
    {
        var properties = target.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanWrite).ToDictionary(p => SnakeCase(p.Name));
        foreach (var (keyNode, valueNode) in map.Children)
        {
            var key = ((YamlScalarNode)keyNode).Value ?? "";
            var path = prefix + key;
            if (prefix.Length == 0 && IgnoredKeys.Contains(key))
            {
                notes.Add($"{path}: ignored (W&B/terminal setting of the reference; runs are tracked offline in the run directory)");
                continue;
            }
            if (!properties.TryGetValue(key, out var property))
            {
                var meant = ClosestName.Find(key, properties.Keys) is { } closest ? $"; did you mean {prefix}{closest}?" : "";
                throw new UserError($"{sources[keyNode]}: unknown key '{path}'{meant} (known keys here: {string.Join(", ", properties.Keys)})");
            }
            property.SetValue(target, Convert(valueNode, property, target, path, sources, notes));
        }
    }

    private static object? Convert(YamlNode node, PropertyInfo property, object owner, string path, Dictionary<YamlNode, string> sources, List<string> notes)
    {
        var type = property.PropertyType;
        var where = sources[node];
        if (type == typeof(Dictionary<string, object?>))
        {
            if (node is YamlScalarNode { Value: null or "" or "~" or "null" }) return new Dictionary<string, object?>();
            if (node is not YamlMappingNode kwargs) throw new UserError($"{where}: '{path}' must be a mapping of keyword arguments");
            return (Dictionary<string, object?>)FreeValue(kwargs)!;
        }
        if (type.IsClass && type != typeof(string))
        {
            if (node is not YamlMappingNode section) throw new UserError($"{where}: '{path}' must be a section with keys, not a single value");
            var current = property.GetValue(owner) ?? Activator.CreateInstance(type)!;
            Bind(section, current, path + ".", sources, notes);
            return current;
        }
        if (node is not YamlScalarNode scalar) throw new UserError($"{where}: '{path}' must be a single value");
        var text = scalar.Value ?? "";
        bool plain = scalar.Style is ScalarStyle.Plain or ScalarStyle.Any;
        bool isNull = plain && YamlText.IsNull(text);
        if (type == typeof(string))
        {
            if (!isNull) return text;
            if (new NullabilityInfoContext().Create(property).WriteState == NullabilityState.Nullable) return null;
            throw new UserError($"{where}: '{path}' needs a value");
        }
        if (isNull) throw new UserError($"{where}: '{path}' needs a value");
        if (type == typeof(bool))
        {
            if (YamlText.Boolean(text) is { } b) return b;
            throw new UserError($"{where}: '{path}' expects true or false, got '{text}'");
        }
        if (type == typeof(int) || type == typeof(long))
        {
            var digits = text.Replace("_", "");
            var (min, max) = type == typeof(int) ? (int.MinValue, int.MaxValue) : (long.MinValue, long.MaxValue);
            if (BigInteger.TryParse(digits, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n))
            {
                if (n < min || n > max) throw new UserError($"{where}: '{path}' {text} is out of range: expected an integer from {min} to {max}");
                return type == typeof(long) ? (object)(long)n : (int)n;
            }
            throw new UserError($"{where}: '{path}' expects an integer, got '{text}'");
        }
        if (type == typeof(double))
        {
            if (double.TryParse(text.Replace("_", ""), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d)) return d;
            throw new UserError($"{where}: '{path}' expects a number, got '{text}'");
        }
        throw new InvalidOperationException($"config property {path} has unsupported type {type}");
    }

    /// <summary>Keyword arguments keep YAML's typing (<see cref="YamlText.Typed"/>; integers that fit become int), lists and mappings.</summary>
    private static object? FreeValue(YamlNode node)
    {
        switch (node)
        {
            case YamlMappingNode map:
                var dict = new Dictionary<string, object?>();
                foreach (var (k, v) in map.Children) dict[((YamlScalarNode)k).Value ?? ""] = FreeValue(v);
                return dict;
            case YamlSequenceNode seq:
                return seq.Children.Select(FreeValue).ToList();
            case YamlScalarNode scalar:
                var value = YamlText.Typed(scalar);
                return value is long l and >= int.MinValue and <= int.MaxValue ? (int)l : value;
            default:
                return null;
        }
    }

    /// <summary>DModel → d_model, MaxPositionEmbeddings → max_position_embeddings.</summary>
    public static string SnakeCase(string name)
    {
        var builder = new System.Text.StringBuilder(name.Length + 4);
        for (int i = 0; i < name.Length; i++)
        {
            if (char.IsUpper(name[i]) && i > 0) builder.Append('_');
            builder.Append(char.ToLowerInvariant(name[i]));
        }
        return builder.ToString();
    }
}
