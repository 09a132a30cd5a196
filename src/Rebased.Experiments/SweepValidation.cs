using Rebased.Configs;
using Rebased.Training;

namespace Rebased.Experiments;

/// <summary>
/// Checks every grid point of a sweep as its trainer will read it (the base config, the point's overrides, the
/// device it is given), so that a bad value anywhere in the grid is an error before the first run starts instead of
/// a failed run hours into the sweep.
/// </summary>
public static class SweepValidation
{
    /// <summary>Throws the first grid point's error, naming the point; <paramref name="devices"/> are the devices runs
    /// are placed on (--devices), null entries leaving the config's device.</summary>
    public static void Check(SweepDefinition sweep, IReadOnlyList<SweepRun> runs, IReadOnlyList<string?> devices)
    {
        foreach (var run in runs)
        {
            try
            {
                foreach (var device in devices.Distinct()) CheckPoint(sweep, run, device);
            }
            catch (UserError e)
            {
                throw new UserError($"{sweep.SourcePath}: grid point {run.Index} of {runs.Count} ({run.Describe()}): {e.Message}", e);
            }
        }
    }

    static void CheckPoint(SweepDefinition sweep, SweepRun run, string? device)
    {
        var overrides = run.Overrides.Select(o => $"{o.Key}={ConfigTree.FormatScalar(o.Value)}").ToList();
        var loaded = sweep.BaseConfigPath is { } path
            ? ConfigLoader.Load(path, overrides, "parameter")
            : ConfigLoader.Parse(sweep.BaseConfig.CanonicalJson(), "base", overrides, "parameter");
        if (device is not null) loaded.Config.Device = device;
        var config = ConfigResolver.Resolve(loaded).Config;
        var parsed = Devices.Parse(config.Device);
        MemoryEstimate.Check(config, parsed);
    }
}
