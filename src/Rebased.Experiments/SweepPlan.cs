using System.Text;

namespace Rebased.Experiments;

/// <summary>Turns a sweep definition into store rows: one per grid point, each with its own run directory
/// (RUNS_DIR/HASH) and the base config file its trainer is given.</summary>
public static class SweepPlan
{
    public static string DefaultRunsDir(SweepDefinition sweep) => Path.Combine("runs", sweep.Name);

    public static IReadOnlyList<RunRecord> Records(SweepDefinition sweep, IReadOnlyList<SweepRun> runs, string runsDir, bool writeFiles)
    {
        var root = Path.GetFullPath(runsDir);
        var basePath = sweep.BaseConfigPath ?? Path.Combine(root, "base_config.yaml");
        if (sweep.BaseConfigPath is null && writeFiles)
        {
            // An inline base is written out for the trainer; JSON is valid YAML.
            Directory.CreateDirectory(root);
            File.WriteAllText(basePath, sweep.BaseConfig.CanonicalJson() + "\n");
        }
        return runs.Select(r => new RunRecord
        {
            Sweep = sweep.Name,
            ConfigHash = r.Hash,
            Position = r.Index,
            ConfigJson = r.Config.CanonicalJson(),
            OverridesJson = ConfigTree.ToJsonOrdered(r.Overrides),
            BaseConfigPath = basePath,
            RunDir = Path.Combine(root, r.Hash),
        }).ToList();
    }

    /// <summary>The keys whose value differs between runs (the ones worth showing in listings).</summary>
    public static IReadOnlyList<string> VaryingKeys(SweepDefinition sweep) =>
        sweep.Parameters.Where(p => p.Values.Count > 1).Select(p => p.Key).ToList();

    /// <summary>
    /// An sbatch array script: each array task is one `rebased sweep worker` that claims runs from the store until
    /// none are left, so the tasks share the sweep without duplicates and a pre-empted task's run is taken over once
    /// its lease expires.
    /// </summary>
    public static string SlurmScript(string sweepName, string storeUrl, IReadOnlyList<string> rebasedCommand, int tasks,
        bool gpu, int runsPerDevice, string logDir)
    {
        static string Quote(string s) => "'" + s.Replace("'", "'\\''") + "'";
        var sb = new StringBuilder();
        sb.AppendLine("#!/bin/bash");
        sb.AppendLine($"#SBATCH --job-name=rebased-{sweepName}");
        sb.AppendLine($"#SBATCH --array=0-{tasks - 1}");
        sb.AppendLine("#SBATCH --ntasks=1");
        if (gpu)
        {
            sb.AppendLine("#SBATCH --gres=gpu:1");
            sb.AppendLine($"#SBATCH --cpus-per-task={Math.Max(2, 2 * runsPerDevice)}");
        }
        else sb.AppendLine("#SBATCH --cpus-per-task=2");
        sb.AppendLine("#SBATCH --time=24:00:00");
        sb.AppendLine($"#SBATCH --output={logDir}/slurm-%A_%a.out");
        sb.AppendLine("#");
        sb.AppendLine($"# Sweep '{sweepName}': every array task is a worker that claims runs from the results store until none");
        sb.AppendLine("# are left. Submit with `sbatch THIS_FILE`; follow with `rebased sweep status --store URL`. Resubmitting");
        sb.AppendLine("# after a failure or timeout resumes the unfinished runs from their checkpoints.");
        sb.AppendLine("set -euo pipefail");
        sb.AppendLine($"REBASED=({string.Join(" ", rebasedCommand.Select(Quote))})");
        var placement = gpu ? $"--devices cuda:0 --runs-per-device {runsPerDevice}" : "--workers 1";
        sb.AppendLine($"exec \"${{REBASED[@]}}\" sweep worker --store {Quote(storeUrl)} --sweep {Quote(sweepName)} {placement}");
        return sb.ToString();
    }
}
