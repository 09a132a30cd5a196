using Rebased.Configs;
using Rebased.Models;
using Rebased.Modules;
using Rebased.Tests.Training;

namespace Rebased.Tests.Models;

public class MixedPrecisionTests
{
    public MixedPrecisionTests() => TorchRuntime.EnsureLoaded();

    public static TheoryData<string> Mixers() => new() { "rebased", "based", "attention", "conv_attention", "rwkv", "mamba" };

    /// <summary>
    /// The reference fixtures' forward and backward with bf16 products: off fp32 by bf16's rounding (8 bits of
    /// mantissa), so beyond the fp32 tolerances but within a few percent.
    /// </summary>
    [Theory]
    [MemberData(nameof(Mixers))]
    public void Bf16ProductsStayWithinBf16RoundingOfTheReference(string mixer)
    {
        var fixture = ParityFixture.Load(TestModels.FixtureDir(mixer));
        var target = Parity.Targets(fixture)[^1];
        ParityResult result;
        using (MixedPrecision.Use(PrecisionNames.BFloat16)) result = Parity.Run(fixture, target);
        Assert.InRange(result.Logits.Relative, 1e-4, 2e-2);
        Assert.InRange(result.Loss.Relative, 0, 5e-3);
        Assert.InRange(result.WorstGradient.Relative, 1e-4, 1e-1);

        var fp32 = Parity.Run(fixture, target);
        Assert.True(fp32.Passed, "leaving the scope restores fp32");
    }

    [Fact]
    public void UnknownPrecisionIsRefused() =>
        Assert.Throws<ArgumentException>(() => MixedPrecision.Use("fp16"));

    [Fact]
    public void PrecisionIsAConfigKeyAndOnlyBf16ChangesTheRunHash()
    {
        var path = ConfigTests.RepoFile("configs", "simple_mqar.yaml");
        var defaults = ConfigResolver.Resolve(ConfigLoader.Load(path, [])).Config;
        var fp32 = ConfigResolver.Resolve(ConfigLoader.Load(path, ["precision=fp32"])).Config;
        var bf16 = ConfigResolver.Resolve(ConfigLoader.Load(path, ["precision=bf16"])).Config;
        Assert.Equal(PrecisionNames.Float32, defaults.Precision);
        // The hash runs/ directories of this config had before the key existed.
        Assert.Equal("5fa68599", ConfigWriter.ShortHash(defaults));
        Assert.Equal(ConfigWriter.ShortHash(defaults), ConfigWriter.ShortHash(fp32));
        Assert.NotEqual(ConfigWriter.ShortHash(defaults), ConfigWriter.ShortHash(bf16));
        var e = Assert.Throws<UserError>(() => ConfigResolver.Resolve(ConfigLoader.Load(path, ["precision=half"])));
        Assert.Contains("precision", e.Message);
        Assert.Contains("fp32 or bf16", e.Message);
    }
}
