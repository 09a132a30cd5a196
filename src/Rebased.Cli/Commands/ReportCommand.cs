using System.ComponentModel;
using Rebased.Experiments;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Rebased.Cli.Commands;

/// <summary>`rebased report`: Figure 1 (PNG), its numbers (Markdown, CSV) and a Table-1-style summary from the
/// finished runs of each sweep in the store, with the reference's selection rule.</summary>
public sealed class ReportCommand : Command<ReportCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--store <URL>")]
        [Description("Results store (default runs/sweeps.db).")]
        public string? Store { get; init; }

        [CommandOption("--out <DIR>")]
        [Description("Output folder (default reports).")]
        public string Out { get; init; } = "reports";

        [CommandOption("--sweep <NAME>")]
        [Description("Only this sweep (default: every sweep in the store).")]
        public string? Sweep { get; init; }
    }

    /// <summary>`rebased report [OPTIONS]` is `rebased report figure [OPTIONS]`.</summary>
    public static string[] WithExplicitFigure(string[] args) =>
        args is ["report", ..] && (args.Length == 1 || args[1] is not ("figure" or "curves" or "-h" or "--help"))
            ? ["report", "figure", .. args[1..]]
            : args;

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellation)
    {
        using var store = RunStore.Open(settings.Store, mustExist: true);
        var sweeps = settings.Sweep is null ? store.Sweeps() : [settings.Sweep];
        if (sweeps.Count == 0) throw new UserError($"{store.Description} holds no sweeps");
        foreach (var name in sweeps)
        {
            var finished = store.List(name).Where(r => r.Status == RunStatus.Finished).ToList();
            if (finished.Count == 0) { Console.WriteLine($"{name}: no finished runs yet"); continue; }
            var points = Selection.Select(finished.Select(RunResult.FromRecord));
            var files = Figure1Report.Write(points, settings.Out, name);
            Console.WriteLine($"{name}: {finished.Count} finished runs → {points.Count} points");
            AnsiConsole.Write(new Markup(Markup.Escape(Figure1Report.AblationTable(points, name))));
            Console.WriteLine($"wrote {files.Figure}, {files.Table}, {files.Csv}, {files.AblationTable}");
        }
        return ExitCodes.Ok;
    }
}
