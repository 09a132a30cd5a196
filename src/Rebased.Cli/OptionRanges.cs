using System.Reflection;

namespace Rebased.Cli;

/// <summary>The values an integer option takes. The parser's own message for a value outside the option's type
/// (--examples 10000000000) and the check of values inside it (--examples 0) both name this range.</summary>
[AttributeUsage(AttributeTargets.Property)]
public class OptionRangeAttribute(long min, long max) : Attribute
{
    public OptionRangeAttribute(long min) : this(min, int.MaxValue) { }

    public long Min { get; } = min;
    public long Max { get; } = max;

    public virtual string Describe() => $"an integer from {Min} to {Max}";
}

/// <summary>--threads: 1 to <see cref="Cli.MaxThreads"/>, which depends on the machine.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class ThreadsRangeAttribute() : OptionRangeAttribute(1, Cli.MaxThreads)
{
    public override string Describe() => $"{base.Describe()} (4 x the {Environment.ProcessorCount} CPU cores)";
}

/// <summary>Refuses a parsed integer option outside its <see cref="OptionRangeAttribute"/> before the command runs.</summary>
public sealed class OptionRanges : ICommandInterceptor
{
    public void Intercept(CommandContext context, CommandSettings settings)
    {
        if (Problem(settings) is { } problem) throw new UsageError(problem);
    }

    public static string? Problem(CommandSettings settings)
    {
        foreach (var property in settings.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetCustomAttribute<OptionRangeAttribute>() is not { } range
                || property.GetCustomAttribute<CommandOptionAttribute>() is not { } option
                || property.GetValue(settings) is not { } value) continue;
            long number = Convert.ToInt64(value);
            if (number < range.Min || number > range.Max)
                return $"--{option.LongNames[0]} {number}: expected {range.Describe()}";
        }
        return null;
    }

    /// <summary>The range of the option typed as NAME (--examples, -n) in a settings type, or null when it has none.</summary>
    public static OptionRangeAttribute? Of(Type settings, string name) =>
        settings.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.GetCustomAttribute<CommandOptionAttribute>() is { } o
                && (o.LongNames.Select(n => "--" + n).Contains(name) || o.ShortNames.Select(n => "-" + n).Contains(name)))
            .Select(p => p.GetCustomAttribute<OptionRangeAttribute>())
            .FirstOrDefault();
}

/// <summary>A command line the parser accepted but the command cannot take (exit code 2, like the parser's own errors).</summary>
public sealed class UsageError(string message) : Exception(message);
