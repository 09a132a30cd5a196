using Rebased.Configs;
using Rebased.Mixers;

namespace Rebased.Tests.Mixers;

public class MixerFactoryTests
{
    public MixerFactoryTests() => TorchRuntime.EnsureLoaded();

    [Theory]
    [InlineData("src.mixers.attention.MHA", typeof(MultiHeadAttention))]
    [InlineData("MHA", typeof(MultiHeadAttention))]
    [InlineData("src.mixers.base_conv.BaseConv", typeof(BaseConv))]
    [InlineData("src.mixers.based.Based", typeof(Based))]
    [InlineData("src.mixers.rebased.ReBased", typeof(ReBased))]
    [InlineData("ReBased", typeof(ReBased))]
    public void BuildsByImportPathOrClassName(string name, Type type) =>
        Assert.IsType(type, MixerFactory.Create(new ComponentConfig { Name = name }, 48, 0));

    [Fact]
    public void HybridPicksTheConfigOfItsLayer()
    {
        var config = new ComponentConfig
        {
            Name = "src.mixers.hybrid.Hybrid",
            Kwargs = new() { ["configs"] = new List<object?> { new Dictionary<string, object?> { ["name"] = "BaseConv", ["kwargs"] = new Dictionary<string, object?> { ["kernel_size"] = new List<object?> { 3, 5 } } }, new ComponentConfig { Name = "Based" } } },
        };
        var layer0 = Assert.IsType<Hybrid>(MixerFactory.Create(config, 48, 0));
        Assert.IsType<BaseConv>(layer0.Mixer);
        Assert.IsType<Based>(Assert.IsType<Hybrid>(MixerFactory.Create(config, 48, 1)).Mixer);
        var e = Assert.Throws<UserError>(() => MixerFactory.Create(config, 48, 2));
        Assert.Contains("layer 2 has no entry", e.Message);
    }

    [Fact]
    public void KwargsWrittenAsStringsAreRead()
    {
        var mixer = Assert.IsType<Based>(MixerFactory.Create(new ComponentConfig { Name = "Based", Kwargs = new() { ["feature_dim"] = "8", ["num_heads"] = "4", ["num_key_value_heads"] = "4", ["qk_norm"] = "true" } }, 48, 1));
        Assert.Equal((8, 4, 12), (mixer.FeatureDim, mixer.NumHeads, mixer.HeadDim));
        Assert.Contains(mixer.named_parameters(), np => np.name == "ln_q.weight");
    }

    /// <summary>Kwargs as a YAML reader returns them: object-keyed maps, object lists and string scalars.</summary>
    [Fact]
    public void YamlShapedKwargsAreRead()
    {
        var baseConv = new Dictionary<object, object> { ["name"] = "BaseConv", ["kwargs"] = new Dictionary<object, object> { ["kernel_size"] = "5", ["l_max"] = "64" } };
        var config = new ComponentConfig { Name = "Hybrid", Kwargs = new() { ["configs"] = new List<object> { baseConv, baseConv } } };
        var conv = Assert.IsType<BaseConv>(Assert.IsType<Hybrid>(MixerFactory.Create(config, 48, 1)).Mixer);
        Assert.Equal(new long[] { 48, 1, 5 }, conv.named_parameters().Single(np => np.name == "conv.conv.weight").parameter.shape);
    }

    [Fact]
    public void AttentionFormIsAKwarg()
    {
        var mixer = Assert.IsType<ReBased>(MixerFactory.Create(new ComponentConfig { Name = "ReBased", Kwargs = new() { ["attention_form"] = "naive" } }, 48, 1));
        Assert.Equal("naive", mixer.AttentionForm);
        var e = Assert.Throws<UserError>(() => MixerFactory.Create(new ComponentConfig { Name = "ReBased", Kwargs = new() { ["attention_form"] = "bogus" } }, 48, 1));
        Assert.Contains("unknown attention_form 'bogus'", e.Message);
    }

    [Theory]
    [InlineData("Based", "feature_dimm", "Based: unknown argument 'feature_dimm'")]
    [InlineData("MHA", "num_head", "MHA: unknown argument 'num_head'")]
    public void UnknownKwargIsNamed(string mixer, string key, string message)
    {
        var e = Assert.Throws<UserError>(() => MixerFactory.Create(new ComponentConfig { Name = mixer, Kwargs = new() { [key] = 1 } }, 48, 0));
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void WrongKwargTypeIsNamed()
    {
        var e = Assert.Throws<UserError>(() => MixerFactory.Create(new ComponentConfig { Name = "MHA", Kwargs = new() { ["dropout"] = "high" } }, 48, 0));
        Assert.Equal("MHA: 'dropout' must be a number, got 'high'", e.Message);
    }

    [Theory]
    [InlineData("rebased", "is a preset name", null)]
    [InlineData("src.mixers.nope.Nope", "unknown sequence mixer 'src.mixers.nope.Nope'", null)]
    [InlineData("src.mixers.rwkv.RWKVTimeMixer", "RWKVTimeMixer: unknown argument 'wkv_mode'", "wkv_mode")]
    [InlineData("src.mixers.mamba.Mamba", "Mamba: unknown argument 'd_conv'", "d_conv")]
    public void UnbuildableNamesGiveAClearError(string name, string message, string? unknownKwarg)
    {
        var kwargs = unknownKwarg is null ? new Dictionary<string, object?>() : new() { [unknownKwarg] = 1L };
        var e = Assert.Throws<UserError>(() => MixerFactory.Create(new ComponentConfig { Name = name, Kwargs = kwargs }, 48, 0));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void MismatchedKeyValueHeadsAreRejected()
    {
        var e = Assert.Throws<UserError>(() => MixerFactory.Create(new ComponentConfig { Name = "Based", Kwargs = new() { ["num_key_value_heads"] = 6 } }, 48, 1));
        Assert.Contains("num_key_value_heads (6) must equal num_heads (12)", e.Message);
    }
}
