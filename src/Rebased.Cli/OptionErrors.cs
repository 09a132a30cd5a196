using System.Reflection;
using System.Text.RegularExpressions;

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
        ["report state-size"] = typeof(Commands.ReportCommand.Settings),
        ["report curves"] = typeof(Commands.ReportCurvesCommand.Settings),
        ["bench kernels"] = typeof(Commands.BenchKernelsCommand.Settings),
        ["bench scans"] = typeof(Commands.BenchScansCommand.Settings),
        ["bench train"] = typeof(Commands.BenchTrainCommand.Settings),
    };

    /// <summary>Options every command takes besides its own.</summary>
    public static readonly IReadOnlyList<string> CommonOptions = ["--help", "--verbose"];

    /// <summary>The one-line message of a usage error that says what was wrong (an unknown option, a value an option
    /// does not take, a <see cref="UsageError"/>), or null for any other error.</summary>
    public static string? DescribeUsageError(Exception e, IReadOnlyList<string> args) => e switch
    {
        CommandParseException parse when DescribeUnknownOption(parse, args) is { } message => message,
        CommandRuntimeException runtime => DescribeConversionFailure(runtime, args),
        UsageError usage => usage.Message,
        _ => null,
    };

    /// <summary>"--threads 'abc': expected an integer from ... to ...", or null when the error is another one.</summary>
    public static string? DescribeConversionFailure(CommandRuntimeException e, IReadOnlyList<string> args)
    {
        var match = ConversionFailureMessage().Match(e.Message);
        if (!match.Success) return null;
        var value = match.Groups["value"].Value;
        int at = Enumerable.Range(1, Math.Max(0, args.Count - 1)).FirstOrDefault(i => args[i] == value && args[i - 1].StartsWith('-'), -1);
        var option = at > 0 ? args[at - 1] : args.FirstOrDefault(a => a.EndsWith("=" + value, StringComparison.Ordinal))?.Split('=')[0];
        if (option is null) return null;
        bool known = Commands.TryGetValue(CommandWords(args), out var settings);
        var type = known ? OptionType(settings!, option) : null;
        var expected = known && OptionRanges.Of(settings!, option) is { } range ? $"expected {range.Describe()}"
            : type == typeof(int) ? $"expected an integer from {int.MinValue} to {int.MaxValue}"
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
        return $"unknown option {typed} for `rebased {words}`{Suggestion(typed, [.. OptionNames(settings), .. CommonOptions]) ?? ConfigKeyHint(words, typed, args) ?? $"; its options: `rebased {words} --help`"}";
    }

    /// <summary>Option names people try for config values (--epochs), by the config key that holds them.</summary>
    static readonly IReadOnlyDictionary<string, string> ConfigKeyAliases = new Dictionary<string, string>
    {
        ["epochs"] = "max_epochs", ["lr"] = "learning_rate", ["batch-size"] = "data.batch_size", ["batch"] = "data.batch_size",
        ["d-model"] = "model.d_model", ["layers"] = "model.n_layers", ["mixer"] = "model.sequence_mixer.name", ["seq-len"] = "data.input_seq_len",
    };

    /// <summary>"; config values are set with --set: --set max_epochs=3" when `train` is given a config value as an option.</summary>
    static string? ConfigKeyHint(string words, string typed, IReadOnlyList<string> args)
    {
        if (words != "train" || !typed.StartsWith("--", StringComparison.Ordinal)) return null;
        var name = typed[2..];
        var topLevelKeys = typeof(Configs.RunConfig).GetProperties().Select(p => Configs.ConfigLoader.SnakeCase(p.Name));
        var key = ConfigKeyAliases.GetValueOrDefault(name) ?? topLevelKeys.FirstOrDefault(k => k == name.Replace('-', '_'));
        if (key is null) return null;
        int at = Enumerable.Range(0, args.Count).FirstOrDefault(i => args[i] == typed || args[i].StartsWith(typed + "=", StringComparison.Ordinal), -1);
        var value = at < 0 ? "VALUE"
            : args[at].Contains('=') ? args[at][(args[at].IndexOf('=') + 1)..]
            : at + 1 < args.Count && !args[at + 1].StartsWith("--", StringComparison.Ordinal) ? args[at + 1] : "VALUE";
        return $"; config values are set with --set: --set {key}={value}";
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

    static string? Suggestion(string typed, IReadOnlyList<string> options) =>
        Configs.ClosestName.Find(typed, options) is { } best ? $"; did you mean {best}?" : null;

    [GeneratedRegex(@"^Failed to convert '(?<value>.*)' to ")]
    private static partial Regex ConversionFailureMessage();

    [GeneratedRegex(@"^Un(known|expected) option '(?<name>.+)'\.$")]
    private static partial Regex UnknownOptionMessage();
}
