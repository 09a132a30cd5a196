using Rebased.Experiments;

namespace Rebased.Cli.Commands;

/// <summary>`rebased sweep import`: puts the finished runs of a runs file into a store (created when missing), so that
/// running their sweep there skips them and `rebased report` draws them.</summary>
public sealed class SweepImportCommand : Command<SweepImportCommand.Settings>
{
    public sealed class Settings : StoreSettings
    {
        [CommandArgument(0, "<FILE>")]
        [Description("A runs file written by `rebased sweep export`.")]
        public string File { get; init; } = "";
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellation)
    {
        if (!System.IO.File.Exists(settings.File)) throw new UserError($"{settings.File}: no such runs file (`rebased sweep export FILE` writes one)");
        var lines = RunsFile.Read(settings.File);
        using var store = RunStore.Open(settings.Store);
        var changed = store.ImportFinished(lines.Select(l => l.Run));
        Console.WriteLine($"{store.Description}: {changed} of {lines.Count} finished run(s) from {settings.File} imported " +
                          $"({lines.Count - changed} were already finished there)");
        return ExitCodes.Ok;
    }
}
