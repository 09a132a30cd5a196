using Rebased.Data;
using Rebased.Data.Mqar;

namespace Rebased.Tests.Data.Mqar;

/// <summary>
/// The fast mode has the reference's distribution: structure rules on every row, the first pair's query slot
/// against the exact power law, later pairs' slots against the numpy-compatible mode (an independent
/// implementation of the reference's draws), uniform keys, values and fillers. Fixed seeds; thresholds at p ≈ 1e-6.
/// </summary>
public class MqarFastModeTests
{
    public MqarFastModeTests() => TorchRuntime.EnsureLoaded();

    private const int Examples = 20_000;

    [Theory]
    [InlineData(64, 8, false)]
    [InlineData(64, 16, false)]
    [InlineData(128, 16, true)]
    public void EveryRowIsWellFormed(int seqLen, int kvPairs, bool randomNonQueries)
    {
        MqarChecks.AssertWellFormed(MqarGenerator.Generate(new MqarArgs(256, 500, seqLen, kvPairs, 0.01, randomNonQueries, Seed: 3), MqarMode.Fast));
        MqarChecks.AssertWellFormed(MqarGenerator.Generate(new MqarArgs(256, 200, seqLen, kvPairs, 0.01, randomNonQueries, Seed: 3), MqarMode.NumpyCompatible));
    }

    [Theory]
    [InlineData(64, 8)]  // 24 slots for 8 queries
    [InlineData(64, 16)] // 16 slots for 16 queries: every slot used, the power law decides the order
    public void QuerySlotsFollowThePowerLaw(int seqLen, int kvPairs)
    {
        var args = new MqarArgs(128, Examples, seqLen, kvPairs, Seed: 11);
        int slots = args.QuerySlots;
        var fast = MqarChecks.SlotsByPair(MqarGenerator.Generate(args, MqarMode.Fast));
        var numpy = MqarChecks.SlotsByPair(MqarGenerator.Generate(args, MqarMode.NumpyCompatible));

        var p = MqarGenerator.PowerLawProbabilities(slots, args.PowerA);
        var first = MqarChecks.Histogram(fast.Select(s => s[0]), slots);
        double statistic = MqarChecks.ChiSquare(first, p);
        Assert.True(statistic < MqarChecks.Critical(slots - 1), $"first pair's slot vs power law: χ² = {statistic:F1}, critical {MqarChecks.Critical(slots - 1):F1}");
        double againstUniform = MqarChecks.ChiSquare(first, Enumerable.Repeat(1.0 / slots, slots).ToArray());
        Assert.True(againstUniform > 10 * MqarChecks.Critical(slots - 1), $"the test must tell the power law from uniform (χ² = {againstUniform:F1})");

        foreach (int pair in new[] { kvPairs / 2, kvPairs - 1 })
        {
            var (twoSample, df) = MqarChecks.ChiSquareTwoSample(
                MqarChecks.Histogram(fast.Select(s => s[pair]), slots), MqarChecks.Histogram(numpy.Select(s => s[pair]), slots));
            Assert.True(twoSample < MqarChecks.Critical(df), $"pair {pair}'s slot, fast vs numpy-compatible: χ² = {twoSample:F1}, critical {MqarChecks.Critical(df):F1}");
        }
    }

    [Fact]
    public void PowerAOneGivesUniformSlots()
    {
        var args = new MqarArgs(128, Examples, 64, 8, PowerA: 1.0, Seed: 5);
        var first = MqarChecks.Histogram(MqarChecks.SlotsByPair(MqarGenerator.Generate(args, MqarMode.Fast)).Select(s => s[0]), args.QuerySlots);
        double statistic = MqarChecks.ChiSquare(first, Enumerable.Repeat(1.0 / args.QuerySlots, args.QuerySlots).ToArray());
        Assert.True(statistic < MqarChecks.Critical(args.QuerySlots - 1), $"χ² = {statistic:F1}");
    }

    [Fact]
    public void KeysValuesAndFillersAreUniform()
    {
        var args = new MqarArgs(128, Examples, 64, 8, RandomNonQueries: true, Seed: 9);
        var data = MqarGenerator.Generate(args, MqarMode.Fast);
        var (inputs, labels) = MqarChecks.Dense(data);
        int half = args.VocabSize / 2;
        var keys = MqarChecks.Histogram(inputs.SelectMany(r => Enumerable.Range(0, 8).Select(j => (int)r[2 * j] - 1)), half - 1);
        var values = MqarChecks.Histogram(inputs.SelectMany(r => Enumerable.Range(0, 8).Select(j => (int)r[2 * j + 1] - half)), half);
        var firstKey = MqarChecks.Histogram(inputs.Select(r => (int)r[0] - 1), half - 1);
        var fillers = MqarChecks.Histogram(inputs.SelectMany((r, i) => Enumerable.Range(16, 48).Where(p => labels[i][p] == MqarChecks.Ignore).Select(p => (int)r[p])), args.VocabSize);
        Assert.Equal((long)Examples * (64 - 3 * 8), fillers.Sum());
        foreach (var (name, histogram) in new[] { ("keys", keys), ("values", values), ("first key", firstKey), ("fillers", fillers) })
        {
            double statistic = MqarChecks.ChiSquare(histogram, Enumerable.Repeat(1.0 / histogram.Length, histogram.Length).ToArray());
            Assert.True(statistic < MqarChecks.Critical(histogram.Length - 1), $"{name}: χ² = {statistic:F1}, critical {MqarChecks.Critical(histogram.Length - 1):F1}");
        }
    }

    [Fact]
    public void EachExampleDependsOnlyOnSeedAndIndex()
    {
        var (small, _) = MqarChecks.Dense(MqarGenerator.Generate(new MqarArgs(8192, 70, 256, 64, Seed: 123), MqarMode.Fast));
        var (large, _) = MqarChecks.Dense(MqarGenerator.Generate(new MqarArgs(8192, 300, 256, 64, Seed: 123), MqarMode.Fast));
        var (again, _) = MqarChecks.Dense(MqarGenerator.Generate(new MqarArgs(8192, 300, 256, 64, Seed: 123), MqarMode.Fast));
        var (other, _) = MqarChecks.Dense(MqarGenerator.Generate(new MqarArgs(8192, 70, 256, 64, Seed: 124), MqarMode.Fast));
        for (int r = 0; r < small.Length; r++) Assert.Equal(small[r], large[r]);
        for (int r = 0; r < large.Length; r++) Assert.Equal(large[r], again[r]);
        Assert.True(Enumerable.Range(0, small.Length).All(r => !small[r].SequenceEqual(other[r])));
    }
}
