using Rebased.Data;
using Rebased.Data.Mqar;

namespace Rebased.Tests.Data.Mqar;

public class MqarArgsTests
{
    [Theory]
    [InlineData(8192, 16, 63, 8, 0.01, "seq-len", "even")]
    [InlineData(8192, 16, 64, 17, 0.01, "kv-pairs", "4 × kv-pairs")]
    [InlineData(64, 16, 64, 8, 0.01, "vocab", "greater than seq-len")]
    [InlineData(8192, 16, 64, 0, 0.01, "kv-pairs", "at least 1")]
    [InlineData(8192, 16, 64, -2, 0.01, "kv-pairs", "at least 1")]
    [InlineData(8192, 16, 64, 8, 0.0, "power-a", "positive")]
    [InlineData(8192, 16, 64, 8, -1.0, "power-a", "positive")]
    [InlineData(8192, 16, 64, 8, double.NaN, "power-a", "positive")]
    [InlineData(8192, 16, 64, 8, 400.0, "power-a", "overflow")]
    [InlineData(8192, 0, 64, 8, 0.01, "examples", "at least 1")]
    [InlineData(8192, -5, 64, 8, 0.01, "examples", "at least 1")]
    [InlineData(8192, 16, 0, 8, 0.01, "seq-len", "positive")]
    [InlineData(1 << 20, 1 << 20, 4096, 8, 0.01, "examples", "exceeds")]
    public void BadArgumentsNameTheArgumentAndTheRule(int vocab, int examples, int seqLen, int kvPairs, double powerA, string argument, string rule)
    {
        var args = new MqarArgs(vocab, examples, seqLen, kvPairs, powerA);
        var error = Assert.Throws<UserError>(args.Validate);
        Assert.Contains(argument, error.Message);
        Assert.Contains(rule, error.Message);
        Assert.DoesNotContain('\n', error.Message);
        Assert.Throws<UserError>(() => MqarGenerator.Generate(args, MqarMode.Fast));
    }

    [Theory]
    [InlineData(-1L)]
    [InlineData(1L << 32)]
    public void NumpyModeNeedsASeedNumpyAccepts(long seed)
    {
        var args = new MqarArgs(8192, 4, 64, 8, Seed: seed);
        args.Validate(MqarMode.Fast);
        var error = Assert.Throws<UserError>(() => args.Validate(MqarMode.NumpyCompatible));
        Assert.Contains("seed", error.Message);
    }

    [Fact]
    public void TheReferenceLimitsAreAccepted()
    {
        new MqarArgs(2049, 1, 2048, 512).Validate(MqarMode.NumpyCompatible);
        new MqarArgs(12, 1, 4, 1, PowerA: 1).Validate();
    }
}
