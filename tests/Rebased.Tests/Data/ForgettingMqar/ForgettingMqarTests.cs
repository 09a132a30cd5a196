using Rebased.Configs;
using Rebased.Data;
using Rebased.Data.ForgettingMqar;
using Rebased.Experiments;
using Rebased.Tests.Data.Mqar;
using Rebased.Tests.Training;

namespace Rebased.Tests.Data.ForgettingMqar;

public class ForgettingMqarTests
{
    public ForgettingMqarTests() => TorchRuntime.EnsureLoaded();

    private static readonly ForgettingMqarArgs Statistical = new(80, 4000, 60, 4, 2, 0.01, RandomNonQueries: false, Seed: 3);

    [Theory]
    [InlineData(4, 2, 32, 100, false)]
    [InlineData(8, 4, 64, 128, false)]
    [InlineData(8, 8, 64, 128, false)]
    [InlineData(6, 0, 48, 64, false)]
    [InlineData(16, 4, 128, 8192, true)]
    public void EveryQueryIsAnsweredByTheKeysLastAssignment(int k, int u, int seqLen, int vocab, bool randomNonQueries)
    {
        var args = new ForgettingMqarArgs(vocab, 200, seqLen, k, u, 0.01, randomNonQueries, Seed: 42);
        var (inputs, labels) = MqarChecks.Dense(ForgettingMqarGenerator.Generate(args));
        int context = 2 * (k + u), half = vocab / 2;
        for (int r = 0; r < inputs.Length; r++)
        {
            var row = inputs[r];
            var lastValue = new Dictionary<long, long>();
            for (int j = 0; j < k; j++)
            {
                Assert.InRange(row[2 * j], 1, half - 1);
                Assert.InRange(row[2 * j + 1], half, vocab - 1);
                Assert.True(lastValue.TryAdd(row[2 * j], row[2 * j + 1]), $"row {r}: key {row[2 * j]} repeats among the pairs");
            }
            Assert.Equal(k, Enumerable.Range(0, k).Select(j => row[2 * j + 1]).Distinct().Count());
            var updated = new HashSet<long>();
            for (int j = k; j < k + u; j++)
            {
                Assert.True(lastValue.ContainsKey(row[2 * j]), $"row {r}: update {j - k} reassigns {row[2 * j]}, not a key of the pairs");
                Assert.True(updated.Add(row[2 * j]), $"row {r}: key {row[2 * j]} updated twice");
                Assert.InRange(row[2 * j + 1], half, vocab - 1);
                lastValue[row[2 * j]] = row[2 * j + 1];
            }

            var queried = new HashSet<long>();
            for (int p = 0; p < seqLen; p++)
            {
                if (labels[r][p] == QuerySet.IgnoreIndex)
                {
                    if (p >= context && !randomNonQueries) Assert.Equal(0, row[p]);
                    if (randomNonQueries) Assert.InRange(row[p], 0, vocab - 1);
                    continue;
                }
                Assert.True(p >= context && (p - context) % 2 == 0, $"row {r}: supervised position {p} is not an even offset of the query region");
                Assert.True(lastValue.TryGetValue(row[p], out var value), $"row {r}: position {p} queries {row[p]}, not a key of the row");
                Assert.Equal(value, labels[r][p]);
                Assert.True(queried.Add(row[p]), $"row {r}: key {row[p]} queried twice");
            }
            Assert.Equal(k, queried.Count);
        }
    }

    [Fact]
    public void EachSeedGivesItsOwnSetEveryTime() =>
        TaskTestKit.AssertEachSeedGivesItsOwnSet(seed => ForgettingMqarGenerator.Generate(new ForgettingMqarArgs(100, 50, 32, 4, 2, Seed: seed)), seed: 7);

    [Fact]
    public void TheFirstKeysQuerySlotFollowsThePowerLaw()
    {
        var data = ForgettingMqarGenerator.Generate(Statistical);
        int slots = Statistical.QuerySlots, context = Statistical.ContextLength;
        var slotOfFirstKey = Enumerable.Range(0, data.Count).Select(r =>
            (data.Positions(r).ToArray().Single(p => data.Token(r, p) == data.Token(r, 0)) - context) / 2);
        MqarChecks.AssertFollowsThePowerLaw(slotOfFirstKey, slots, Statistical.PowerA);
    }

    [Fact]
    public void KeysValuesTheUpdatedPairAndItsNewValueAreUniform()
    {
        var data = ForgettingMqarGenerator.Generate(Statistical);
        int k = Statistical.NumKvPairs, half = Statistical.VocabSize / 2, values = Statistical.VocabSize - half;
        var rows = Enumerable.Range(0, data.Count).ToArray();
        MqarChecks.AssertUniform(rows.Select(r => data.Token(r, 0) - 1), half - 1);
        MqarChecks.AssertUniform(rows.Select(r => data.Token(r, 1) - half), values);
        MqarChecks.AssertUniform(rows.Select(r => Enumerable.Range(0, k).Single(j => data.Token(r, 2 * j) == data.Token(r, 2 * k))), k);
        // Update 0's value avoids pair 0's original value and is uniform over the rest.
        MqarChecks.AssertUniform(rows.Select(r =>
        {
            int value = data.Token(r, 2 * k + 1), avoided = data.Token(r, 1);
            Assert.NotEqual(avoided, value);
            return value - half - (value > avoided ? 1 : 0);
        }), values - 1);
    }

    [Theory]
    [InlineData(4, 5, 40, 100, "num_updates: must be in [0, num_kv_pairs = 4], got 5")]
    [InlineData(8, 4, 32, 100, "input_seq_len: must hold the pairs, the updates and a query per key: 2 × (num_kv_pairs + num_updates) + 2 × num_kv_pairs = 40 > 32")]
    [InlineData(4, 2, 31, 100, "input_seq_len: must be a positive even number, got 31")]
    [InlineData(4, 2, 40, 40, "vocab_size: must be greater than input_seq_len (40 ≤ 40)")]
    public void BadArgumentsNameTheArgumentAndTheRule(int k, int u, int seqLen, int vocab, string expected)
    {
        var e = Assert.Throws<UserError>(() => new ForgettingMqarArgs(vocab, 10, seqLen, k, u).Validate());
        Assert.Equal($"forgetting_mqar {expected}", e.Message);
    }

    [Fact]
    public void TheConfigTrainsOnThisTaskWithItsUpdates()
    {
        var config = TaskTestKit.ResolveRepoConfig("forgetting_mqar.yaml");
        Assert.IsType<ForgettingMqarTask>(config.Data.Task());
        var splits = config.Data.Task().Splits(config.Data.Request());
        var test = (QuerySet)splits.Test.Generate();
        Assert.Equal(config.Data.NumTestExamples, test.Count);
        Assert.Equal(Convert.ToInt32(config.Data.Builder.Kwargs["num_kv_pairs"]), test.QueriesPerRow);
        Assert.Equal(Statistical.Metadata.Keys, splits.Test.Metadata.Keys);
        Assert.Equal($"{config.Data.Seed + ForgettingMqarArgs.TestSeedOffset}", splits.Test.Metadata["seed"]);
    }

    [Theory]
    [InlineData("data.builder.kwargs.num_updates=-1", "data.builder.kwargs.num_updates: expects a non-negative integer, got '-1'")]
    [InlineData("data.builder.kwargs.num_updates=9", "forgetting_mqar num_updates: must be in [0, num_kv_pairs = 8], got 9")]
    [InlineData("data.mode=fast", "data.mode: forgetting_mqar has only the numpy_compatible generator")]
    public void BadConfigValuesAreOneLineNamingTheFile(string assignment, string expected) =>
        TaskTestKit.AssertOverrideRefused("forgetting_mqar.yaml", assignment, expected);

    [Fact]
    public void ASweepOverTheUpdatesResolvesEveryRunOnThisTask()
    {
        var dir = Directory.CreateTempSubdirectory("forgetting-sweep-");
        try
        {
            var sweepPath = Path.Combine(dir.FullName, "sweep.yaml");
            File.WriteAllText(sweepPath, $$"""
                program: src/train.py
                command: [python3, "${program}", --config_path, "{{ConfigTests.RepoFile("configs", "forgetting_mqar.yaml")}}", "${args}"]
                method: grid
                name: forgetting
                parameters:
                  data.builder.kwargs.num_updates:
                    values: [0, 2, 8]
                """);
            var runs = SweepDefinition.Load(sweepPath).Expand();
            Assert.Equal(3, runs.Count);
            foreach (var (run, updates) in runs.Zip(new[] { 0, 2, 8 }))
            {
                var config = ConfigResolver.Resolve(ConfigLoader.Parse(run.Config.CanonicalJson(), run.Hash)).Config;
                Assert.IsType<ForgettingMqarTask>(config.Data.Task());
                Assert.Equal($"K = 8, {updates} updated", config.Data.Task().Splits(config.Data.Request()).Train.Shape);
            }
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
