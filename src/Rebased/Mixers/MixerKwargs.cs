using System.Globalization;
using System.Text.Json;
using Rebased.Configs;

namespace Rebased.Mixers;

/// <summary>
/// The keyword arguments of one mixer config, read with typed getters. Values may come from YAML
/// (strings, lists, maps), from JSON (JsonElement) or from code (numbers, bools, ComponentConfig).
/// Every key a mixer does not read is rejected by <see cref="RejectUnused"/>, so a misspelt
/// argument is an error instead of a silent default.
/// </summary>
public sealed class MixerKwargs
{
    private readonly Dictionary<string, object?> _values;
    private readonly HashSet<string> _read = new();

    public MixerKwargs(string mixer, IReadOnlyDictionary<string, object?>? values)
    {
        Mixer = mixer;
        _values = values?.ToDictionary(kv => kv.Key, kv => Normalize(kv.Value)) ?? new();
    }

    /// <summary>The mixer's name, used in error messages.</summary>
    public string Mixer { get; }

    public bool Has(string key) => _values.ContainsKey(key);

    public int Int(string key, int fallback)
    {
        if (!TryGet(key, out var value)) return fallback;
        return value switch
        {
            long l when l is >= int.MinValue and <= int.MaxValue => (int)l,
            double d when d == Math.Floor(d) && Math.Abs(d) < int.MaxValue => (int)d,
            string s when int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var i) => i,
            _ => throw Invalid(key, value, "an integer"),
        };
    }

    public double Double(string key, double fallback)
    {
        if (!TryGet(key, out var value)) return fallback;
        return value switch
        {
            long l => l,
            double d => d,
            string s when double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => d,
            _ => throw Invalid(key, value, "a number"),
        };
    }

    public bool Bool(string key, bool fallback)
    {
        if (!TryGet(key, out var value)) return fallback;
        return value switch
        {
            bool b => b,
            string s when bool.TryParse(s, out var b) => b,
            _ => throw Invalid(key, value, "true or false"),
        };
    }

    public string String(string key, string fallback)
    {
        if (!TryGet(key, out var value)) return fallback;
        return value switch
        {
            string s => s,
            long or double or bool => Convert.ToString(value, CultureInfo.InvariantCulture)!,
            _ => throw Invalid(key, value, "a string"),
        };
    }

    /// <summary>An integer, or one entry per layer of a list of integers (the reference's per-layer kernel sizes).</summary>
    public int IntOrPerLayer(string key, int fallback, int layerIdx)
    {
        if (_values.TryGetValue(key, out var value) && value is List<object?> list)
        {
            _read.Add(key);
            if (layerIdx >= list.Count)
                throw new UserError($"{Mixer}: '{key}' lists {list.Count} values but layer {layerIdx} needs one");
            return new MixerKwargs(Mixer, new Dictionary<string, object?> { [key] = list[layerIdx] }).Int(key, fallback);
        }
        return Int(key, fallback);
    }

    /// <summary>A list of component configs (the Hybrid mixer's <c>configs</c>).</summary>
    public IReadOnlyList<ComponentConfig> Configs(string key)
    {
        if (!TryGet(key, out var value) || value is not List<object?> list)
            throw new UserError($"{Mixer}: '{key}' must be a list of mixer configs (each with name and kwargs)");
        return list.Select((item, i) => ToComponent(item, $"{Mixer}: {key}[{i}]")).ToList();
    }

    /// <summary>Throws a UserError naming every argument that was given but never read.</summary>
    public void RejectUnused()
    {
        var unused = _values.Keys.Where(k => !_read.Contains(k)).OrderBy(k => k, StringComparer.Ordinal).ToList();
        if (unused.Count > 0)
            throw new UserError($"{Mixer}: unknown argument{(unused.Count > 1 ? "s" : "")} {string.Join(", ", unused.Select(u => $"'{u}'"))}");
    }

    /// <summary>Reads a config written as a map with <c>name</c> and <c>kwargs</c> (or already a ComponentConfig).</summary>
    public static ComponentConfig ToComponent(object? item, string where)
    {
        switch (Normalize(item))
        {
            case ComponentConfig c:
                return c;
            case Dictionary<string, object?> map when map.TryGetValue("name", out var name) && name is string n:
                var kwargs = map.TryGetValue("kwargs", out var k) ? k : null;
                var unknown = map.Keys.Where(key => key is not ("name" or "kwargs")).ToList();
                if (unknown.Count > 0) throw new UserError($"{where}: unknown key '{unknown[0]}' (a mixer config has name and kwargs)");
                return kwargs switch
                {
                    null => new ComponentConfig { Name = n },
                    Dictionary<string, object?> kw => new ComponentConfig { Name = n, Kwargs = kw },
                    _ => throw new UserError($"{where}: kwargs must be a map"),
                };
            default:
                throw new UserError($"{where}: expected a map with a 'name' (and optional 'kwargs')");
        }
    }

    /// <summary>Converts JSON elements and YAML maps to plain values: long, double, bool, string, lists and string-keyed maps.</summary>
    public static object? Normalize(object? value) => value switch
    {
        JsonElement e => FromJson(e),
        int i => (long)i,
        float f => (double)f,
        IDictionary<string, object?> map => map.ToDictionary(kv => kv.Key, kv => Normalize(kv.Value)),
        IDictionary<object, object?> map => map.ToDictionary(kv => Convert.ToString(kv.Key, CultureInfo.InvariantCulture)!, kv => Normalize(kv.Value)),
        string s => s,
        System.Collections.IEnumerable list when value is not ComponentConfig => list.Cast<object?>().Select(Normalize).ToList(),
        _ => value,
    };

    private static object? FromJson(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Number when e.TryGetInt64(out var l) => l,
        JsonValueKind.Number => e.GetDouble(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.String => e.GetString(),
        JsonValueKind.Array => e.EnumerateArray().Select(FromJson).ToList(),
        JsonValueKind.Object => e.EnumerateObject().ToDictionary(p => p.Name, p => FromJson(p.Value)),
        _ => null,
    };

    private bool TryGet(string key, out object? value)
    {
        if (!_values.TryGetValue(key, out value)) return false;
        _read.Add(key);
        return true;
    }

    private UserError Invalid(string key, object? value, string expected) =>
        new($"{Mixer}: '{key}' must be {expected}, got {Describe(value)}");

    private static string Describe(object? value) => value switch
    {
        null => "null",
        string s => $"'{s}'",
        List<object?> => "a list",
        Dictionary<string, object?> => "a map",
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "?",
    };
}
