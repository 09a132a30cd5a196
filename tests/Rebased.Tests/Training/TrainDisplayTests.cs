using Rebased.Cli.Commands;
using Rebased.Training;

namespace Rebased.Tests.Training;

public class TrainDisplayTests
{
    [Fact]
    public void TheLiveLineShowsTheTrainersEtaAndFitsEightyColumnsWithItsBar()
    {
        // Resumed late in a long run: the remaining time is the trainer's estimate (steps left x seconds per step
        // measured since the resume), not one from the progress since the display started.
        var p = new StepProgress(Epoch: 99, MaxEpochs: 100, StepInEpoch: 1000, StepsPerEpoch: 1000, Step: 99_900, Loss: 12.3456,
            TokensPerSecond: 123_456, ElapsedSeconds: 50_000, EtaSeconds: 3 * 3600 + 25 * 60 + 7, BestAccuracy: 0.987);
        var line = TrainCommand.ProgressLine(p, best: 0.5);
        Assert.Equal("ep 100/100 1000/1000 loss 12.3456 acc 0.987 123.5k tok/s eta 3:25:07", line);
        Assert.True(line.Length + 1 + 10 <= 80, $"{line.Length} characters");
    }

    [Fact]
    public void EpochLinesFitEightyColumnsEvenAtTheirWidest()
    {
        var widest = new EpochMetrics(Step: 999_999, Epoch: 999, Lr: 1.2345e-3, TrainLoss: 12.3456, ValidLoss: 12.3456, ValidAccuracy: 0.9876,
            TokensPerS: 12_345_678, ElapsedS: 99 * 3600 + 59 * 60 + 59);
        var line = TrainCommand.EpochLine(widest, maxEpochs: 1000);
        Assert.Equal("ep 1000/1000 loss 12.346 valid 12.346 acc 0.9876 lr 1.2e-03 12.3M tok/s 99:59:59", line);
        Assert.True(line.Length <= 80, $"{line.Length} characters");
        var typical = new EpochMetrics(640, 63, 3e-3, 0.1234, 0.2346, 0.9912, 45_678, 754.2);
        Assert.Equal("ep 64/64 loss 0.123 valid 0.235 acc 0.9912 lr 3.0e-03 45.7k tok/s 12:34", TrainCommand.EpochLine(typical, 64));
    }

    [Fact]
    public void LinesWiderThanTheConsoleAreCutWithAnEllipsis()
    {
        Assert.Equal("abc", Rebased.Cli.Cli.Fit("abc", 80));
        Assert.Equal("abcd…", Rebased.Cli.Cli.Fit("abcdefgh", 5));
        Assert.Equal(80, Rebased.Cli.Cli.Fit(new string('x', 200), 80).Length);
    }
}
