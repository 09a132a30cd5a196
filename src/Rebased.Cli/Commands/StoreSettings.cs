namespace Rebased.Cli.Commands;

/// <summary>The results store of the commands that read a store or fill one from a runs file (the commands that run
/// sweeps take theirs with <see cref="PlacementSettings"/>).</summary>
public class StoreSettings : CommandSettings
{
    [CommandOption("--store <URL>")]
    [Description("Results store (default runs/sweeps.db).")]
    public string? Store { get; init; }
}
