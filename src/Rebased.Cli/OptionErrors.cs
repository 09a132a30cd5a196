using System.Reflection;
using System.Text.RegularExpressions;
using Spectre.Console.Cli;

namespace Rebased.Cli;

/// <summary>
/// One-line messages for the parser's errors that name no option or command: "Unknown option 'x'." (with the
/// command and the closest of its options) and "Failed to convert 'abc' to Nullable`1." (with the option and the
/// values it takes). The parser does not say which command it was parsing, so the command is found from the words
/// it was given.
/// </summary>
public static partial class OptionErrors
{
    /// <summary>The settings type of each command by its words; "sweep" is the shorthand `rebased sweep FILE`.</summary>
    public static readonly IReadOnlyDictionary<string, Type> Commands = new Dictionary<string, Type>(
        Rebased.Data.DataTasks.All.Select(t => KeyValuePair.Create($"data {t.CommandName}", typeof(Commands.DataCommand.Settings))))
    {
        ["info"] = typeof(Commands.InfoCommand.Settings),
        ["train"] = typeof(Commands.TrainCommand.Settings),
        ["parity"] = typeof(Commands.ParityCommand.Settings),
        ["sweep"] = typeof(Commands.SweepCommand.Settings),
        ["sweep run"] = typeof(Commands.SweepCommand.Settings),
        ["sweep status"] = typeof(Commands.SweepStatusCommand.Settings),
        ["sweep worker"] = typeof(Commands.SweepWorkerCommand.Settings),
        ["sweep export"] = typeof(Commands.SweepExportCommand.Settings),
        ["sweep import"] = typeof(Commands.SweepImportCommand.Settings),
        ["report"] = typeof(Commands.ReportCommand.Settings),
        ["report figure"] = typeof(Commands.ReportCommand.Settings),
        ["report curves"] = typeof(Commands.ReportCurvesCommand.Settings),
        ["bench kernels"] = typeof(Commands.BenchKernelsCommand.Settings),
        ["bench scans"] = typeof(Commands.BenchScansCommand.Settings),
        ["bench train"] = typeof(Commands.BenchTrainCommand.Settings),
    };

    /// <summary>Options every command takes besides its own.</summary>
    public static readonly IReadOnlyList<string> CommonOptions = ["--help", "--verbose"];

    /// <summary>"--threads 'abc': expected an integer from ... to ...", or null when the error is another one.</summary>
    public static string? DescribeConversionFailure(CommandRuntimeException e, IReadOnlyList<string> args)
    {
        var match = ConversionFailureMessage().Match(e.Message);
        if (!match.Success) return null;
        var value = match.Groups["value"].Value;
        int at = Enumerable.Range(1, Math.Max(0, args.Count - 1)).FirstOrDefault(i => args[i] == value && args[i - 1].StartsWith('-'), -1);
        var option = at > 0 ? args[at - 1] : args.FirstOrDefault(a => a.EndsWith("=" + value, StringComparison.Ordinal))?.Split('=')[0];
        if (option is null) return null;
        var type = Commands.TryGetValue(CommandWords(args), out var settings) ? OptionType(settings, option) : null;
        var expected = type == typeof(int) ? $"expected an integer from {int.MinValue} to {int.MaxValue} (the option's own bounds: --help)"
            : type == typeof(long) ? $"expected an integer from {long.MinValue} to {long.MaxValue}"
            : type == typeof(double) ? "expected a number such as 0.001 or 1e-3"
            : "not a value this option takes (see --help)";
        return $"{option} '{value}': {expected}";
    }

    static Type? OptionType(Type settings, string option) =>
        settings.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.GetCustomAttribute<CommandOptionAttribute>() is { } o && (o.LongNames.Select(n => "--" + n).Contains(option) || o.ShortNames.Select(n => "-" + n).Contains(option)))
            .Select(p => Nullable.GetUnderlyingType(p.PropertyType) ?? p.PropertyType)
            .FirstOrDefault();

    /// <summary>The one-line message for an unknown option, or null when the error is another one.</summary>
    public static string? DescribeUnknownOption(CommandParseException e, IReadOnlyList<string> args)
    {
        var match = UnknownOptionMessage().Match(e.Message);
        if (!match.Success) return null;
        var name = match.Groups["name"].Value;
        var typed = args.FirstOrDefault(a => a == "--" + name || a.StartsWith($"--{name}=", StringComparison.Ordinal)) is not null ? "--" + name : "-" + name;
        var words = CommandWords(args);
        if (words.Length == 0)
            return $"unknown option {typed} for `rebased`{Suggestion(typed, [.. CommonOptions, "--version"]) ?? "; the commands: `rebased --help`"}";
        if (!Commands.TryGetValue(words, out var settings))
        {
            var subcommands = Commands.Keys.Where(k => k.StartsWith(words + " ", StringComparison.Ordinal)).Select(k => k[(words.Length + 1)..]);
            return $"unknown option {typed} for `rebased {words}`: give a command first ({string.Join(", ", subcommands)})";
        }
        return $"unknown option {typed} for `rebased {words}`{Suggestion(typed, [.. OptionNames(settings), .. CommonOptions]) ?? $"; its options: `rebased {words} --help`"}";
    }

    /// <summary>The longest run of leading words that names a command or a branch ("sweep status", "bench").</summary>
    static string CommandWords(IReadOnlyList<string> args)
    {
        var known = Commands.Keys.SelectMany(k => Enumerable.Range(1, k.Count(c => c == ' ') + 1).Select(n => string.Join(' ', k.Split(' ').Take(n)))).ToHashSet();
        var words = "";
        foreach (var arg in args)
        {
            var candidate = words.Length == 0 ? arg : $"{words} {arg}";
            if (!known.Contains(candidate)) break;
            words = candidate;
        }
        return words;
    }

    /// <summary>Every long and short name of the settings type's options, with their dashes.</summary>
    public static IReadOnlyList<string> OptionNames(Type settings) =>
        settings.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Select(p => p.GetCustomAttribute<CommandOptionAttribute>())
            .OfType<CommandOptionAttribute>()
            .SelectMany(o => o.LongNames.Select(n => "--" + n).Concat(o.ShortNames.Select(n => "-" + n)))
            .ToList();

    static string? Suggestion(string typed, IReadOnlyList<string> options)
    {
        var best = options.MinBy(o => Levenshtein(typed, o));
        // More than a third of the name changed is a different option, not a typo, unless one name extends the other (--outdir, --out).
        bool close = best is not null && (Levenshtein(typed, best) <= Math.Max(2, typed.Length / 3)
            || typed.StartsWith(best, StringComparison.Ordinal) || best.StartsWith(typed, StringComparison.Ordinal));
        return close ? $"; did you mean {best}?" : null;
    }

    public static int Levenshtein(string a, string b)
    {
        var previous = Enumerable.Range(0, b.Length + 1).ToArray();
        var current = new int[b.Length + 1];
        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
                current[j] = Math.Min(Math.Min(current[j - 1], previous[j]) + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }

    [GeneratedRegex(@"^Failed to convert '(?<value>.*)' to ")]
    private static partial Regex ConversionFailureMessage();

    [GeneratedRegex(@"^Un(known|expected) option '(?<name>.+)'\.$")]
    private static partial Regex UnknownOptionMessage();
}
