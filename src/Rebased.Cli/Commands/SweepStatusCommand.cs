using System.ComponentModel;
using System.Globalization;
using Rebased.Experiments;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Rebased.Cli.Commands;

/// <summary>`rebased sweep status`: done/running/failed/pending counts per sweep and a table of the runs.</summary>
public sealed class SweepStatusCommand : Command<SweepStatusCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--store <URL>")]
        [Description("Results store (default runs/sweeps.db).")]
        public string? Store { get; init; }

        [CommandOption("--sweep <NAME>")]
        [Description("Only this sweep.")]
        public string? Sweep { get; init; }

        [CommandOption("--all")]
        [Description("List every run (default: running, failed and the last 20 finished).")]
        public bool All { get; init; }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellation)
    {
        using var store = RunStore.Open(settings.Store, mustExist: true);
        if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = 200; // logs and pipes: no wrapping at 80 columns
        var sweeps = settings.Sweep is null ? store.Sweeps() : [settings.Sweep];
        if (sweeps.Count == 0) { Console.WriteLine($"{store.Description}: no sweeps"); return ExitCodes.Ok; }
        var stale = sweeps.Sum(store.ReleaseExpired);
        if (stale > 0)
            Console.WriteLine($"{stale} run(s) marked running had an expired lease (their sweep or worker is gone): given back as pending, " +
                              "they resume from their checkpoints when the sweep runs again");

        var counts = new Table().Title(Markup.Escape(store.Description)).AddColumns("sweep", "done", "running", "failed", "pending", "total");
        foreach (var name in sweeps)
        {
            var c = store.Counts(name);
            counts.AddRow(Markup.Escape(name), $"[green]{c[RunStatus.Finished]}[/]", $"[blue]{c[RunStatus.Running]}[/]",
                $"[red]{c[RunStatus.Failed]}[/]", c[RunStatus.Pending].ToString(), c.Values.Sum().ToString());
        }
        AnsiConsole.Write(counts);

        foreach (var name in sweeps)
        {
            var runs = store.List(name);
            var varying = VaryingKeys(runs);
            var finished = runs.Where(r => r.Status == RunStatus.Finished).OrderBy(r => r.FinishedAt).ToList();
            var shown = settings.All ? runs
                : runs.Where(r => r.Status is RunStatus.Running or RunStatus.Failed).Concat(finished.TakeLast(20)).OrderBy(r => r.Position).ToList();
            if (shown.Count == 0) continue;
            var table = new Table().Title(Markup.Escape(name)).AddColumns("#", "hash", "status", "config", "device", "accuracy", "epochs", "stop", "tries", "time");
            foreach (var r in shown)
            {
                var color = r.Status switch { RunStatus.Finished => "green", RunStatus.Running => "blue", RunStatus.Failed => "red", _ => "grey" };
                var elapsed = r.WallTimeSeconds is { } w ? TimeSpan.FromSeconds(w).ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture)
                    : r is { Status: RunStatus.Running, StartedAt: { } s } ? (DateTimeOffset.UtcNow - s).ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture) : "";
                table.AddRow(r.Position.ToString(CultureInfo.InvariantCulture), r.ConfigHash, $"[{color}]{r.Status}[/]", Markup.Escape(r.Describe(varying)),
                    Markup.Escape(r.Device ?? ""), r.BestAccuracy?.ToString("F4", CultureInfo.InvariantCulture) ?? "", r.EpochsRun?.ToString(CultureInfo.InvariantCulture) ?? "",
                    Markup.Escape(r.StopReason ?? ""), r.Attempts.ToString(CultureInfo.InvariantCulture), elapsed);
            }
            AnsiConsole.Write(table);
            foreach (var r in shown.Where(r => r.Error is not null))
                Console.WriteLine($"{r.ConfigHash} ({r.RunDir}/train.log): {r.Error}");
            if (!settings.All && shown.Count < runs.Count) Console.WriteLine($"({runs.Count - shown.Count} more runs; --all lists them)");
        }
        return ExitCodes.Ok;
    }

    static IReadOnlyCollection<string> VaryingKeys(IReadOnlyList<RunRecord> runs) =>
        runs.SelectMany(r => r.Overrides).GroupBy(o => o.Key)
            .Where(g => g.Select(o => ConfigTree.FormatScalar(o.Value)).Distinct().Count() > 1).Select(g => g.Key).ToHashSet();
}
