using Rebased.Native;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Rebased.Cli.Commands;

public sealed class InfoCommand : Command<InfoCommand.Settings>
{
    public sealed class Settings : CommandSettings { }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellation)
    {
        var table = new Table().NoBorder().HideHeaders().AddColumn("key").AddColumn("value");
        foreach (var (key, value) in TorchRuntime.Describe()) table.AddRow(Markup.Escape(key), Markup.Escape(value));
        AnsiConsole.Write(table);
        return ExitCodes.Ok;
    }
}
