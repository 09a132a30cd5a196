using Rebased.Models;

namespace Rebased.Tests.Models;

/// <summary>Paper Table 6 (vocabulary 8192, 2 layers), at the sequence length each row was evidently counted with (spec 2.9).</summary>
public class ParameterCountTests
{
    public ParameterCountTests() => TorchRuntime.EnsureLoaded();

    [Theory]
    [InlineData("attention", 64, 1024, 623_744)]
    [InlineData("attention", 128, 1024, 1_313_024)]
    [InlineData("attention", 256, 1024, 2_888_192)]
    [InlineData("attention", 512, 1024, 6_824_960)]
    [InlineData("conv_attention", 64, 512, 578_752)]
    [InlineData("conv_attention", 128, 128, 1_149_312)]
    [InlineData("conv_attention", 256, 128, 2_462_464)]
    [InlineData("conv_attention", 512, 128, 5_580_288)]
    [InlineData("based", 64, 256, 577_984)]
    [InlineData("based", 128, 256, 1_179_520)]
    [InlineData("based", 256, 256, 2_459_392)]
    [InlineData("based", 512, 256, 5_307_904)]
    [InlineData("rebased", 64, 256, 577_984 + 768)]
    [InlineData("rebased", 128, 256, 1_179_520 + 768)]
    [InlineData("rebased", 256, 256, 2_459_392 + 768)]
    [InlineData("rebased", 512, 256, 5_307_904 + 768)]
    [InlineData("rwkv", 64, 1024, 623_872)]
    [InlineData("rwkv", 128, 1024, 1_313_280)]
    [InlineData("rwkv", 256, 1024, 2_888_704)]
    [InlineData("rwkv", 512, 1024, 6_825_984)]
    [InlineData("mamba", 64, 1024, 655_360)]
    [InlineData("mamba", 128, 1024, 1_413_120)]
    [InlineData("mamba", 256, 1024, 3_235_840)]
    [InlineData("mamba", 512, 512, 7_847_936)] // the d=512 row was counted at L = 512 (1024 gives 8,110,080)
    public void MatchesPaperTable6(string mixer, int dModel, int seqLen, long expected)
    {
        using var model = new LanguageModel(TestModels.Config(mixer, dModel, seqLen, vocab: 8192));
        Assert.Equal(expected, model.ParameterCount());
    }

    [Theory]
    [InlineData("attention")]
    [InlineData("conv_attention")]
    [InlineData("based")]
    [InlineData("rebased")]
    public void MatchesTheFixtureCount(string mixer)
    {
        var fixture = ParityFixture.Load(TestModels.FixtureDir(mixer));
        using var model = new LanguageModel(fixture.CreateModelConfig());
        Assert.Equal(fixture.Manifest["num_parameters"]!.GetValue<long>(), model.ParameterCount());
    }
}
