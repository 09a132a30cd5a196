using System.Globalization;
using System.Text;
using Rebased.Configs;
using Rebased.Models;
using ScottPlot;

namespace Rebased.Experiments;

/// <summary>A Figure-1 point with the model's recurrent state size (all layers, at the run's sequence length).</summary>
public sealed record StateSizePoint(SelectedPoint Point, long StateSize);

/// <summary>
/// Accuracy against recurrent state size, as Zoology plots it: one panel per sequence length, the best-lr mean
/// accuracy of each (mixer, width) at x = the model's state size (log axis), one line per mixer; and the numbers as CSV.
/// </summary>
public static class StateSizeReport
{
    /// <summary>
    /// The state size of a run's model: its stored config resolved as the trainer resolves it, every layer's
    /// <see cref="Mixers.ISequenceMixer.StateSize"/> at data.input_seq_len, summed.
    /// </summary>
    public static long StateSizeOf(RunRecord run)
    {
        var config = ConfigResolver.Resolve(ConfigLoader.Parse(run.ConfigJson, $"run {run.ConfigHash} of sweep {run.Sweep}")).Config;
        return LanguageModel.StateSizes(config.Model, config.Data.InputSeqLen).Sum();
    }

    /// <summary>The selected points of finished runs, each with its state size; every run of a point must agree on it.</summary>
    public static IReadOnlyList<StateSizePoint> Points(IReadOnlyList<RunRecord> finished, Func<RunRecord, long>? stateSizeOf = null)
    {
        stateSizeOf ??= StateSizeOf;
        var sizes = new Dictionary<(string, int, int), long>();
        foreach (var run in finished)
        {
            var r = RunResult.FromRecord(run);
            long size = stateSizeOf(run);
            if (sizes.TryGetValue((r.Mixer, r.SeqLen, r.DModel), out var other) && other != size)
                throw new UserError($"sweep {run.Sweep}: runs of {r.Mixer} at L={r.SeqLen}, d_model={r.DModel} differ in state size ({other} and {size}); report them as separate sweeps");
            sizes[(r.Mixer, r.SeqLen, r.DModel)] = size;
        }
        return Selection.Select(finished.Select(RunResult.FromRecord))
            .Select(p => new StateSizePoint(p, sizes[(p.Mixer, p.SeqLen, p.DModel)])).ToList();
    }

    /// <summary>Writes {name}_state_size.png and {name}_state_size.csv; returns their paths.</summary>
    public static (string Figure, string Csv) Write(IReadOnlyList<StateSizePoint> points, string outDir, string name)
    {
        if (points.Count == 0) throw new UserError($"sweep {name}: no finished runs to report");
        Directory.CreateDirectory(outDir);
        var figure = Path.Combine(outDir, $"{name}_state_size.png");
        var csv = Path.Combine(outDir, $"{name}_state_size.csv");
        Render(points, figure);
        File.WriteAllText(csv, Csv(points));
        return (figure, csv);
    }

    public static string Csv(IReadOnlyList<StateSizePoint> points)
    {
        var sb = new StringBuilder("mixer,seq_len,d_model,state_size,best_lr,mean_accuracy,std_accuracy,seeds\n");
        foreach (var (p, size) in points.OrderBy(p => p.Point.SeqLen).ThenBy(p => p.StateSize))
            sb.AppendLine(string.Join(",", p.Mixer, p.SeqLen, p.DModel, size, p.LearningRate.ToString("G4", CultureInfo.InvariantCulture),
                p.Mean.ToString("0.######", CultureInfo.InvariantCulture), p.Std.ToString("0.######", CultureInfo.InvariantCulture), p.Seeds));
        return sb.ToString();
    }

    private static void Render(IReadOnlyList<StateSizePoint> points, string path)
    {
        var lengths = points.Select(p => p.Point.SeqLen).Distinct().Order().ToArray();
        var mixers = points.Select(p => p.Point.Mixer).Distinct().ToArray();
        var decades = points.Select(p => Math.Log10(p.StateSize)).ToArray();
        int low = (int)Math.Floor(decades.Min()), high = (int)Math.Ceiling(decades.Max());
        if (high == low) high++;
        const int panelWidth = 420, height = 430;
        var multiplot = new Multiplot();
        multiplot.AddPlots(lengths.Length);
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Columns();
        for (int panel = 0; panel < lengths.Length; panel++)
        {
            var plot = multiplot.GetPlot(panel);
            plot.Font.Set("DejaVu Sans");
            for (int m = 0; m < mixers.Length; m++)
            {
                var series = points.Where(p => p.Point.SeqLen == lengths[panel] && p.Point.Mixer == mixers[m]).OrderBy(p => p.StateSize).ToArray();
                if (series.Length == 0) continue;
                var line = plot.Add.Scatter(series.Select(p => Math.Log10(p.StateSize)).ToArray(), series.Select(p => p.Point.Mean).ToArray());
                line.LegendText = panel == lengths.Length - 1 ? Selection.DisplayName(mixers[m]) : "";
                line.LineWidth = 2;
                line.MarkerSize = 8;
            }
            var ticks = Enumerable.Range(low, high - low + 1).ToArray();
            plot.Axes.Bottom.SetTicks(ticks.Select(t => (double)t).ToArray(), ticks.Select(t => $"1e{t}").ToArray());
            plot.Axes.SetLimits(low - 0.1, high + 0.1, -0.03, 1.05);
            plot.Grid.MajorLineColor = Colors.Black.WithAlpha(0.12);
            plot.Title($"Sequence length {lengths[panel]}", size: 18);
            plot.XLabel("Recurrent state size (numbers, all layers)", size: 14);
            plot.YLabel(panel == 0 ? "MQAR accuracy" : "", size: 16);
        }
        multiplot.GetPlot(lengths.Length - 1).ShowLegend(Alignment.LowerRight);
        multiplot.SavePng(path, panelWidth * lengths.Length, height);
    }
}
