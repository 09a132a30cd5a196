using Rebased.Experiments;

namespace Rebased.Tests.Experiments;

public class SelectionAndReportTests : SweepKitTests
{
    static IEnumerable<RunResult> Runs(string mixer, int d, int l, double lr, params double[] accuracies) =>
        accuracies.Select((a, seed) => new RunResult(mixer, d, l, lr, 42 + seed, a));

    static readonly RunResult[] Results =
    [
        // rebased d=64 L=128: lr 1e-3 mean .8 (std .1); lr 3e-3 mean .9 (std sqrt(.005) = .0707107) → 3e-3 wins.
        .. Runs("rebased", 64, 128, 1e-3, 0.9, 0.8, 0.7),
        .. Runs("rebased", 64, 128, 3e-3, 0.95, 0.85),
        // based d=64 L=128: mean .993333, std .0115470; the bar above is clipped at 1.
        .. Runs("based", 64, 128, 1e-3, 1.0, 0.98, 1.0),
        .. Runs("based", 64, 128, 1e-2, 0.2, 0.1, 0.3),
        // a tie between lrs picks the smaller one; a single seed has no spread.
        .. Runs("rebased", 128, 128, 1e-2, 0.5),
        .. Runs("rebased", 128, 128, 5e-4, 0.5),
        // near zero: the bar below is clipped at 0.
        .. Runs("rwkv", 64, 256, 1e-3, 0.0, 0.1, 0.0),
    ];

    [Fact]
    public void SelectionRuleMatchesHandComputedNumbers()
    {
        var points = Selection.Select(Results);
        Assert.Equal(["rebased", "rebased", "based", "rwkv"], points.Select(p => p.Mixer));

        var rebased = points[0];
        Assert.Equal((128, 64, 3e-3, 2), (rebased.SeqLen, rebased.DModel, rebased.LearningRate, rebased.Seeds));
        Assert.Equal(0.9, rebased.Mean, 12);
        Assert.Equal(Math.Sqrt(0.005), rebased.Std, 12);
        Assert.Equal(Math.Sqrt(0.005), rebased.ErrorAbove, 12);
        Assert.Equal(Math.Sqrt(0.005), rebased.ErrorBelow, 12);
        Assert.Equal([(1e-3, 0.8, 3), (3e-3, 0.9, 2)], rebased.AllLearningRates.Select(l => (l.LearningRate, Math.Round(l.Mean, 12), l.Seeds)));

        var tie = points[1];
        Assert.Equal((128, 5e-4, 0.5, 0.0, 1), (tie.DModel, tie.LearningRate, tie.Mean, tie.Std, tie.Seeds));

        var based = points[2];
        Assert.Equal(1e-3, based.LearningRate);
        Assert.Equal(2.98 / 3, based.Mean, 12);
        Assert.Equal(0.0115470053837925, based.Std, 12);
        Assert.Equal(1 - 2.98 / 3, based.ErrorAbove, 12);
        Assert.Equal(0.0115470053837925, based.ErrorBelow, 12);

        var rwkv = points[3];
        Assert.Equal(0.1 / 3, rwkv.Mean, 12);
        Assert.Equal(0.0577350269189626, rwkv.Std, 12);
        Assert.Equal(0.1 / 3, rwkv.ErrorBelow, 12);
        Assert.Equal(0.0577350269189626, rwkv.ErrorAbove, 12);
    }

    [Fact]
    public void RunResultsComeFromTheStoredConfig()
    {
        var config = ConfigTree.FromYaml("model: {d_model: 256, sequence_mixer: {name: mamba}}\ndata: {input_seq_len: 512}\nlearning_rate: 3e-3\nseed: 44\n", "c");
        var record = new RunRecord
        {
            Sweep = "s", ConfigHash = config.Hash(), Position = 0, ConfigJson = config.CanonicalJson(), OverridesJson = "{}",
            BaseConfigPath = "b", RunDir = "d", Status = RunStatus.Finished, BestAccuracy = 0.25,
        };
        Assert.Equal(new RunResult("mamba", 256, 512, 3e-3, 44, 0.25), RunResult.FromRecord(record));
        var missing = record with { ConfigJson = """{"model":{"d_model":8}}""" };
        Assert.Contains("has no model.sequence_mixer.name", Assert.Throws<UserError>(() => RunResult.FromRecord(missing)).Message);
    }

    [Fact]
    public void ReportWritesFigureTablesAndCsv()
    {
        var points = Selection.Select(Results);
        var files = Figure1Report.Write(points, Path.Combine(Kit.Dir, "report"), "demo");

        var png = File.ReadAllBytes(files.Figure);
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
        int width = (png[16] << 24) | (png[17] << 16) | (png[18] << 8) | png[19];
        Assert.Equal(2 * 420, width); // one panel per sequence length (128, 256)
        Assert.True(png.Length > 20_000, "the figure has content");

        var csv = File.ReadAllLines(files.Csv);
        Assert.Equal("mixer,seq_len,d_model,best_lr,mean_accuracy,std_accuracy,seeds,error_below,error_above", csv[0]);
        Assert.Equal(5, csv.Length);
        Assert.Equal("rebased,128,64,0.003,0.9,0.070711,2,0.070711,0.070711", csv[1]);
        Assert.Equal("based,128,64,0.001,0.993333,0.011547,3,0.011547,0.006667", csv[3]);

        var table = File.ReadAllText(files.Table);
        Assert.Contains("| ReBased | 128 | 64 | 0.003 | 0.900 | 0.071 | 2 | 0.001: 0.800 (n=3), 0.003: 0.900 (n=2) |", table);
        Assert.Contains("| Based | 128 | 64 | 0.001 | 0.993 | 0.012 | 3 |", table);

        var ablation = File.ReadAllText(files.AblationTable);
        Assert.Contains("| variant | L=128: d=64 / d=128 | mean | L=256: d=64 / d=128 | mean |", ablation);
        Assert.Contains("| ReBased | .90±.07 .50±.00 | .70 | – – | – |", ablation);
        Assert.Contains("| RWKV | – – | – | .03±.06 – | .03 |", ablation);
    }
}
