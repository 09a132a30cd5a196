using Rebased.Experiments;

namespace Rebased.Cli.Commands;

/// <summary>`rebased report curves`: our runs' valid accuracy per epoch against the reference trainer's curves of the
/// same configs, the first epoch above 0.9 on each side, and curves.json for docs/results/curves/.</summary>
public sealed class ReportCurvesCommand : Command<ReportCurvesCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<RUN_DIR>")]
        [Description("Our run directories (config.yaml and metrics.jsonl).")]
        public string[] RunDirs { get; init; } = [];

        [CommandOption("--reference <FILE>")]
        [Description("Reference curves (shared/reference_curves/mqar_tta_h200.json, or a results_tta.json of the reference anchor); repeat for more seeds.")]
        public string[] Reference { get; init; } = [];

        [CommandOption("--out <FILE>")]
        [Description("Where curves.json goes (default docs/results/curves/curves.json).")]
        public string Out { get; init; } = "docs/results/curves/curves.json";

        [CommandOption("--commit <SHA>")]
        [Description("The commit that trained runs whose summary.json names none (older binaries did not record it).")]
        public string? Commit { get; init; }

        public override Spectre.Console.ValidationResult Validate() => Reference.Length == 0
            ? Spectre.Console.ValidationResult.Error("give the reference's curves with --reference FILE (e.g. ../shared/reference_curves/mqar_tta_h200.json)")
            : Spectre.Console.ValidationResult.Success();
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellation)
    {
        var reference = settings.Reference.SelectMany(LearningCurves.ReadReference).ToList();
        var ours = settings.RunDirs.Select(LearningCurves.ReadRun).Select(c => c.Commit is null ? c with { Commit = settings.Commit } : c).ToList();
        var comparisons = LearningCurves.Compare(ours, reference);
        foreach (var c in comparisons) Console.WriteLine(LearningCurves.Table(c));
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(settings.Out))!);
        File.WriteAllText(settings.Out, LearningCurves.Json(comparisons));
        var decided = comparisons.Where(c => c.MeetsTarget is not null).ToList();
        Console.WriteLine($"{decided.Count(c => c.MeetsTarget == true)} of {decided.Count} decidable configs meet the target " +
                          $"(first epoch above 0.9 within ±{CurveComparison.ToleranceEpochs} of the reference, or near chance where it is); wrote {settings.Out}");
        return ExitCodes.Ok;
    }
}
