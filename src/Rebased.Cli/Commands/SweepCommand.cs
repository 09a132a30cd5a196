using Rebased.Experiments;

namespace Rebased.Cli.Commands;

/// <summary>`rebased sweep FILE`: expands a grid sweep, records its runs in the store and runs them here
/// (or lists them, or writes a Slurm array script). Re-running the same command resumes the sweep.</summary>
public sealed class SweepCommand : Command<SweepCommand.Settings>
{
    public sealed class Settings : PlacementSettings
    {
        [CommandArgument(0, "<FILE>")]
        [Description("Sweep YAML (W&B grid format: method, parameters with values/value, command with --config_path, or base:).")]
        public string File { get; init; } = "";

        [CommandOption("--dry-run")]
        [Description("List the runs and the trainer command; run nothing, write nothing.")]
        public bool DryRun { get; init; }

        [CommandOption("--runs-dir <DIR>")]
        [Description("Folder of the run directories (default runs/SWEEP_NAME).")]
        public string? RunsDir { get; init; }

        [CommandOption("--retry-failed")]
        [Description("Run the sweep's failed runs again.")]
        public bool RetryFailed { get; init; }

        [CommandOption("--emit-slurm <FILE>")]
        [Description("Record the runs in the store and write an sbatch array script of `rebased sweep worker` tasks instead of running.")]
        public string? EmitSlurm { get; init; }

        [CommandOption("--slurm-tasks <N>")]
        [OptionRange(1)]
        [Description("Array tasks in the Slurm script (default: the number of unfinished runs, at most 32).")]
        public int? SlurmTasks { get; init; }

        public override Spectre.Console.ValidationResult Validate()
        {
            if (SlurmTasks is not null && EmitSlurm is null) return Spectre.Console.ValidationResult.Error("--slurm-tasks needs --emit-slurm FILE");
            return base.Validate();
        }
    }

    /// <summary>`rebased sweep FILE …` is short for `rebased sweep run FILE …` (the command line parser has no
    /// default command with arguments inside a branch).</summary>
    public static string[] WithExplicitRun(string[] args) =>
        args is ["sweep", var next, ..] && next is not ("run" or "status" or "worker" or "export" or "import") && !next.StartsWith('-')
            ? ["sweep", "run", .. args[1..]]
            : args;

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellation)
    {
        var sweep = SweepDefinition.Load(settings.File);
        var runs = sweep.Expand();
        var runsDir = settings.RunsDir ?? SweepPlan.DefaultRunsDir(sweep);
        var varying = SweepPlan.VaryingKeys(sweep);
        settings.CheckDevices();
        SweepValidation.Check(sweep, runs, settings.Slots());

        if (settings.DryRun)
        {
            var records = SweepPlan.Records(sweep, runs, runsDir, writeFiles: false);
            var table = new Table().AddColumn("#").AddColumn("config hash").AddColumn("overrides");
            foreach (var r in records) table.AddRow(r.Position.ToString(), r.ConfigHash, Markup.Escape(r.Describe(varying)));
            AnsiConsole.Write(table);
            var trainer = TrainerCommand.FromEnvironmentOrSelf();
            var slots = settings.Slots();
            Console.WriteLine($"sweep {sweep.Name}: {records.Count} runs, {slots.Count} at once; base config {records.FirstOrDefault()?.BaseConfigPath}");
            if (records.Count > 0)
                Console.WriteLine("first run: " + string.Join(" ", trainer.Program.Take(1).Concat(trainer.Arguments(records[0], slots[0], resume: false))));
            return ExitCodes.Ok;
        }

        using var store = RunStore.Open(settings.Store);
        var added = store.Register(SweepPlan.Records(sweep, runs, runsDir, writeFiles: true));
        var (recorded, released) = SweepExecutor.RecoverLocal(store, sweep.Name);
        if (settings.RetryFailed) Console.WriteLine($"{store.RetryFailed(sweep.Name)} failed runs queued again");
        var before = store.Counts(sweep.Name);
        Console.WriteLine($"sweep {sweep.Name}: {runs.Count} runs ({added} new) in {store.Description}; " +
            $"{before[RunStatus.Finished]} finished, {before[RunStatus.Failed]} failed, {before[RunStatus.Pending]} pending" +
            (recorded + released > 0 ? $"; recovered from an interrupted sweep: {recorded} recorded as finished, {released} to resume" : ""));

        if (settings.EmitSlurm is { } scriptPath)
        {
            var unfinished = before[RunStatus.Pending] + before[RunStatus.Running];
            var tasks = settings.SlurmTasks ?? Math.Clamp(unfinished, 1, 32);
            var storeUrl = settings.Store is { } url && url.Contains("://", StringComparison.Ordinal) ? url : store.Description;
            if (store is SqliteRunStore)
                Console.Error.WriteLine("warning: a SQLite store needs a shared file system with working locks for a cluster; prefer --store postgres://…");
            var script = SweepPlan.SlurmScript(sweep.Name, storeUrl, TrainerCommand.SelfCommand(), tasks,
                gpu: settings.Devices is not null, settings.EffectiveRunsPerDevice, Path.GetFullPath(runsDir));
            File.WriteAllText(scriptPath, script);
            Console.WriteLine($"wrote {scriptPath}: {tasks} array tasks; submit with `sbatch {scriptPath}`");
            return ExitCodes.Ok;
        }

        var summary = SweepRunner.Run(store, settings.ExecutorOptions(sweep.Name, varying), cancellation);
        var after = store.Counts(sweep.Name);
        Console.WriteLine($"this session: {summary.Finished} finished, {summary.Failed} failed, {summary.Interrupted} interrupted. " +
            $"sweep {sweep.Name}: {after[RunStatus.Finished]}/{runs.Count} finished, {after[RunStatus.Failed]} failed, {after[RunStatus.Pending] + after[RunStatus.Running]} left");
        if (summary.Interrupted > 0) { Console.WriteLine("interrupted: run the same command again to resume"); return ExitCodes.Failure; }
        return after[RunStatus.Failed] > 0 ? ExitCodes.Failure : ExitCodes.Ok;
    }
}
