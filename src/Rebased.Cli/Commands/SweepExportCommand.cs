using Rebased.Experiments;

namespace Rebased.Cli.Commands;

/// <summary>`rebased sweep export`: adds a store's finished runs to a runs file (JSON lines) that travels with the
/// repository, e.g. docs/results/figure1/runs.jsonl; runs already in the file keep their lines.</summary>
public sealed class SweepExportCommand : Command<SweepExportCommand.Settings>
{
    public sealed class Settings : StoreSettings
    {
        [CommandArgument(0, "<FILE>")]
        [Description("The runs file to add to (created when missing).")]
        public string File { get; init; } = "";

        [CommandOption("--sweep <NAME>")]
        [Description("Only this sweep (default: every sweep in the store).")]
        public string? Sweep { get; init; }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellation)
    {
        using var store = RunStore.Open(settings.Store, mustExist: true);
        if (settings.Sweep is not null && !store.Sweeps().Contains(settings.Sweep))
            throw new UserError($"{store.Description} holds no sweep '{settings.Sweep}' (it holds: {string.Join(", ", store.Sweeps())})");
        var finished = store.List(settings.Sweep).Where(r => r.Status == RunStatus.Finished).ToList();
        var added = RunsFile.Merge(settings.File, finished);
        Console.WriteLine($"{settings.File}: {added} finished run(s) added, {finished.Count - added} already there, " +
                          $"{RunsFile.Read(settings.File).Count} in all");
        return ExitCodes.Ok;
    }
}
