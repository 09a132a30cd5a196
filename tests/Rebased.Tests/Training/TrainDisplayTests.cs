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
        var line = TrainCommand.LiveDescription(p, best: 0.5);
        Assert.Equal("ep 100/100 1000/1000 loss 12.3456 acc 0.987 123.5k tok/s eta 3:25:07", line);
        Assert.True(line.Length + 1 + 10 <= 80, $"{line.Length} characters");
    }
}
