using Rebased.Experiments;
using Rebased.Native;

namespace Rebased.Cli.Commands;

/// <summary>`rebased report state-size`: valid accuracy (best lr, mean over seeds) against the models' recurrent state size, per sweep.</summary>
public sealed class ReportStateSizeCommand : Command<ReportCommand.Settings>
{
    public override int Execute(CommandContext context, ReportCommand.Settings settings, CancellationToken cancellation)
    {
        // The state sizes are asked of the mixers themselves, which are TorchSharp modules.
        TorchRuntime.EnsureLoaded();
        var runs = ReportCommand.ReadRuns(settings);
        foreach (var name in ReportCommand.Sweeps(runs, settings))
        {
            var finished = runs.Where(r => r.Sweep == name && r.Status == RunStatus.Finished).ToList();
            if (finished.Count == 0) { Console.WriteLine($"{name}: no finished runs yet"); continue; }
            var points = StateSizeReport.Points(finished);
            var (figure, csv) = StateSizeReport.Write(points, settings.Out, name);
            Console.WriteLine($"{name}: {finished.Count} finished runs → {points.Count} points; wrote {figure}, {csv}");
        }
        return ExitCodes.Ok;
    }
}
