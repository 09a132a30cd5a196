using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using YamlDotNet.RepresentationModel;

namespace Rebased.Experiments;

/// <summary>
/// A run configuration as a plain tree (mappings, lists, scalars) read from the reference's YAML, with dotted-key
/// overrides and a canonical JSON form (keys sorted, numbers in shortest round-trip form) whose SHA-256 names the run.
/// Scalars are typed by <see cref="Configs.YamlText.Typed"/>, the rule the trainer's config reader uses too.
/// </summary>
public sealed class ConfigTree
{
    public SortedDictionary<string, object?> Root { get; }

    public ConfigTree(SortedDictionary<string, object?> root) => Root = root;

    public static ConfigTree Empty() => new(new SortedDictionary<string, object?>(StringComparer.Ordinal));

    public static ConfigTree LoadYaml(string path)
    {
        if (!File.Exists(path)) throw new UserError($"config file not found: {path}");
        return FromYaml(File.ReadAllText(path), path);
    }

    public static ConfigTree FromYaml(string text, string source)
    {
        var stream = Configs.YamlText.Load(text, source);
        if (stream.Documents.Count == 0) return Empty();
        if (ConvertNode(stream.Documents[0].RootNode) is not SortedDictionary<string, object?> root)
            throw new UserError($"{source}: the top level must be a mapping of config keys");
        return new ConfigTree(root);
    }

    public static ConfigTree FromMapping(YamlMappingNode node) => new((SortedDictionary<string, object?>)ConvertNode(node)!);

    internal static object? ConvertNode(YamlNode node) => node switch
    {
        YamlMappingNode map => map.Children.ToDictionary(
                kv => ((YamlScalarNode)kv.Key).Value ?? "",
                kv => ConvertNode(kv.Value))
            .Aggregate(new SortedDictionary<string, object?>(StringComparer.Ordinal), (acc, kv) => { acc[kv.Key] = kv.Value; return acc; }),
        YamlSequenceNode seq => seq.Children.Select(ConvertNode).ToList(),
        YamlScalarNode scalar => Configs.YamlText.Typed(scalar),
        _ => throw new UserError($"unsupported YAML node at line {node.Start.Line}"),
    };

    public ConfigTree Clone() => new((SortedDictionary<string, object?>)DeepCopy(Root)!);

    static object? DeepCopy(object? value) => value switch
    {
        SortedDictionary<string, object?> map => map.Aggregate(new SortedDictionary<string, object?>(StringComparer.Ordinal),
            (acc, kv) => { acc[kv.Key] = DeepCopy(kv.Value); return acc; }),
        List<object?> list => list.Select(DeepCopy).ToList(),
        _ => value,
    };

    /// <summary>Sets a dotted key (model.sequence_mixer.name), creating intermediate mappings.</summary>
    public void Set(string dottedKey, object? value)
    {
        var parts = dottedKey.Split('.');
        if (parts.Any(p => p.Length == 0)) throw new UserError($"invalid config key '{dottedKey}'");
        var node = Root;
        foreach (var part in parts[..^1])
        {
            if (!node.TryGetValue(part, out var child) || child is null)
            {
                child = new SortedDictionary<string, object?>(StringComparer.Ordinal);
                node[part] = child;
            }
            node = child as SortedDictionary<string, object?>
                ?? throw new UserError($"config key '{dottedKey}': '{part}' is a value, not a section");
        }
        node[parts[^1]] = DeepCopy(value);
    }

    public object? Get(string dottedKey)
    {
        object? node = Root;
        foreach (var part in dottedKey.Split('.'))
        {
            if (node is not SortedDictionary<string, object?> map || !map.TryGetValue(part, out node)) return null;
        }
        return node;
    }

    public string CanonicalJson()
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer)) WriteJson(writer, Root);
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>The run's identity: the first 16 hex digits of SHA-256 over the canonical JSON.</summary>
    public string Hash() => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(CanonicalJson())))[..16];

    public static ConfigTree FromJson(string json)
    {
        using var doc = JsonDocument.Parse(json);
        if (FromJsonElement(doc.RootElement) is not SortedDictionary<string, object?> root)
            throw new UserError("stored config is not a JSON object");
        return new ConfigTree(root);
    }

    /// <summary>Reads a flat JSON object keeping its key order (the sweep's overrides).</summary>
    public static IReadOnlyList<KeyValuePair<string, object?>> FromJsonOrdered(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return doc.RootElement.EnumerateObject().Select(p => new KeyValuePair<string, object?>(p.Name, FromJsonElement(p.Value))).ToList();
    }

    public static string ToJsonOrdered(IEnumerable<KeyValuePair<string, object?>> pairs)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (var (k, v) in pairs) { writer.WritePropertyName(k); WriteJson(writer, v); }
            writer.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    static object? FromJsonElement(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => e.EnumerateObject().Aggregate(new SortedDictionary<string, object?>(StringComparer.Ordinal),
            (acc, p) => { acc[p.Name] = FromJsonElement(p.Value); return acc; }),
        JsonValueKind.Array => e.EnumerateArray().Select(FromJsonElement).ToList(),
        JsonValueKind.String => e.GetString(),
        JsonValueKind.Number => e.TryGetInt64(out var l) ? (object?)l : e.GetDouble(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => null,
    };

    internal static void WriteJson(Utf8JsonWriter writer, object? value)
    {
        switch (value)
        {
            case null: writer.WriteNullValue(); break;
            case SortedDictionary<string, object?> map:
                writer.WriteStartObject();
                foreach (var (k, v) in map) { writer.WritePropertyName(k); WriteJson(writer, v); }
                writer.WriteEndObject();
                break;
            case List<object?> list:
                writer.WriteStartArray();
                foreach (var v in list) WriteJson(writer, v);
                writer.WriteEndArray();
                break;
            case bool b: writer.WriteBooleanValue(b); break;
            case long l: writer.WriteNumberValue(l); break;
            case double d when double.IsFinite(d) && d == Math.Floor(d) && Math.Abs(d) < 1e15: writer.WriteNumberValue((long)d); break;
            case double d when double.IsFinite(d): writer.WriteNumberValue(d); break;
            case double d: writer.WriteStringValue(d.ToString(CultureInfo.InvariantCulture)); break;
            default: writer.WriteStringValue(Convert.ToString(value, CultureInfo.InvariantCulture)); break;
        }
    }

    /// <summary>Formats a scalar for a `--set key=value` argument (YAML-readable, invariant culture).</summary>
    public static string FormatScalar(object? value) => value switch
    {
        null => "null",
        bool b => b ? "true" : "false",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        long l => l.ToString(CultureInfo.InvariantCulture),
        List<object?> list => "[" + string.Join(", ", list.Select(FormatScalar)) + "]",
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "",
    };
}
