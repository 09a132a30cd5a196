using Rebased.Data;
using Rebased.Data.Mqar;
using Rebased.IO;

namespace Rebased.Tests.Data.Mqar;

public class MqarDatasetTests
{
    public MqarDatasetTests() => TorchRuntime.EnsureLoaded();

    [Theory]
    [InlineData(256, 1)]
    [InlineData(257, 2)]
    [InlineData(8192, 2)]
    [InlineData(65536, 2)]
    [InlineData(65537, 4)]
    public void TokensUseTheNarrowestTypeThatHoldsTheVocabulary(int vocab, int bytes)
    {
        var data = MqarGenerator.Generate(new MqarArgs(vocab, 3, 64, 8, Seed: 1), MqarMode.Fast);
        Assert.Equal(bytes, data.TokenBytes);
        MqarChecks.AssertWellFormed(data);
        if (vocab == 65536)
        {
            var (inputs, _) = MqarChecks.Dense(data);
            Assert.Contains(inputs.SelectMany(r => r), t => t >= 32768);
        }
    }

    [Fact]
    public void TheFigureOneTrainingSetFitsInTwoAndAHalfBytesPerToken()
    {
        var data = MqarGenerator.Generate(new MqarArgs(8192, 8, 2048, 512, Seed: 42), MqarMode.Fast);
        double perToken = (double)data.ResidentBytes / data.Args.TokenCount;
        Assert.True(perToken <= 2.5, $"{perToken} bytes per token");
        Assert.Equal(2.125, perToken);
        MqarChecks.AssertWellFormed(data);
    }

    [Fact]
    public void RowAccessorsAgreeWithTheDenseTensors()
    {
        var (args, _) = MqarNumpyCompatibleTests.FixtureArgs("mqar_v8192_L128_K16_n32_seed42.safetensors");
        var data = MqarGenerator.Generate(args, MqarMode.NumpyCompatible);
        var expected = SafeTensors.Load(Path.Combine(AppContext.BaseDirectory, "TestData", "mqar", "mqar_v8192_L128_K16_n32_seed42.safetensors"));
        var inputs = expected["inputs"].data<long>().ToArray();
        var labels = expected["labels"].data<long>().ToArray();
        var row = new long[128];
        var positions = new int[16];
        for (int r = 0; r < data.Count; r++)
        {
            data.CopyInputs(r, row.AsSpan());
            Assert.Equal(inputs.AsSpan(r * 128, 128).ToArray(), row);
            Assert.Equal((int)inputs[r * 128 + 5], data.Token(r, 5));
            data.CopyLabels(r, row);
            Assert.Equal(labels.AsSpan(r * 128, 128).ToArray(), row);
            data.SupervisedPositions(r, positions);
            Assert.Equal(Enumerable.Range(0, 128).Where(p => labels[r * 128 + p] != -100), positions);
        }
    }

    [Fact]
    public void RandomNonQueriesKeepsTheNumpyStructureAndOnlyChangesFillers()
    {
        var file = "mqar_v8192_L64_K8_n16_seed42.safetensors";
        var (args, _) = MqarNumpyCompatibleTests.FixtureArgs(file);
        var noisy = MqarGenerator.Generate(args with { RandomNonQueries = true }, MqarMode.NumpyCompatible);
        MqarChecks.AssertWellFormed(noisy);
        var expected = SafeTensors.Load(Path.Combine(AppContext.BaseDirectory, "TestData", "mqar", file));
        var plainInputs = expected["inputs"].data<long>().ToArray();
        var (inputs, labels) = noisy.ToTensors();
        MqarNumpyCompatibleTests.AssertSameTensor(expected["labels"], labels, "labels");
        var noisyInputs = inputs.data<long>().ToArray();
        int changed = 0;
        for (int i = 0; i < plainInputs.Length; i++)
            if (plainInputs[i] != 0) Assert.Equal(plainInputs[i], noisyInputs[i]);
            else if (noisyInputs[i] != 0) changed++;
        Assert.True(changed > plainInputs.Count(t => t == 0) * 0.9, $"only {changed} fillers changed");
    }

    [Fact]
    public void PreviewMarksPairsQueriesAndTargets()
    {
        var data = MqarGenerator.Generate(new MqarArgs(20, 2, 16, 2, Seed: 0), MqarMode.NumpyCompatible);
        var (inputs, labels) = MqarChecks.Dense(data);
        var text = MqarPreview.Describe(data, 1);
        Assert.Contains($"pairs  : {inputs[1][0]}→{inputs[1][1]} {inputs[1][2]}→{inputs[1][3]}", text);
        for (int p = 0; p < 16; p++)
            if (labels[1][p] != MqarChecks.Ignore) Assert.Contains($"@{p}:{inputs[1][p]}→{labels[1][p]}", text);
        Assert.Equal(2, text.Count(c => c == '['));
    }
}
