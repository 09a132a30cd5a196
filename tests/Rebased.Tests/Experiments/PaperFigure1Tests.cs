using Rebased.Experiments;

namespace Rebased.Tests.Experiments;

public class PaperFigure1Tests
{
    static SelectedPoint Point(string mixer, int seqLen, int dModel, double mean) => new(mixer, seqLen, dModel, 1e-3, mean, 0, 1, [(1e-3, mean, 1)]);

    [Fact]
    public void TheDifferenceIsTheDistanceOutsideThePapersReading()
    {
        var mamba = PaperFigure1.Find("mamba", 256, 128)!;   // read as 0.09-0.34
        Assert.Equal(0, mamba.Difference(0.2));
        Assert.Equal(0.16, mamba.Difference(0.5), 12);
        Assert.Equal(-0.09, mamba.Difference(0), 12);
        Assert.Equal(-0.11, PaperFigure1.Find("rwkv", 128, 256)!.Difference(0.43), 12);   // read as 0.54
        Assert.Null(PaperFigure1.Find("rebased", 4096, 64));
        Assert.Equal(5 * 5 * 4, PaperFigure1.Points.Count);   // 5 mixers x 5 lengths x 4 widths
    }

    [Fact]
    public void TheComparisonFlagsPointsMoreThan005AwayAndSkipsPointsThePaperLacks()
    {
        var table = PaperFigure1.ComparisonTable(
            [Point("rebased", 128, 64, 0.999), Point("based", 256, 64, 0.93), Point("rwkv", 512, 128, 0.04), Point("rebased", 96, 64, 0.5)], "grid");
        var rows = table.Split('\n').Where(l => l.StartsWith("| ReBased") || l.StartsWith("| Based") || l.StartsWith("| RWKV")).ToArray();
        Assert.Equal(3, rows.Length);
        Assert.EndsWith("| -0.001 |  |", rows[0]);
        Assert.EndsWith("| -0.070 | ⚑ |", rows[1]);
        Assert.EndsWith("| +0.040 |  |", rows[2]);
        Assert.Contains("3 points compared, 1 flagged.", table);
    }
}
