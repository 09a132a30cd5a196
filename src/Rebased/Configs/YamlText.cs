using System.Globalization;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Rebased.Configs;

/// <summary>
/// Reads YAML text (a syntax error is a <see cref="UserError"/> naming the source, line and column) and types its
/// scalars by one rule, for the trainer's config reader and the sweep's config tree (and so its run hash) alike.
/// </summary>
public static class YamlText
{
    /// <summary>
    /// A scalar's value as the reference's YAML loader reads it: quoted scalars are strings; plain ones are null
    /// (empty, ~, null, and Python's None), booleans (true, yes, on / false, no, off, in lower, title or upper case),
    /// integers (long; underscores allowed), numbers (double, 5e-4 included; .inf, .nan) or else strings.
    /// </summary>
    public static object? Typed(YamlScalarNode scalar) =>
        scalar.Style is ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted ? scalar.Value ?? "" : TypedPlain(scalar.Value ?? "");

    /// <summary>The value of an unquoted scalar's text (see <see cref="Typed"/>).</summary>
    public static object? TypedPlain(string text)
    {
        if (IsNull(text)) return null;
        if (Boolean(text) is { } b) return b;
        var digits = text.Replace("_", "");
        if (long.TryParse(digits, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l)) return l;
        if (digits.Length > 0 && (char.IsDigit(digits[0]) || digits[0] is '-' or '+' or '.')
            && double.TryParse(digits, NumberStyles.Float, CultureInfo.InvariantCulture, out var d)) return d;
        return text switch
        {
            ".inf" or "+.inf" or ".Inf" or "+.Inf" or ".INF" or "+.INF" => double.PositiveInfinity,
            "-.inf" or "-.Inf" or "-.INF" => double.NegativeInfinity,
            ".nan" or ".NaN" or ".NAN" => double.NaN,
            _ => text,
        };
    }

    /// <summary>Empty, ~, null (lower, title or upper case) and Python's None.</summary>
    public static bool IsNull(string text) => text is "" or "~" or "null" or "Null" or "NULL" or "None";

    /// <summary>true/yes/on and false/no/off, in lower, title or upper case; null for any other text.</summary>
    public static bool? Boolean(string text) => text switch
    {
        "true" or "True" or "TRUE" or "yes" or "Yes" or "YES" or "on" or "On" or "ON" => true,
        "false" or "False" or "FALSE" or "no" or "No" or "NO" or "off" or "Off" or "OFF" => false,
        _ => null,
    };

    public static YamlStream Load(string yaml, string source)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException e)
        {
            throw new UserError($"{source}:{e.Start.Line}:{e.Start.Column}: not valid YAML ({e.Message})", e);
        }
        catch (InvalidOperationException e)
        {
            // YamlDotNet's scanner fails this way (no position) on some malformed plain scalars: the error is just after
            // the last event it could still read.
            var (line, column) = LastReadablePosition(yaml);
            throw new UserError($"{source}:{line}:{column}: not valid YAML (a malformed value after this point; check brackets, colons and quotes)", e);
        }
        return stream;
    }

    static (long Line, long Column) LastReadablePosition(string yaml)
    {
        var parser = new Parser(new StringReader(yaml));
        (long, long) last = (1, 1);
        try
        {
            while (parser.MoveNext()) last = (parser.Current!.End.Line, parser.Current.End.Column);
        }
        catch (Exception e) when (e is YamlException or InvalidOperationException) { }
        return last;
    }
}
