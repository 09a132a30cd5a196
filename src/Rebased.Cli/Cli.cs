using Spectre.Console;

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
    /// <summary>Prints an error as one line (the innermost useful message), with the stack trace only when verbose.</summary>
    public static void Error(Exception e, bool verbose)
    {
        var message = e is System.Reflection.TargetInvocationException { InnerException: { } inner } ? inner.Message : e.Message;
        Console.Error.WriteLine($"error: {message}");
        if (verbose) Console.Error.WriteLine(e);
        else Console.Error.WriteLine("(run with --verbose for details)");
    }
}
