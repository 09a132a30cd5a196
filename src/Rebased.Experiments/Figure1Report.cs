using System.Globalization;
using System.Text;
using ScottPlot;

namespace Rebased.Experiments;

/// <summary>Files written by a report.</summary>
public sealed record ReportFiles(string Figure, string Table, string Csv, string AblationTable, string PaperComparison);

/// <summary>
/// Figure 1 of the paper from selected points: one panel per sequence length, MQAR accuracy against model width
/// (categorical axis), one line per mixer with ±std error bars; plus the same numbers as Markdown and CSV, and a
/// Table-1-style summary (mean ± std per mixer/kernel variant and width, with the mean over widths).
/// </summary>
public static class Figure1Report
{
    static readonly Color[] Palette =
    [
        Color.FromHex("#d62728"), Color.FromHex("#1f77b4"), Color.FromHex("#2ca02c"), Color.FromHex("#9467bd"),
        Color.FromHex("#ff7f0e"), Color.FromHex("#8c564b"), Color.FromHex("#e377c2"), Color.FromHex("#7f7f7f"),
        Color.FromHex("#bcbd22"), Color.FromHex("#17becf"),
    ];

    static readonly MarkerShape[] Markers =
        [MarkerShape.FilledCircle, MarkerShape.FilledSquare, MarkerShape.FilledTriangleUp, MarkerShape.FilledDiamond,
         MarkerShape.FilledTriangleDown, MarkerShape.OpenCircle, MarkerShape.OpenSquare, MarkerShape.OpenTriangleUp,
         MarkerShape.OpenDiamond, MarkerShape.Cross];

    public static ReportFiles Write(IReadOnlyList<SelectedPoint> points, string outDir, string name)
    {
        if (points.Count == 0) throw new UserError($"sweep {name}: no finished runs to report");
        Directory.CreateDirectory(outDir);
        var files = new ReportFiles(
            Path.Combine(outDir, $"{name}_figure1.png"), Path.Combine(outDir, $"{name}_figure1.md"),
            Path.Combine(outDir, $"{name}_figure1.csv"), Path.Combine(outDir, $"{name}_table.md"), Path.Combine(outDir, $"{name}_vs_paper.md"));
        RenderFigure(points, files.Figure);
        File.WriteAllText(files.Table, MarkdownTable(points, name));
        File.WriteAllText(files.Csv, Csv(points));
        File.WriteAllText(files.AblationTable, AblationTable(points, name));
        File.WriteAllText(files.PaperComparison, PaperFigure1.ComparisonTable(points, name));
        return files;
    }

    public static void RenderFigure(IReadOnlyList<SelectedPoint> points, string path)
    {
        var lengths = points.Select(p => p.SeqLen).Distinct().Order().ToArray();
        var widths = points.Select(p => p.DModel).Distinct().Order().ToArray();
        var mixers = points.Select(p => p.Mixer).Distinct().ToArray(); // already in the paper's order
        const int panelWidth = 420, height = 430;

        var multiplot = new Multiplot();
        multiplot.AddPlots(lengths.Length);
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Columns();
        var offsets = mixers.Length == 1 ? [0.0] : mixers.Select((_, i) => 0.16 * (i / (mixers.Length - 1.0) - 0.5)).ToArray();

        for (int panel = 0; panel < lengths.Length; panel++)
        {
            var plot = multiplot.GetPlot(panel);
            plot.Font.Set("DejaVu Sans");
            for (int m = 0; m < mixers.Length; m++)
            {
                var series = points.Where(p => p.SeqLen == lengths[panel] && p.Mixer == mixers[m]).OrderBy(p => p.DModel).ToArray();
                if (series.Length == 0) continue;
                // Mixers are dodged a little sideways so that overlapping error bars stay readable.
                var xs = series.Select(p => Array.IndexOf(widths, p.DModel) + offsets[m]).ToArray();
                var ys = series.Select(p => p.Mean).ToArray();
                var style = StyleIndex(mixers, m);
                var color = Palette[style % Palette.Length];
                var bars = new ScottPlot.Plottables.ErrorBar(xs, ys, null, null,
                    series.Select(p => p.ErrorAbove).ToArray(), series.Select(p => p.ErrorBelow).ToArray());
                plot.Add.Plottable(bars);
                bars.Color = color;
                bars.LineWidth = 1.5f;
                bars.CapSize = 5;
                var line = plot.Add.Scatter(xs, ys);
                line.Color = color;
                line.LineWidth = 2;
                line.MarkerSize = 8;
                line.MarkerShape = Markers[style % Markers.Length];

                // The paper's reading at the same widths: hollow markers on a dashed line (a range as its middle).
                var paper = series.Select(p => PaperFigure1.Find(p.Mixer, p.SeqLen, p.DModel)).ToArray();
                if (paper.All(p => p is null)) continue;
                var paperXs = xs.Where((_, i) => paper[i] is not null).ToArray();
                var paperYs = paper.Where(p => p is not null).Select(p => (p!.Low + p.High) / 2).ToArray();
                var reading = plot.Add.Scatter(paperXs, paperYs);
                reading.Color = color.WithAlpha(0.6);
                reading.LineWidth = 1;
                reading.LinePattern = LinePattern.Dashed;
                reading.MarkerSize = 9;
                reading.MarkerShape = MarkerShape.OpenCircle;
            }
            plot.Axes.Bottom.SetTicks(widths.Select((_, i) => (double)i).ToArray(), widths.Select(w => w.ToString(CultureInfo.InvariantCulture)).ToArray());
            plot.Axes.SetLimits(-0.5, widths.Length - 0.5, -0.03, 1.05);
            plot.Axes.Left.SetTicks([0, 0.2, 0.4, 0.6, 0.8, 1.0], ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
            plot.Grid.MajorLineColor = Colors.Black.WithAlpha(0.12);
            plot.Title($"Sequence length {lengths[panel]}", size: 18);
            plot.XLabel("Model dimension", size: 16);
            plot.YLabel(panel == 0 ? "MQAR accuracy" : "", size: 16);
            plot.Axes.Bottom.TickLabelStyle.FontSize = 14;
            plot.Axes.Left.TickLabelStyle.FontSize = 14;
        }
        // One legend entry per mixer with any point, whichever panels it appears in.
        var legend = multiplot.GetPlot(lengths.Length - 1).Legend;
        for (int m = 0; m < mixers.Length; m++)
        {
            var style = StyleIndex(mixers, m);
            legend.ManualItems.Add(new LegendItem
            {
                LabelText = Selection.DisplayName(mixers[m]),
                LineColor = Palette[style % Palette.Length],
                LineWidth = 2,
                MarkerShape = Markers[style % Markers.Length],
                MarkerColor = Palette[style % Palette.Length],
                MarkerSize = 8,
            });
        }
        legend.ManualItems.Add(new LegendItem
        {
            LabelText = "paper (eye-read)",
            LineColor = Colors.Gray,
            LineWidth = 1,
            LinePattern = LinePattern.Dashed,
            MarkerShape = MarkerShape.OpenCircle,
            MarkerColor = Colors.Gray,
            MarkerSize = 9,
        });
        SaveWithLegendBelow(multiplot, legend, path, panelWidth * lengths.Length, height);
    }

    /// <summary>A mixer keeps its colour and marker in every figure (paper order); other names follow.</summary>
    static int StyleIndex(string[] mixers, int m)
    {
        var known = Selection.MixerOrder(mixers[m]);
        return known < Selection.KnownMixerCount ? known
            : Selection.KnownMixerCount + mixers.Take(m).Count(x => Selection.MixerOrder(x) >= Selection.KnownMixerCount);
    }

    /// <summary>Renders the panels and, in a strip under them, one horizontal legend (inside a panel it would
    /// hide data points).</summary>
    static void SaveWithLegendBelow(Multiplot multiplot, Legend legend, string path, int width, int panelsHeight)
    {
        const int legendHeight = 50;
        using var surface = SkiaSharp.SKSurface.Create(new SkiaSharp.SKImageInfo(width, panelsHeight + legendHeight))
            ?? throw new InvalidOperationException("cannot create a drawing surface");
        var canvas = surface.Canvas;
        canvas.Clear(SkiaSharp.SKColors.White);
        legend.IsVisible = false;
        multiplot.Render(canvas, new PixelRect(0, width, panelsHeight, 0));
        legend.IsVisible = true;
        legend.Orientation = Orientation.Horizontal;
        legend.FontSize = 16;
        legend.FontName = "DejaVu Sans";
        legend.OutlineWidth = 0;
        legend.ShadowColor = Colors.Transparent;
        using (var paint = Paint.NewDisposablePaint())
            legend.Render(canvas, paint, new PixelRect(0, width, panelsHeight + legendHeight, panelsHeight), Alignment.MiddleCenter);
        using var image = surface.Snapshot();
        using var png = image.Encode(SkiaSharp.SKEncodedImageFormat.Png, 100);
        using var file = File.Create(path);
        png.SaveTo(file);
    }

    static string F(double v) => v.ToString("F3", CultureInfo.InvariantCulture);
    static string D6(double v) => v.ToString("0.######", CultureInfo.InvariantCulture);
    static string Lr(double v) => v.ToString("G4", CultureInfo.InvariantCulture);

    public static string MarkdownTable(IReadOnlyList<SelectedPoint> points, string name)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"# {name}: MQAR accuracy at the best learning rate (mean ± sample std over seeds)");
        sb.AppendLine();
        sb.AppendLine("| mixer | L | d_model | best lr | mean | std | seeds | mean per lr |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (var p in points)
            sb.AppendLine($"| {Selection.DisplayName(p.Mixer)} | {p.SeqLen} | {p.DModel} | {Lr(p.LearningRate)} | {F(p.Mean)} | {F(p.Std)} | {p.Seeds} | " +
                string.Join(", ", p.AllLearningRates.Select(l => $"{Lr(l.LearningRate)}: {F(l.Mean)} (n={l.Seeds})")) + " |");
        return sb.ToString();
    }

    public static string Csv(IReadOnlyList<SelectedPoint> points)
    {
        var sb = new StringBuilder("mixer,seq_len,d_model,best_lr,mean_accuracy,std_accuracy,seeds,error_below,error_above\n");
        foreach (var p in points)
            sb.AppendLine(string.Join(",", p.Mixer, p.SeqLen, p.DModel, Lr(p.LearningRate), D6(p.Mean), D6(p.Std), p.Seeds, D6(p.ErrorBelow), D6(p.ErrorAbove)));
        return sb.ToString();
    }

    /// <summary>The paper's Table 1 layout: a row per variant, per sequence length the widths' mean ± std and their mean.</summary>
    public static string AblationTable(IReadOnlyList<SelectedPoint> points, string name)
    {
        var lengths = points.Select(p => p.SeqLen).Distinct().Order().ToArray();
        var widths = points.Select(p => p.DModel).Distinct().Order().ToArray();
        var mixers = points.Select(p => p.Mixer).Distinct().ToArray();
        var sb = new StringBuilder();
        sb.AppendLine($"# {name}: accuracy mean ± std over seeds per variant and model dimension (best lr)");
        sb.AppendLine();
        sb.Append("| variant |");
        foreach (var l in lengths) sb.Append($" L={l}: {string.Join(" / ", widths.Select(w => $"d={w}"))} | mean |");
        sb.AppendLine();
        sb.AppendLine("|---|" + string.Concat(Enumerable.Repeat("---|---|", lengths.Length)));
        foreach (var mixer in mixers)
        {
            sb.Append($"| {Selection.DisplayName(mixer)} |");
            foreach (var l in lengths)
            {
                var cells = widths.Select(w => points.FirstOrDefault(p => p.Mixer == mixer && p.SeqLen == l && p.DModel == w)).ToArray();
                sb.Append(' ').Append(string.Join(" ", cells.Select(c => c is null ? "–" : $"{Short(c.Mean)}±{Short(c.Std)}"))).Append(" |");
                var present = cells.Where(c => c is not null).ToArray();
                sb.Append(present.Length == 0 ? " – |" : $" {Short(present.Average(c => c!.Mean))} |");
            }
            sb.AppendLine();
        }
        return sb.ToString();
    }

    /// <summary>Two decimals without the leading zero, as in the paper's Table 1 (.58, 1.0).</summary>
    static string Short(double v)
    {
        var s = v.ToString("F2", CultureInfo.InvariantCulture);
        return s.StartsWith("0.", StringComparison.Ordinal) ? s[1..] : s;
    }
}
