using Rebased.Experiments;

namespace Rebased.Cli.Commands;

/// <summary>`rebased report`: Figure 1 (PNG), its numbers (Markdown, CSV) and a Table-1-style summary from the
/// finished runs of each sweep in the store, with the reference's selection rule.</summary>
public sealed class ReportCommand : Command<ReportCommand.Settings>
{
    public sealed class Settings : StoreSettings
    {
        [CommandOption("--runs <FILE>")]
        [Description("Read the finished runs from a runs file (`rebased sweep export`, e.g. docs/results/figure1/runs.jsonl) instead of a store.")]
        public string? Runs { get; init; }

        [CommandOption("--out <DIR>")]
        [Description("Output folder (default reports).")]
        public string Out { get; init; } = "reports";

        [CommandOption("--sweep <NAME>")]
        [Description("Only this sweep (default: every sweep in the store).")]
        public string? Sweep { get; init; }
    }

    /// <summary>`rebased report [OPTIONS]` is `rebased report figure [OPTIONS]`.</summary>
    public static string[] WithExplicitFigure(string[] args) =>
        args is ["report", ..] && (args.Length == 1 || args[1] is not ("figure" or "curves" or "state-size" or "-h" or "--help"))
            ? ["report", "figure", .. args[1..]]
            : args;

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellation)
    {
        var runs = ReadRuns(settings);
        var sweeps = Sweeps(runs, settings);
        foreach (var name in sweeps)
        {
            var finished = runs.Where(r => r.Sweep == name && r.Status == RunStatus.Finished).ToList();
            if (finished.Count == 0) { Console.WriteLine($"{name}: no finished runs yet"); continue; }
            var points = Selection.Select(finished.Select(RunResult.FromRecord));
            var files = Figure1Report.Write(points, settings.Out, name);
            Console.WriteLine($"{name}: {finished.Count} finished runs → {points.Count} points");
            AnsiConsole.Write(new Markup(Markup.Escape(Figure1Report.AblationTable(points, name))));
            AnsiConsole.Write(new Markup(Markup.Escape(PaperFigure1.ComparisonTable(points, name))));
            Console.WriteLine($"wrote {files.Figure}, {files.Table}, {files.Csv}, {files.AblationTable}, {files.PaperComparison}");
        }
        return ExitCodes.Ok;
    }

    /// <summary>The runs of --runs FILE or --store URL.</summary>
    internal static IReadOnlyList<RunRecord> ReadRuns(Settings settings)
    {
        if (settings.Runs is not null && settings.Store is not null) throw new UserError("give either --store URL or --runs FILE, not both");
        return settings.Runs is not null ? FromRunsFile(settings.Runs) : FromStore(settings.Store);
    }

    /// <summary>--sweep, else every sweep of the runs (at least one).</summary>
    internal static List<string> Sweeps(IReadOnlyList<RunRecord> runs, Settings settings)
    {
        var sweeps = settings.Sweep is null ? runs.Select(r => r.Sweep).Distinct().Order(StringComparer.Ordinal).ToList() : [settings.Sweep];
        if (sweeps.Count == 0) throw new UserError($"{settings.Runs ?? settings.Store ?? RunStore.DefaultSqlitePath} holds no runs");
        return sweeps;
    }

    static IReadOnlyList<RunRecord> FromRunsFile(string path) => File.Exists(path)
        ? RunsFile.Read(path).Select(l => l.Run).ToList()
        : throw new UserError($"{path}: no such runs file (`rebased sweep export FILE` writes one)");

    static IReadOnlyList<RunRecord> FromStore(string? url)
    {
        using var store = RunStore.Open(url, mustExist: true);
        return store.List();
    }
}
