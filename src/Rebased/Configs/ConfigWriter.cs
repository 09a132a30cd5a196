using System.Globalization;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using YamlDotNet.RepresentationModel;

namespace Rebased.Configs;

/// <summary>Writes a <see cref="RunConfig"/> as YAML in the reference's schema (every key, snake_case), readable by <see cref="ConfigLoader"/>.</summary>
public static class ConfigWriter
{
    public static string ToYaml(RunConfig config)
    {
        var stream = new YamlStream(new YamlDocument(Node(config)));
        var writer = new StringWriter(CultureInfo.InvariantCulture);
        stream.Save(writer, assignAnchors: false);
        var text = writer.ToString();
        return text.EndsWith("...\n", StringComparison.Ordinal) ? text[..^4] : text;
    }

    /// <summary>
    /// The first 8 hex digits of the SHA-256 of the config's YAML without its device: names runs with
    /// identical settings alike, and lets a run resume on another device. The default precision (fp32) is left
    /// out too, so that configs hash as they did before that key existed.
    /// </summary>
    public static string ShortHash(RunConfig config)
    {
        var lines = ToYaml(config).Split('\n').Where(l => !l.StartsWith("device:", StringComparison.Ordinal)
            && l != $"precision: {PrecisionNames.Float32}");
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', lines))))[..8];
    }

    private static YamlNode Node(object? value)
    {
        switch (value)
        {
            case null: return new YamlScalarNode("null");
            case string s: return new YamlScalarNode(s) { Style = NeedsQuotes(s) ? YamlDotNet.Core.ScalarStyle.DoubleQuoted : YamlDotNet.Core.ScalarStyle.Any };
            case bool b: return new YamlScalarNode(b ? "true" : "false");
            case int or long: return new YamlScalarNode(System.Convert.ToString(value, CultureInfo.InvariantCulture));
            case double d: return new YamlScalarNode(FormatDouble(d));
            case IDictionary<string, object?> dict:
                var map = new YamlMappingNode();
                foreach (var (k, v) in dict) map.Add(k, Node(v));
                if (dict.Count == 0) map.Style = YamlDotNet.Core.Events.MappingStyle.Flow;
                return map;
            case System.Collections.IEnumerable list:
                var seq = new YamlSequenceNode { Style = YamlDotNet.Core.Events.SequenceStyle.Flow };
                foreach (var item in list) seq.Add(Node(item));
                return seq;
            default:
                var section = new YamlMappingNode();
                foreach (var p in value.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite))
                    section.Add(ConfigLoader.SnakeCase(p.Name), Node(p.GetValue(value)));
                return section;
        }
    }

    /// <summary>A string that a YAML reader would not read back as this string when written plain (<see cref="YamlText.TypedPlain"/>).</summary>
    private static bool NeedsQuotes(string s) => YamlText.TypedPlain(s) is not string plain || plain != s;

    /// <summary>Round-trip form with a decimal point or exponent, so that YAML readers see a float (1.0e-05, 0.003, 64.0).</summary>
    private static string FormatDouble(double d)
    {
        var r = d.ToString("R", CultureInfo.InvariantCulture);
        if (r.Contains('E'))
        {
            var parts = r.Split('E');
            var mantissa = parts[0].Contains('.') ? parts[0] : parts[0] + ".0";
            return mantissa + "e" + parts[1];
        }
        return r.Contains('.') ? r : r + ".0";
    }
}
