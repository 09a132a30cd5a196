using Rebased.Configs;
using Rebased.Kernels;
using Rebased.Kernels.Gla;
using Rebased.Mixers;

namespace Rebased.Tests.Mixers;

public class GatedLinearAttentionTests
{
    public GatedLinearAttentionTests() => TorchRuntime.EnsureLoaded();

    [Fact]
    public void ShapesWidthsAndParameters()
    {
        using var scope = NewDisposeScope();
        using var mixer = new GatedLinearAttention(48, numHeads: 3, expandK: 0.5, expandV: 1.0);
        Assert.Equal((3, 8, 16), (mixer.NumHeads, mixer.HeadKeyDim, mixer.HeadValueDim));
        var names = mixer.named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);
        Assert.Equal([24, 48], names["q_proj.weight"]);
        Assert.Equal([24, 48], names["k_proj.weight"]);
        Assert.Equal([48, 48], names["v_proj.weight"]);
        Assert.Equal([16, 48], names["gk_proj_down.weight"]);
        Assert.Equal([24, 16], names["gk_proj_up.weight"]);
        Assert.Equal([24], names["gk_proj_up.bias"]);
        Assert.Equal([48, 48], names["g_proj.weight"]);
        Assert.Equal([16], names["g_norm.weight"]);
        Assert.Equal([48, 48], names["o_proj.weight"]);
        Assert.Equal(9, names.Count);
        var y = mixer.forward(randn(2, 11, 48));
        Assert.Equal([2, 11, 48], y.shape);
        Assert.Equal(3L * 8 * 16, mixer.StateSize(11));
    }

    /// <summary>The mixer's forward equals the same composition written out here with the recurrent form in float64.</summary>
    [Fact]
    public void ForwardIsGatesRecurrenceNormAndOutputGate()
    {
        using var scope = NewDisposeScope();
        using var mixer = new GatedLinearAttention(16, numHeads: 2, form: "chunked");
        mixer.to(ScalarType.Float64);
        var u = randn([2, 9, 16], ScalarType.Float64);
        var p = mixer.named_parameters().ToDictionary(x => x.name, x => x.parameter);
        var o = NormedRecurrence(u, p);
        o = o * nn.functional.silu(nn.functional.linear(u, p["g_proj.weight"])).view(2, 9, 2, 8);
        var expected = nn.functional.linear(o.reshape(2, 9, 16), p["o_proj.weight"]);
        Assert.True(TensorErrors.Relative(mixer.forward(u), expected) < 1e-12);
    }

    [Fact]
    public void WithoutOutputGateTheNormedRecurrenceGoesStraightToTheOutputProjection()
    {
        using var scope = NewDisposeScope();
        using var mixer = new GatedLinearAttention(16, numHeads: 2, useOutputGate: false, form: "chunked");
        mixer.to(ScalarType.Float64);
        var p = mixer.named_parameters().ToDictionary(x => x.name, x => x.parameter);
        Assert.False(p.ContainsKey("g_proj.weight"));
        var u = randn([2, 9, 16], ScalarType.Float64);
        var o = NormedRecurrence(u, p);
        var expected = nn.functional.linear(o.reshape(2, 9, 16), p["o_proj.weight"]);
        Assert.True(TensorErrors.Relative(mixer.forward(u), expected) < 1e-12);
    }

    [Fact]
    public void PresetIsBaseConvThenGlaWithTwoHeads()
    {
        var run = new RunConfig();
        run.Model.SequenceMixer = new ComponentConfig { Name = "gla" };
        run.Data.InputSeqLen = 256;
        var model = SequenceMixerPresets.Apply(run).Model;
        var configs = new MixerKwargs("Hybrid", model.SequenceMixer.Kwargs).Configs("configs");
        Assert.Equal(("src.mixers.base_conv.BaseConv", "zoology.mixers.gla.GatedLinearAttention"), (configs[0].Name, configs[1].Name));
        Assert.Equal(2, model.NumHeads);
        Assert.Equal(2L, configs[1].Kwargs["num_heads"]);
        Assert.Equal(0.5, configs[1].Kwargs["expand_k"]);
        Assert.Equal(16L, configs[1].Kwargs["gate_logit_normalizer"]);
        using var mixer = (GatedLinearAttention)MixerFactory.Create(configs[1], 128, 1);
        Assert.Equal((2, 32, 64), (mixer.NumHeads, mixer.HeadKeyDim, mixer.HeadValueDim));
    }

    [Theory]
    [InlineData("num_heads", 5L, "multiples of num_heads 5")]
    [InlineData("feature_map", "elu", "unknown feature_map 'elu'")]
    [InlineData("gla_form", "fused", "unknown gla_form 'fused'")]
    [InlineData("use_short_conv", true, "use_short_conv=true is not supported")]
    [InlineData("gate_rank", 8L, "unknown argument 'gate_rank'")]
    public void BadKwargsAreUserErrors(string key, object value, string message) =>
        RecurrentMixerChecks.AssertBadKwargRefused("GatedLinearAttention", key, value, message);

    [Fact]
    public void TrainingOnTinyMqarReducesTheLoss() => RecurrentMixerChecks.AssertTinyTrainingReducesTheLoss("gla");

    /// <summary>The mixer's projections of u [2, 9, 16] through the two-head recurrence in float64, then the per-head RMS norm: [2, 9, 2, 8].</summary>
    private static Tensor NormedRecurrence(Tensor u, Dictionary<string, TorchSharp.Modules.Parameter> p)
    {
        Tensor Heads(Tensor x) => x.view(2, 9, 2, -1).transpose(1, 2);
        var q = Heads(nn.functional.linear(u, p["q_proj.weight"]));
        var k = Heads(nn.functional.linear(u, p["k_proj.weight"]));
        var v = Heads(nn.functional.linear(u, p["v_proj.weight"]));
        var g = Heads(nn.functional.logsigmoid(nn.functional.linear(nn.functional.linear(u, p["gk_proj_down.weight"]), p["gk_proj_up.weight"], p["gk_proj_up.bias"])) / 16);
        var o = new GlaRecurrent().Forward(q, k, v, g, 1 / Math.Sqrt(4)).transpose(1, 2);
        return o * (o.square().mean([-1], keepdim: true) + 1e-5).rsqrt() * p["g_norm.weight"];
    }
}
