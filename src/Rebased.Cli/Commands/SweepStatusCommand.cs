using System.Globalization;
using Rebased.Experiments;

namespace Rebased.Cli.Commands;

/// <summary>`rebased sweep status`: done/running/failed/pending counts per sweep and a table of the runs.</summary>
public sealed class SweepStatusCommand : Command<SweepStatusCommand.Settings>
{
    public sealed class Settings : StoreSettings
    {
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
        int width = Cli.ConsoleWidth;
        AnsiConsole.Profile.Width = width;
        var sweeps = settings.Sweep is null ? store.Sweeps() : [settings.Sweep];
        if (sweeps.Count == 0) { Console.WriteLine($"{store.Description}: no sweeps"); return ExitCodes.Ok; }
        var stale = sweeps.Sum(store.ReleaseExpired);
        if (stale > 0)
            Console.WriteLine($"{stale} run(s) marked running had an expired lease (their sweep or worker is gone): given back as pending, " +
                              "they resume from their checkpoints when the sweep runs again");

        Console.WriteLine($"store {store.Description}");
        var counts = new Table().AddColumns("sweep", "done", "running", "failed", "pending", "total");
        foreach (var name in sweeps)
        {
            var c = store.Counts(name);
            counts.AddRow(Markup.Escape(Cli.Fit(name, width - 50)), $"[green]{c[RunStatus.Finished]}[/]", $"[blue]{c[RunStatus.Running]}[/]",
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
            Console.WriteLine();
            Console.WriteLine($"sweep {name}");
            AnsiConsole.Write(RunsTable(shown, varying, width));
            foreach (var r in shown.Where(r => r.Error is not null))
                Console.WriteLine($"{r.ConfigHash} ({r.RunDir}/train.log): {r.Error}");
            if (!settings.All && shown.Count < runs.Count) Console.WriteLine($"({runs.Count - shown.Count} more runs; --all lists them)");
        }
        return ExitCodes.Ok;
    }

    /// <summary>Columns that a wide terminal shows besides the ones every width shows.</summary>
    const int WideColumns = 120;

    /// <summary>
    /// The runs, one line each within <paramref name="width"/> columns: from <see cref="WideColumns"/> on with the full
    /// hash, device, stop reason and attempts; narrower with the first 8 characters of the hash (enough to find the
    /// run directory) and the config cut to the columns that are left.
    /// </summary>
    public static Table RunsTable(IReadOnlyList<RunRecord> runs, IReadOnlyCollection<string> varying, int width)
    {
        bool wide = width >= WideColumns;
        string[] headers = wide ? ["#", "hash", "status", "config", "device", "acc", "epochs", "stop", "tries", "time"] : ["#", "hash", "status", "config", "acc", "ep", "time"];
        var rows = runs.Select(r =>
        {
            var elapsed = r.WallTimeSeconds is { } w ? Duration(TimeSpan.FromSeconds(w))
                : r is { Status: RunStatus.Running, StartedAt: { } s } ? Duration(DateTimeOffset.UtcNow - s) : "";
            var accuracy = r.BestAccuracy?.ToString("F4", CultureInfo.InvariantCulture) ?? "";
            var epochs = r.EpochsRun?.ToString(CultureInfo.InvariantCulture) ?? "";
            var position = r.Position.ToString(CultureInfo.InvariantCulture);
            return wide
                ? new[] { position, r.ConfigHash, r.Status, r.Describe(varying), r.Device ?? "", accuracy, epochs, r.StopReason ?? "", r.Attempts.ToString(CultureInfo.InvariantCulture), elapsed }
                : [position, r.ConfigHash[..Math.Min(8, r.ConfigHash.Length)], r.Status, r.Describe(varying), accuracy, epochs, elapsed];
        }).ToList();
        const int configColumn = 3;
        // Each column takes its widest cell plus a space either side and one border; the config column gets the rest.
        int others = Enumerable.Range(0, headers.Length).Where(c => c != configColumn)
            .Sum(c => rows.Select(row => row[c].Length).Append(headers[c].Length).Max() + 3);
        int configWidth = Math.Max(headers[configColumn].Length, width - others - 4);
        var table = new Table().AddColumns(headers.Select(h => new TableColumn(h).NoWrap()).ToArray());
        foreach (var row in rows)
        {
            var color = row[2] switch { RunStatus.Finished => "green", RunStatus.Running => "blue", RunStatus.Failed => "red", _ => "grey" };
            var cells = row.Select((cell, c) => Markup.Escape(c == configColumn ? Cli.Fit(cell, configWidth) : cell)).ToArray();
            cells[2] = $"[{color}]{cells[2]}[/]";
            table.AddRow(cells);
        }
        return table;
    }

    static string Duration(TimeSpan time) => FormattableString.Invariant($"{(long)time.TotalHours}:{time.Minutes:00}:{time.Seconds:00}");

    static IReadOnlyCollection<string> VaryingKeys(IReadOnlyList<RunRecord> runs) =>
        runs.SelectMany(r => r.Overrides).GroupBy(o => o.Key)
            .Where(g => g.Select(o => ConfigTree.FormatScalar(o.Value)).Distinct().Count() > 1).Select(g => g.Key).ToHashSet();
}
