using System.Reflection;

namespace Rebased.Cli;

public static class ExitCodes
{
    public const int Ok = 0;
    public const int Failure = 1;
    public const int Usage = 2;
}

/// <summary>Console helpers shared by the commands.</summary>
public static class Cli
{
    /// <summary>The informational version (with the commit the build recorded, after '+').</summary>
    public static string Version =>
        typeof(Cli).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    /// <summary>The most libtorch CPU threads an option may ask for: beyond four per core they only add contention.</summary>
    public static int MaxThreads => 4 * Environment.ProcessorCount;

    /// <summary>The terminal's width in columns; 80 when the output is not a terminal (logs, pipes) or its width is unknown.</summary>
    public static int ConsoleWidth
    {
        get
        {
            if (Console.IsOutputRedirected) return 80;
            try { return Console.WindowWidth is > 0 and var width ? width : 80; }
            catch (IOException) { return 80; }
        }
    }

    /// <summary>The line cut to <paramref name="width"/> columns, with an ellipsis where it was cut.</summary>
    public static string Fit(string line, int width) => line.Length <= width ? line : line[..Math.Max(0, width - 1)] + "…";

    public static void Error(string message, Exception e, bool verbose)
    {
        Console.Error.WriteLine($"error: {message}");
        if (verbose) Console.Error.WriteLine(e);
        else Console.Error.WriteLine("(run with --verbose for details)");
    }


    /// <summary>Prints an error as one line (the innermost useful message), with the stack trace only when verbose.</summary>
    public static void Error(Exception e, bool verbose)
    {
        Error(e is TargetInvocationException { InnerException: { } inner } ? inner.Message : e.Message, e, verbose);
    }
}
