using Rebased.Data;

namespace Rebased.Tests.Data;

/// <summary>Known outputs of numpy's legacy RandomState and of the MT19937 reference implementation.</summary>
public class NumpyLegacyRandomTests
{
    [Fact]
    public void RawOutputMatchesTheMersenneTwisterReference()
    {
        // init_genrand(5489), the reference implementation's default seed: first output 3499211612.
        Assert.Equal(3499211612u, new NumpyLegacyRandom(5489).NextUInt32());
        // The 10000th output of the default-seeded generator (the C++ standard's check value for mt19937).
        var random = new NumpyLegacyRandom(5489);
        uint value = 0;
        for (int i = 0; i < 10000; i++) value = random.NextUInt32();
        Assert.Equal(4123659995u, value);
    }

    [Theory]
    [InlineData(0u, new[] { 0.5488135039273248, 0.7151893663724195, 0.6027633760716439 })]
    [InlineData(42u, new[] { 0.3745401188473625, 0.9507143064099162, 0.7319939418114051 })]
    public void RandomSampleMatchesNumpy(uint seed, double[] expected)
    {
        var random = new NumpyLegacyRandom(seed);
        foreach (var e in expected) Assert.Equal(e, random.NextDouble());
    }

    [Fact]
    public void PermutationMatchesNumpy()
    {
        // np.random.seed(0); np.random.permutation(10)
        Assert.Equal(new[] { 2, 8, 4, 9, 1, 6, 7, 3, 0, 5 }, new NumpyLegacyRandom(0).Permutation(10));
    }

    [Fact]
    public void IntervalStaysInRangeAndCoversIt()
    {
        var random = new NumpyLegacyRandom(7);
        var seen = new bool[6];
        for (int i = 0; i < 1000; i++) seen[random.Interval(5)] = true;
        Assert.All(seen, Assert.True);
        Assert.Equal(0u, random.Interval(0));
    }

    [Fact]
    public void WeightedChoiceNeverRepeatsAndSkipsZeroWeights()
    {
        var random = new NumpyLegacyRandom(1);
        double[] p = [0.1, 0, 0.3, 0.6, 0];
        for (int trial = 0; trial < 200; trial++)
        {
            var picked = random.Choice(p, 3);
            Assert.Equal(new[] { 0, 2, 3 }, picked.Order());
        }
        Assert.Throws<ArgumentException>(() => random.Choice(p, 4));
    }

    [Fact]
    public void PairwiseSumUsesEightAccumulators()
    {
        // 1e16 + 1 rounds back to 1e16 (the spacing there is 2): a running sum loses every 1, numpy's eight
        // partial sums keep all but the one added to the first accumulator.
        var values = new double[16];
        Array.Fill(values, 1.0);
        values[0] = 1e16;
        Assert.Equal(1e16 + 14, NumpyLegacyRandom.PairwiseSum(values));
        Assert.Equal(1e16, values.Aggregate(0.0, (a, b) => a + b));
        Assert.Equal(6.0, NumpyLegacyRandom.PairwiseSum([1, 2, 3]));
    }
}
