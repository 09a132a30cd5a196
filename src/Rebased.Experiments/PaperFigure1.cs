using System.Globalization;
using System.Text;

namespace Rebased.Experiments;

/// <summary>A point of the paper's Figure 1 as read by eye from its PNG: a value, or a range where the plot allows no
/// closer reading (Mamba at L 256 and 512).</summary>
public sealed record PaperPoint(string Mixer, int SeqLen, int DModel, double Low, double High)
{
    /// <summary>How far a value lies outside the paper's reading (0 inside it), signed: positive when above.</summary>
    public double Difference(double value) => value > High ? value - High : value < Low ? value - Low : 0;

    public string Reading => Low == High ? F(Low) : $"{F(Low)}–{F(High)}";

    static string F(double v) => v.ToString("F2", CultureInfo.InvariantCulture);
}

/// <summary>The paper's Figure 1 (mean of 5 seeds at the best of 4 learning rates) for L 128-2048 and d 64-512, from
/// the eye-read values of its PNG; the comparison of a report's points with it flags differences above 0.05.</summary>
public static class PaperFigure1
{
    public const double FlagAbove = 0.05;

    public static readonly IReadOnlyList<PaperPoint> Points = Build();

    static List<PaperPoint> Build()
    {
        var points = new List<PaperPoint>();
        void Row(string mixer, int seqLen, params (double Low, double High)[] byWidth)
        {
            int[] widths = [64, 128, 256, 512];
            for (int i = 0; i < byWidth.Length; i++) points.Add(new PaperPoint(mixer, seqLen, widths[i], byWidth[i].Low, byWidth[i].High));
        }
        (double, double) V(double v) => (v, v);
        (double, double) Range(double low, double high) => (low, high);

        foreach (var l in new[] { 128, 256, 512, 1024, 2048 }) Row("conv_attention", l, V(1), V(1), V(1), V(1));
        Row("rebased", 128, V(1), V(1), V(1), V(1));
        Row("based", 128, V(1), V(1), V(1), V(1));
        Row("mamba", 128, V(0.73), V(0.77), V(0.99), V(0.98));
        Row("rwkv", 128, V(0.10), V(0.25), V(0.54), V(0.82));
        Row("rebased", 256, V(0.98), V(1), V(1), V(1));
        Row("based", 256, V(1), V(1), V(1), V(1));
        Row("mamba", 256, Range(0.09, 0.34), Range(0.09, 0.34), Range(0.09, 0.34), Range(0.09, 0.34));
        Row("rwkv", 256, V(0), V(0), V(0), V(0));
        Row("rebased", 512, V(0.89), Range(0.99, 1), Range(0.99, 1), Range(0.99, 1));
        Row("based", 512, V(0.90), Range(0.99, 1), Range(0.99, 1), Range(0.99, 1));
        Row("mamba", 512, Range(0, 0.39), Range(0, 0.39), Range(0, 0.39), Range(0, 0.39));
        Row("rwkv", 512, V(0), V(0), V(0), V(0));
        Row("rebased", 1024, V(0.55), Range(0.98, 1), Range(0.98, 1), Range(0.98, 1));
        Row("based", 1024, V(0.33), Range(0.98, 1), Range(0.98, 1), Range(0.98, 1));
        Row("mamba", 1024, V(0), V(0), V(0), V(0.17));
        Row("rwkv", 1024, V(0), V(0), V(0), V(0));
        Row("rebased", 2048, V(0.07), V(0.66), Range(0.98, 0.99), Range(0.98, 0.99));
        Row("based", 2048, V(0.14), V(0.48), Range(0.98, 0.99), Range(0.98, 0.99));
        Row("mamba", 2048, V(0), V(0), V(0), V(0));
        Row("rwkv", 2048, V(0), V(0), V(0), V(0));
        return points;
    }

    public static PaperPoint? Find(string mixer, int seqLen, int dModel) =>
        Points.FirstOrDefault(p => p.Mixer == mixer && p.SeqLen == seqLen && p.DModel == dModel);

    /// <summary>Ours against the paper per point it has: our mean, the paper's reading, the difference and a flag.</summary>
    public static string ComparisonTable(IReadOnlyList<SelectedPoint> points, string name)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"# {name}: ours against the paper's Figure 1 (eye-read; a range where the plot allows no closer reading)");
        sb.AppendLine();
        sb.AppendLine($"Difference: how far ours lies outside the paper's reading (0 inside it); ⚑ marks |difference| > {FlagAbove.ToString(CultureInfo.InvariantCulture)}.");
        sb.AppendLine();
        sb.AppendLine("| mixer | L | d_model | ours (best lr) | seeds | paper | difference | |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|");
        int flagged = 0, compared = 0;
        foreach (var p in points)
        {
            if (Find(p.Mixer, p.SeqLen, p.DModel) is not { } paper) continue;
            compared++;
            var difference = paper.Difference(p.Mean);
            bool flag = Math.Abs(difference) > FlagAbove;
            if (flag) flagged++;
            sb.AppendLine($"| {Selection.DisplayName(p.Mixer)} | {p.SeqLen} | {p.DModel} | {p.Mean.ToString("F3", CultureInfo.InvariantCulture)} " +
                          $"({p.LearningRate.ToString("G4", CultureInfo.InvariantCulture)}) | {p.Seeds} | {paper.Reading} | " +
                          $"{difference.ToString("+0.000;-0.000;0", CultureInfo.InvariantCulture)} | {(flag ? "⚑" : "")} |");
        }
        sb.AppendLine();
        sb.AppendLine($"{compared} points compared, {flagged} flagged.");
        return sb.ToString();
    }
}
