using Rebased.Mixers;
using Rebased.Models;
using Rebased.Tests.Models;

namespace Rebased.Tests.Mixers;

public class StateSizeTests
{
    public StateSizeTests() => TorchRuntime.EnsureLoaded();

    /// <summary>
    /// Per layer at d_model 128, L 256, by hand: attention 2·128·256 (keys and values); BaseConv 128·(3−1);
    /// Based 12 heads · (273·10 + 273) with F = 1 + 16 + 16², P = ⌊128/12⌋; ReBased 12 · (256·10 + 256);
    /// Mamba 256·16 + 256·3; RWKV 3·128; GLA 2 heads · 32 · 64; DeltaNet 2 · 64 · 64 + 3 convolutions · 128 · (4−1).
    /// </summary>
    [Theory]
    [InlineData("attention", 65536L, 65536L)]
    [InlineData("conv_attention", 256L, 65536L)]
    [InlineData("based", 256L, 36036L)]
    [InlineData("rebased", 256L, 33792L)]
    [InlineData("mamba", 4864L, 4864L)]
    [InlineData("rwkv", 384L, 384L)]
    [InlineData("gla", 256L, 4096L)]
    [InlineData("deltanet", 256L, 9344L)]
    public void PresetStateSizesMatchHandCounts(string mixer, long layer0, long layer1)
    {
        var config = TestModels.Config(mixer, 128, 256);
        Assert.Equal([layer0, layer1], LanguageModel.StateSizes(config, 256));
        using var model = new LanguageModel(config);
        Assert.Equal([layer0, layer1], model.StateSizes(256));
    }

    [Fact]
    public void OnlyAttentionGrowsWithTheLength()
    {
        foreach (var mixer in new[] { "attention", "based", "rebased", "mamba", "rwkv", "gla", "deltanet" })
        {
            var config = TestModels.Config(mixer, 64, 128);
            var at128 = LanguageModel.StateSizes(config, 128).Sum();
            var at512 = LanguageModel.StateSizes(config, 512).Sum();
            Assert.Equal(mixer == "attention" ? 4 * at128 : at128, at512);
        }
    }

    [Fact]
    public void EveryRegisteredMixerReportsItsStateSize()
    {
        foreach (var name in MixerFactory.Names.Where(n => n.Contains('.') && !n.EndsWith("Hybrid", StringComparison.Ordinal)))
        {
            using var mixer = MixerFactory.Create(new Rebased.Configs.ComponentConfig { Name = name }, 48, 0);
            Assert.True(mixer is ISequenceMixer, $"{name} does not implement ISequenceMixer");
        }
    }
}
