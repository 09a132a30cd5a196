using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Rebased.Configs;

/// <summary>Reads YAML text; a syntax error is a <see cref="UserError"/> naming the source, line and column.</summary>
public static class YamlText
{
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
