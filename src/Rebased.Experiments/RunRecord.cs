namespace Rebased.Experiments;

public static class RunStatus
{
    public const string Pending = "pending";
    public const string Running = "running";
    public const string Finished = "finished";
    public const string Failed = "failed";
    public static readonly string[] All = [Finished, Running, Failed, Pending];
}

/// <summary>One row of the results store: a run of a sweep, identified by (sweep, config hash).</summary>
public sealed record RunRecord
{
    public required string Sweep { get; init; }
    public required string ConfigHash { get; init; }
    public required int Position { get; init; }
    /// <summary>The run's full config (base config with the overrides applied) as canonical JSON.</summary>
    public required string ConfigJson { get; init; }
    /// <summary>The sweep's overrides for this run, as a JSON object of dotted keys in the sweep file's order.</summary>
    public required string OverridesJson { get; init; }
    public required string BaseConfigPath { get; init; }
    public required string RunDir { get; init; }
    public string Status { get; init; } = RunStatus.Pending;
    public int Attempts { get; init; }
    public string? Worker { get; init; }
    public string? Device { get; init; }
    public DateTimeOffset? StartedAt { get; init; }
    public DateTimeOffset? FinishedAt { get; init; }
    public DateTimeOffset? LeaseUntil { get; init; }
    public double? BestAccuracy { get; init; }
    public string? StopReason { get; init; }
    public int? EpochsRun { get; init; }
    public double? WallTimeSeconds { get; init; }
    /// <summary>The per-epoch metrics (metrics.jsonl) as a JSON array.</summary>
    public string? MetricsJson { get; init; }
    public string? SummaryJson { get; init; }
    public string? Error { get; init; }

    /// <summary>The overrides in short form (last key segment = value), for logs and tables.</summary>
    public string Describe(IReadOnlyCollection<string>? onlyKeys = null) => string.Join(" ",
        Overrides.Where(o => onlyKeys is null || onlyKeys.Contains(o.Key)).Select(o => $"{o.Key.Split('.')[^1]}={ConfigTree.FormatScalar(o.Value)}"));

    public ConfigTree Config => ConfigTree.FromJson(ConfigJson);

    public IReadOnlyList<KeyValuePair<string, object?>> Overrides =>
        ConfigTree.FromJsonOrdered(OverridesJson);
}

/// <summary>What a finished run left in its run directory (summary.json and metrics.jsonl).</summary>
public sealed record RunOutcome(double BestAccuracy, string StopReason, int EpochsRun, double WallTimeSeconds, string MetricsJson, string SummaryJson,
    string? Device = null);
