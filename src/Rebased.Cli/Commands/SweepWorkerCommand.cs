using Rebased.Experiments;

namespace Rebased.Cli.Commands;

/// <summary>`rebased sweep worker --store URL`: claims runs from a store until none are left (for schedulers:
/// Slurm arrays, Kubernetes Jobs, or by hand on several machines).</summary>
public sealed class SweepWorkerCommand : Command<SweepWorkerCommand.Settings>
{
    public sealed class Settings : PlacementSettings
    {
        [CommandOption("--sweep <NAME>")]
        [Description("Only runs of this sweep (default: any sweep in the store).")]
        public string? Sweep { get; init; }

        public override Spectre.Console.ValidationResult Validate() =>
            Store is null ? Spectre.Console.ValidationResult.Error("sweep worker needs --store URL") : base.Validate();
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellation)
    {
        settings.CheckDevices();
        using var store = RunStore.Open(settings.Store);
        SweepExecutor.RecoverLocal(store, settings.Sweep);
        var summary = SweepRunner.Run(store, settings.ExecutorOptions(settings.Sweep, null), cancellation);
        Console.WriteLine($"worker done: {summary.Finished} finished, {summary.Failed} failed, {summary.Interrupted} interrupted");
        return summary.Interrupted > 0 ? ExitCodes.Failure : ExitCodes.Ok;
    }
}
