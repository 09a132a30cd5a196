namespace Rebased;

/// <summary>
/// An error caused by the user's input (config, data, checkpoint, argument). Its message names the
/// problem in one line; the CLI prints it without a stack trace and exits with status 1.
/// </summary>
public class UserError : Exception
{
    public UserError(string message) : base(message) { }
    public UserError(string message, Exception inner) : base(message, inner) { }
}
