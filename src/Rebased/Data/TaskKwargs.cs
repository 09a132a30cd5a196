using System.Globalization;

namespace Rebased.Data;

public enum KwargKind
{
    PositiveInteger,
    NonNegativeInteger,
    PositiveNumber,
    Boolean,
}

public sealed record TaskKwarg(string Name, KwargKind Kind);

/// <summary>
/// The keyword arguments a task accepts, with their kinds: checks given values (as YAML typed them) and reads
/// them with defaults. Errors are one line: "&lt;prefix&gt;&lt;name&gt;: expects a positive integer, got 'x'".
/// </summary>
public sealed class TaskKwargs(string task, params TaskKwarg[] known)
{
    /// <summary>The prefix of config keys in errors.</summary>
    public const string ConfigPrefix = "data.builder.kwargs.";

    public IReadOnlyList<string> Names { get; } = known.Select(k => k.Name).ToArray();

    public void Check(IReadOnlyDictionary<string, object?> given, string prefix = ConfigPrefix)
    {
        foreach (var (name, value) in given)
        {
            var kind = known.FirstOrDefault(k => k.Name == name)?.Kind
                ?? throw new UserError($"{prefix}{name}: unknown argument of the {task} builder (known: {string.Join(", ", Names)})");
            if (Problem(kind, value) is { } expected) throw new UserError($"{prefix}{name}: expects {expected}, got '{Format(value)}'");
        }
    }

    public int Integer(IReadOnlyDictionary<string, object?> given, string name, int fallback) =>
        given.TryGetValue(name, out var v) && v is not null ? System.Convert.ToInt32(v, CultureInfo.InvariantCulture) : fallback;

    public double Number(IReadOnlyDictionary<string, object?> given, string name, double fallback) =>
        given.TryGetValue(name, out var v) && v is not null ? System.Convert.ToDouble(v, CultureInfo.InvariantCulture) : fallback;

    public bool Boolean(IReadOnlyDictionary<string, object?> given, string name, bool fallback) =>
        given.TryGetValue(name, out var v) && v is bool b ? b : fallback;

    private static string? Problem(KwargKind kind, object? value) => kind switch
    {
        KwargKind.PositiveInteger when value is not (int or long) || System.Convert.ToInt64(value, CultureInfo.InvariantCulture) is < 1 or > int.MaxValue => "a positive integer",
        KwargKind.NonNegativeInteger when value is not (int or long) || System.Convert.ToInt64(value, CultureInfo.InvariantCulture) is < 0 or > int.MaxValue => "a non-negative integer",
        KwargKind.PositiveNumber when value is not (int or long or double) || !(System.Convert.ToDouble(value, CultureInfo.InvariantCulture) > 0) => "a positive number",
        KwargKind.Boolean when value is not bool => "true or false",
        _ => null,
    };

    private static string Format(object? value) => value switch
    {
        null => "null",
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
