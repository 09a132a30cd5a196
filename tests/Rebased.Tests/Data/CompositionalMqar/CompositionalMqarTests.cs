using Rebased.Configs;
using Rebased.Data;
using Rebased.Data.CompositionalMqar;
using Rebased.Tests.Data.Mqar;

namespace Rebased.Tests.Data.CompositionalMqar;

public class CompositionalMqarTests
{
    public CompositionalMqarTests() => TorchRuntime.EnsureLoaded();

    private static readonly CompositionalMqarArgs Statistical = new(96, 4000, 60, 4, 0.01, RandomNonQueries: false, Seed: 3);

    [Theory]
    [InlineData(4, 30, 150, false)]
    [InlineData(9, 64, 100, false)]
    [InlineData(16, 128, 8192, true)]
    public void EveryQueryIsAKeyPairOfTheGridAnsweredByItsValue(int k, int seqLen, int vocab, bool randomNonQueries)
    {
        var args = new CompositionalMqarArgs(vocab, 200, seqLen, k, 0.01, randomNonQueries, Seed: 42);
        var (inputs, labels) = MqarChecks.Dense(CompositionalMqarGenerator.Generate(args));
        int grid = args.GridSize, context = 3 * k, third = vocab / 3;
        for (int r = 0; r < inputs.Length; r++)
        {
            var row = inputs[r];
            var valueOf = new Dictionary<(long, long), long>();
            for (int j = 0; j < k; j++)
            {
                Assert.InRange(row[3 * j], 1, third - 1);
                Assert.InRange(row[3 * j + 1], third, 2 * third - 1);
                Assert.InRange(row[3 * j + 2], 2 * third, vocab - 1);
                Assert.True(valueOf.TryAdd((row[3 * j], row[3 * j + 1]), row[3 * j + 2]), $"row {r}: key pair repeats");
            }
            Assert.Equal(grid, valueOf.Keys.Select(p => p.Item1).Distinct().Count());
            Assert.Equal(grid, valueOf.Keys.Select(p => p.Item2).Distinct().Count());
            Assert.Equal(k, valueOf.Values.Distinct().Count());

            var queried = new HashSet<(long, long)>();
            var queryTokens = new HashSet<int>();
            for (int p = 0; p < seqLen; p++)
            {
                if (labels[r][p] == QuerySet.IgnoreIndex) continue;
                Assert.True(p >= context + 1 && (p - context - 1) % 3 == 0, $"row {r}: supervised position {p} is not the second key of a query slot");
                var pair = (row[p - 1], row[p]);
                Assert.True(valueOf.TryGetValue(pair, out var value), $"row {r}: position {p} queries {pair}, not a pair of the row");
                Assert.Equal(value, labels[r][p]);
                Assert.True(queried.Add(pair), $"row {r}: pair {pair} queried twice");
                queryTokens.Add(p - 1);
                queryTokens.Add(p);
            }
            Assert.Equal(k, queried.Count);
            for (int p = context; p < seqLen; p++)
                if (!queryTokens.Contains(p))
                {
                    if (randomNonQueries) Assert.InRange(row[p], 0, vocab - 1);
                    else Assert.Equal(0, row[p]);
                }
        }
    }

    [Fact]
    public void EachSeedGivesItsOwnSetEveryTime() =>
        TaskTestKit.AssertEachSeedGivesItsOwnSet(seed => CompositionalMqarGenerator.Generate(new CompositionalMqarArgs(150, 50, 30, 4, Seed: seed)), seed: 7);

    [Fact]
    public void TheFirstPairsQuerySlotFollowsThePowerLaw()
    {
        var data = CompositionalMqarGenerator.Generate(Statistical);
        int slots = Statistical.QuerySlots, context = Statistical.ContextLength;
        var slotOfFirstPair = Enumerable.Range(0, data.Count).Select(r =>
        {
            int first = data.Token(r, 0), second = data.Token(r, 1);
            int p = data.Positions(r).ToArray().Single(p => data.Token(r, p - 1) == first && data.Token(r, p) == second);
            return (p - 1 - context) / 3;
        });
        MqarChecks.AssertFollowsThePowerLaw(slotOfFirstPair, slots, Statistical.PowerA);
    }

    [Fact]
    public void KeysAndValuesAreUniformOverTheirThirds()
    {
        var data = CompositionalMqarGenerator.Generate(Statistical);
        int third = Statistical.VocabSize / 3;
        foreach (var (offset, start, count) in new[] { (0, 1, third - 1), (1, third, third), (2, 2 * third, Statistical.VocabSize - 2 * third) })
            MqarChecks.AssertUniform(Enumerable.Range(0, data.Count).Select(r => data.Token(r, offset) - start), count);
    }

    [Theory]
    [InlineData(5, 60, 100, 0, "num_kv_pairs: must be a perfect square")]
    [InlineData(9, 48, 100, 0, "num_kv_pairs: 6 × num_kv_pairs must not exceed input_seq_len")]
    [InlineData(4, 31, 100, 0, "input_seq_len: must be a positive even number")]
    [InlineData(4, 60, 60, 0, "vocab_size: must be greater than input_seq_len")]
    [InlineData(4, 60, 100, -1, "seed: must be in [0, 4294967295]")]
    public void BadArgumentsNameTheArgumentAndTheRule(int k, int seqLen, int vocab, long seed, string expected)
    {
        var e = Assert.Throws<UserError>(() => new CompositionalMqarArgs(vocab, 10, seqLen, k, Seed: seed).Validate());
        Assert.Equal($"compositional_mqar {expected}", e.Message[..$"compositional_mqar {expected}".Length]);
    }

    [Fact]
    public void TheConfigTrainsOnThisTaskAndKeepsItsKvPairs()
    {
        var config = TaskTestKit.ResolveRepoConfig("compositional_mqar.yaml");
        Assert.IsType<CompositionalMqarTask>(config.Data.Task());
        var splits = config.Data.Task().Splits(config.Data.Request());
        var train = (QuerySet)splits.Train.Generate();
        Assert.Equal(config.Data.NumTrainExamples, train.Count);
        Assert.Equal(Convert.ToInt32(config.Data.Builder.Kwargs["num_kv_pairs"]), train.QueriesPerRow);
        Assert.Equal(nameof(DataMode.NumpyCompatible), splits.Train.Generator);
    }

    [Theory]
    [InlineData("data.mode=fast", "data.mode: compositional_mqar has only the numpy_compatible generator")]
    [InlineData("data.builder.kwargs.num_kv_pairs=8", "compositional_mqar num_kv_pairs: must be a perfect square")]
    [InlineData("data.builder.kwargs.num_updates=1", "data.builder.kwargs.num_updates: unknown argument of the compositional MQAR builder")]
    public void BadConfigValuesAreOneLineNamingTheFile(string assignment, string expected) =>
        TaskTestKit.AssertOverrideRefused("compositional_mqar.yaml", assignment, expected);

    [Fact]
    public void TheCacheServesTheStoredSetAndRegeneratesABrokenFile()
    {
        var dir = Directory.CreateTempSubdirectory("compositional-cache-");
        try
        {
            var request = new SetRequest(150, 40, 30, 5, new Dictionary<string, object?> { ["num_kv_pairs"] = 4 }, DataMode.NumpyCompatible);
            var spec = (QuerySetSpec)new CompositionalMqarTask().Set(request);
            var generated = MqarChecks.Dense((QuerySet)spec.LoadOrGenerate(dir.FullName, refresh: false));
            var path = spec.PathFor(dir.FullName);
            Assert.True(File.Exists(path));
            AssertSameRows(generated, MqarChecks.Dense(spec.TryLoad(path)!));
            using (var stream = new FileStream(path, FileMode.Open)) stream.SetLength(stream.Length - 4);
            Assert.Null(spec.TryLoad(path));
            AssertSameRows(generated, MqarChecks.Dense((QuerySet)spec.LoadOrGenerate(dir.FullName, refresh: false)));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static void AssertSameRows((long[][] Inputs, long[][] Labels) expected, (long[][] Inputs, long[][] Labels) actual)
    {
        Assert.Equal(expected.Inputs, actual.Inputs);
        Assert.Equal(expected.Labels, actual.Labels);
    }

    [Fact]
    public void BatchesCarryEverySupervisedPositionAndTarget()
    {
        var data = CompositionalMqarGenerator.Generate(new CompositionalMqarArgs(150, 10, 30, 4, Seed: 1));
        var (inputs, labels) = MqarChecks.Dense(data);
        using var batches = data.Batches(4, shuffle: true, seed: 9, TorchSharp.torch.CPU);
        var order = EpochOrder.Of(data.Count, true, 9, 2);
        var batch = batches.Batch(2, 1);
        var index = batch.SupervisedIndex.data<long>().ToArray();
        var targets = batch.Targets.data<long>().ToArray();
        Assert.Equal(4 * 4, index.Length);
        for (int t = 0; t < index.Length; t++)
        {
            int row = order[4 + (int)(index[t] / 30)], p = (int)(index[t] % 30);
            Assert.Equal(labels[row][p], targets[t]);
        }
        Assert.Equal(inputs[order[4]], batch.Inputs[0].data<long>().ToArray());
    }
}
