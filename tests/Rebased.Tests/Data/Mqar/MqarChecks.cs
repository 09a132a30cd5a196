using Rebased.Data;
using Rebased.Data.Mqar;

namespace Rebased.Tests.Data.Mqar;

/// <summary>Structural checks of MQAR data, computed from the dense tensors alone (independent of the compact storage).</summary>
internal static class MqarChecks
{
    public const long Ignore = -100;

    /// <summary>Dense rows of a set: inputs and labels as arrays [N][L].</summary>
    public static (long[][] Inputs, long[][] Labels) Dense(ITaskSet data)
    {
        var (inputs, labels) = data.ToTensors();
        using (inputs)
        using (labels)
        {
            var i = inputs.data<long>().ToArray();
            var l = labels.data<long>().ToArray();
            return (Rows(i, data.SeqLen), Rows(l, data.SeqLen));
        }
    }

    private static long[][] Rows(long[] flat, int width) =>
        Enumerable.Range(0, flat.Length / width).Select(r => flat.AsSpan(r * width, width).ToArray()).ToArray();

    /// <summary>
    /// Every rule of the task: K distinct keys in [1, V/2) and K distinct values in [V/2, V) as k v pairs, exactly K
    /// supervised positions, all on even offsets of the query region, each holding a different key of the row with
    /// its value as target; unsupervised region positions are 0 unless random_non_queries.
    /// </summary>
    public static void AssertWellFormed(MqarDataset data)
    {
        var args = data.Args;
        int k = args.NumKvPairs, context = args.ContextLength, half = args.VocabSize / 2;
        var (inputs, labels) = Dense(data);
        Assert.Equal(args.NumExamples, inputs.Length);
        for (int r = 0; r < inputs.Length; r++)
        {
            var row = inputs[r];
            var label = labels[r];
            var valueOf = new Dictionary<long, long>();
            for (int j = 0; j < k; j++)
            {
                Assert.InRange(row[2 * j], 1, half - 1);
                Assert.InRange(row[2 * j + 1], half, args.VocabSize - 1);
                Assert.True(valueOf.TryAdd(row[2 * j], row[2 * j + 1]), $"row {r}: key {row[2 * j]} repeats");
            }
            Assert.Equal(k, row.Where((_, p) => p % 2 == 1 && p < context).Distinct().Count());
            var queried = new HashSet<long>();
            int supervised = 0;
            for (int p = 0; p < row.Length; p++)
            {
                if (label[p] == Ignore)
                {
                    if (p >= context && !args.RandomNonQueries) Assert.Equal(0, row[p]);
                    if (args.RandomNonQueries) Assert.InRange(row[p], 0, args.VocabSize - 1);
                    continue;
                }
                supervised++;
                Assert.True(p >= context && (p - context) % 2 == 0, $"row {r}: supervised position {p} is not an even offset of the query region");
                Assert.True(valueOf.TryGetValue(row[p], out var value), $"row {r}: supervised position {p} holds {row[p]}, not a key of the row");
                Assert.Equal(value, label[p]);
                Assert.True(queried.Add(row[p]), $"row {r}: key {row[p]} queried twice");
            }
            Assert.Equal(k, supervised);
        }
    }

    /// <summary>Per row, the query slot (0-based, region offset / 2) of each pair j.</summary>
    public static int[][] SlotsByPair(MqarDataset data)
    {
        var (inputs, labels) = Dense(data);
        int k = data.NumKvPairs, context = data.Args.ContextLength;
        return inputs.Select((row, r) =>
        {
            var pairOf = Enumerable.Range(0, k).ToDictionary(j => row[2 * j], j => j);
            var slots = new int[k];
            for (int p = context; p < row.Length; p++)
                if (labels[r][p] != Ignore) slots[pairOf[row[p]]] = (p - context) / 2;
            return slots;
        }).ToArray();
    }

    /// <summary>The draws pass the χ² test against uniform over <paramref name="bins"/>.</summary>
    public static void AssertUniform(IEnumerable<int> draws, int bins)
    {
        var observed = Histogram(draws, bins);
        Assert.InRange(ChiSquare(observed, Enumerable.Repeat(1.0 / bins, bins).ToArray()), 0, Critical(bins - 1));
    }

    /// <summary>The query slots pass the χ² test against the power law and fail it against uniform.</summary>
    public static void AssertFollowsThePowerLaw(IEnumerable<int> querySlots, int slots, double powerA)
    {
        var observed = Histogram(querySlots, slots);
        Assert.InRange(ChiSquare(observed, PowerLaw.Probabilities(slots, powerA)), 0, Critical(slots - 1));
        Assert.True(ChiSquare(observed, Enumerable.Repeat(1.0 / slots, slots).ToArray()) > Critical(slots - 1));
    }

    public static long[] Histogram(IEnumerable<int> values, int bins)
    {
        var counts = new long[bins];
        foreach (var v in values) counts[v]++;
        return counts;
    }

    /// <summary>Pearson's statistic of observed counts against expected probabilities.</summary>
    public static double ChiSquare(long[] observed, double[] probabilities)
    {
        double total = observed.Sum(), statistic = 0;
        for (int i = 0; i < observed.Length; i++)
        {
            double expected = total * probabilities[i];
            statistic += (observed[i] - expected) * (observed[i] - expected) / expected;
        }
        return statistic;
    }

    /// <summary>Two-sample statistic for equal totals: Σ (a − b)² / (a + b) over non-empty bins; df = bins used − 1.</summary>
    public static (double Statistic, int DegreesOfFreedom) ChiSquareTwoSample(long[] a, long[] b)
    {
        Assert.Equal(a.Sum(), b.Sum());
        double statistic = 0;
        int bins = 0;
        for (int i = 0; i < a.Length; i++)
        {
            if (a[i] + b[i] == 0) continue;
            bins++;
            statistic += (double)(a[i] - b[i]) * (a[i] - b[i]) / (a[i] + b[i]);
        }
        return (statistic, bins - 1);
    }

    /// <summary>Upper critical value of χ²(df) at p ≈ 1e-6 (Wilson–Hilferty approximation, z = 4.753).</summary>
    public static double Critical(int degreesOfFreedom)
    {
        double v = 2.0 / (9 * degreesOfFreedom);
        return degreesOfFreedom * Math.Pow(1 - v + 4.753 * Math.Sqrt(v), 3);
    }
}
