using System.Text.Json;
using System.Text.Json.Serialization;

namespace Rebased.Training;

/// <summary>One line of metrics.jsonl: the state after an epoch's training and evaluation.</summary>
public sealed record EpochMetrics(
    [property: JsonPropertyName("step")] long Step,
    [property: JsonPropertyName("epoch")] int Epoch,
    [property: JsonPropertyName("lr")] double Lr,
    [property: JsonPropertyName("train_loss")] double TrainLoss,
    [property: JsonPropertyName("valid_loss")] double ValidLoss,
    [property: JsonPropertyName("valid_accuracy")] double ValidAccuracy,
    [property: JsonPropertyName("tokens_per_s")] double TokensPerS,
    [property: JsonPropertyName("elapsed_s")] double ElapsedS);

public static class StopReasons
{
    public const string EarlyStop = "early_stop";
    public const string MaxEpochs = "max_epochs";
    public const string Diverged = "diverged";
    /// <summary>Stopped by cancellation (Ctrl-C) at a step boundary; the last checkpoint resumes it.</summary>
    public const string Interrupted = "interrupted";
}

/// <summary>summary.json: the run's outcome. Status "finished" for a complete run (any stop reason but interrupted).</summary>
public sealed record RunSummary(
    [property: JsonPropertyName("run_id")] string RunId,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("stop_reason")] string StopReason,
    [property: JsonPropertyName("best_accuracy")] double BestAccuracy,
    [property: JsonPropertyName("epochs_run")] int EpochsRun,
    [property: JsonPropertyName("steps")] long Steps,
    [property: JsonPropertyName("wall_time_s")] double WallTimeS,
    [property: JsonPropertyName("parameter_count")] long ParameterCount,
    [property: JsonPropertyName("device")] string Device,
    [property: JsonPropertyName("config_hash")] string ConfigHash,
    [property: JsonPropertyName("device_name")] string? DeviceName = null,
    [property: JsonPropertyName("commit")] string? Commit = null);

internal static class Json
{
    public static readonly JsonSerializerOptions Line = new() { NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };
    public static readonly JsonSerializerOptions Indented = new(Line) { WriteIndented = true };
}
