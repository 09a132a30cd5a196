using Rebased.Experiments;

namespace Rebased.Tests.Experiments;

public class StateSizeReportTests
{
    public StateSizeReportTests() => TorchRuntime.EnsureLoaded();

    private static RunRecord Finished(string mixer, double lr, long seed, double accuracy, string sweep = "s")
    {
        var config = ConfigTree.FromYaml(
            $"model: {{d_model: 64, vocab_size: 128, sequence_mixer: {{name: {mixer}}}}}\ndata: {{input_seq_len: 64, vocab_size: 128}}\nlearning_rate: {lr}\nseed: {seed}\n", "c");
        return new RunRecord
        {
            Sweep = sweep, ConfigHash = config.Hash(), Position = 0, ConfigJson = config.CanonicalJson(), OverridesJson = "{}",
            BaseConfigPath = "b", RunDir = "d", Status = RunStatus.Finished, BestAccuracy = accuracy,
        };
    }

    /// <summary>gla at d 64, L 64: BaseConv 64·2 + GLA 2·16·32 = 1152; attention: two layers of 2·64·64 = 16384.</summary>
    [Fact]
    public void PointsCarryTheModelsStateSizeAndTheFiguresAreWritten()
    {
        var runs = new[]
        {
            Finished("gla", 0.001, 1, 0.4), Finished("gla", 0.001, 2, 0.6), Finished("gla", 0.003, 1, 0.3),
            Finished("attention", 0.001, 1, 1.0),
        };
        var points = StateSizeReport.Points(runs);
        var gla = Assert.Single(points, p => p.Point.Mixer == "gla");
        Assert.Equal((1152L, 0.001, 0.5), (gla.StateSize, gla.Point.LearningRate, gla.Point.Mean));
        Assert.Equal(16384L, Assert.Single(points, p => p.Point.Mixer == "attention").StateSize);

        var dir = Path.Combine(Path.GetTempPath(), "rebased-tests", Guid.NewGuid().ToString("N"));
        var (figure, csv) = StateSizeReport.Write(points, dir, "demo");
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, File.ReadAllBytes(figure)[..4]);
        Assert.Equal(["mixer,seq_len,d_model,state_size,best_lr,mean_accuracy,std_accuracy,seeds",
            "gla,64,64,1152,0.001,0.5,0.141421,2", "attention,64,64,16384,0.001,1,0,1"], File.ReadAllLines(csv));
    }

    [Fact]
    public void RunsOfOnePointThatDifferInStateSizeAreAnError()
    {
        var runs = new[] { Finished("gla", 0.001, 1, 0.4), Finished("gla", 0.001, 2, 0.6) };
        var sizes = new Queue<long>([100, 200]);
        var error = Assert.Throws<UserError>(() => StateSizeReport.Points(runs, _ => sizes.Dequeue()));
        Assert.Contains("differ in state size (100 and 200)", error.Message);
    }
}
