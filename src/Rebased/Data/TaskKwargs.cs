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

    /// <summary>Checks names and values of config kwargs: known names, values of their kind and range.</summary>
    public void Check(IReadOnlyDictionary<string, object?> given) => Check(given, ConfigPrefix, ranges: true);

    /// <summary>
    /// Checks generator arguments (the data command's): known names and values of their kind; ranges are left to the
    /// task's arguments, whose errors name the argument as the command's options do.
    /// </summary>
    public void CheckArguments(IReadOnlyDictionary<string, object?> given) => Check(given, "--arg ", ranges: false);

    private void Check(IReadOnlyDictionary<string, object?> given, string prefix, bool ranges)
    {
        foreach (var (name, value) in given)
        {
            var kind = known.FirstOrDefault(k => k.Name == name)?.Kind
                ?? throw new UserError($"{prefix}{name}: unknown argument of the {task} builder (known: {string.Join(", ", Names)})");
            if (Problem(kind, value, ranges) is { } expected) throw new UserError($"{prefix}{name}: expects {expected}, got '{Format(value)}'");
        }
    }

    public int Integer(IReadOnlyDictionary<string, object?> given, string name, int fallback) =>
        given.TryGetValue(name, out var v) && v is not null ? System.Convert.ToInt32(v, CultureInfo.InvariantCulture) : fallback;

    public double Number(IReadOnlyDictionary<string, object?> given, string name, double fallback) =>
        given.TryGetValue(name, out var v) && v is not null ? System.Convert.ToDouble(v, CultureInfo.InvariantCulture) : fallback;

    public bool Boolean(IReadOnlyDictionary<string, object?> given, string name, bool fallback) =>
        given.TryGetValue(name, out var v) && v is bool b ? b : fallback;

    private static string? Problem(KwargKind kind, object? value, bool ranges) => kind switch
    {
        KwargKind.PositiveInteger when value is not (int or long) || OutOfRange(value, ranges ? 1 : int.MinValue) => "a positive integer",
        KwargKind.NonNegativeInteger when value is not (int or long) || OutOfRange(value, ranges ? 0 : int.MinValue) => "a non-negative integer",
        KwargKind.PositiveNumber when value is not (int or long or double) || (ranges && !(System.Convert.ToDouble(value, CultureInfo.InvariantCulture) > 0)) => "a positive number",
        KwargKind.Boolean when value is not bool => "true or false",
        _ => null,
    };

    private static bool OutOfRange(object value, long min) => System.Convert.ToInt64(value, CultureInfo.InvariantCulture) is var v && (v < min || v > int.MaxValue);

    private static string Format(object? value) => value switch
    {
        null => "null",
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
