using Rebased.Configs;
using Rebased.Kernels;
using Rebased.Kernels.DeltaRule;
using Rebased.Mixers;

namespace Rebased.Tests.Mixers;

public class DeltaNetTests
{
    public DeltaNetTests() => TorchRuntime.EnsureLoaded();

    [Fact]
    public void ShapesWidthsAndParameters()
    {
        using var scope = NewDisposeScope();
        using var mixer = new DeltaNet(48, numHeads: 3);
        Assert.Equal((3, 16, 16, 4), (mixer.NumHeads, mixer.HeadKeyDim, mixer.HeadValueDim, mixer.ConvSize));
        var names = mixer.named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);
        Assert.Equal([48, 48], names["q_proj.weight"]);
        Assert.Equal([48, 48], names["k_proj.weight"]);
        Assert.Equal([48, 48], names["v_proj.weight"]);
        Assert.Equal([48, 1, 4], names["q_conv1d.conv.weight"]);
        Assert.Equal([48, 1, 4], names["k_conv1d.conv.weight"]);
        Assert.Equal([48, 1, 4], names["v_conv1d.conv.weight"]);
        Assert.Equal([3, 48], names["b_proj.weight"]);
        Assert.Equal([16], names["o_norm.weight"]);
        Assert.Equal([48, 48], names["o_proj.weight"]);
        Assert.Equal(9, names.Count);
        Assert.Equal([2, 11, 48], mixer.forward(randn(2, 11, 48)).shape);
        // 3 heads · 16 · 16, and 3 previous inputs for each of the q, k and v convolutions (48 channels each).
        Assert.Equal(768L + 3 * 48 * 3, mixer.StateSize(11));

        using var plain = new DeltaNet(48, numHeads: 3, useBeta: false, useShortConv: false);
        Assert.Equal(["q_proj.weight", "k_proj.weight", "v_proj.weight", "o_norm.weight", "o_proj.weight"], plain.named_parameters().Select(p => p.name));
        Assert.Equal(768L, plain.StateSize(11));
        Assert.Equal([2, 11, 48], plain.forward(randn(2, 11, 48)).shape);
    }

    /// <summary>
    /// The mixer's forward equals the same composition written out here (causal depthwise convolutions as a padded
    /// conv1d, the recurrent form) in float64.
    /// </summary>
    [Fact]
    public void ForwardIsNormalisedQueryKeyDeltaRuleAndNorm()
    {
        using var scope = NewDisposeScope();
        using var mixer = new DeltaNet(16, numHeads: 2, form: "chunked");
        mixer.to(ScalarType.Float64);
        var u = randn([2, 70, 16], ScalarType.Float64);
        var p = mixer.named_parameters().ToDictionary(x => x.name, x => x.parameter);
        Tensor Heads(Tensor x) => x.view(2, 70, 2, -1).transpose(1, 2);
        Tensor Unit(Tensor x) => x / (x.square().sum(-1, keepdim: true) + 1e-6).sqrt();
        Tensor Conv(Tensor x, string name) =>
            nn.functional.conv1d(x.transpose(1, 2), p[name], padding: 3, groups: 16).narrow(-1, 0, 70).transpose(1, 2);
        Tensor Projected(string name) => nn.functional.silu(Conv(nn.functional.linear(u, p[$"{name}_proj.weight"]), $"{name}_conv1d.conv.weight"));
        var q = Unit(Heads(Projected("q")));
        var k = Unit(Heads(Projected("k")));
        var v = Heads(Projected("v"));
        var beta = nn.functional.linear(u, p["b_proj.weight"]).sigmoid().transpose(1, 2);
        var o = new DeltaRuleRecurrent().Forward(q, k, v, beta, 1 / Math.Sqrt(8)).transpose(1, 2);
        o = o * (o.square().mean([-1], keepdim: true) + 1e-5).rsqrt() * p["o_norm.weight"];
        var expected = nn.functional.linear(o.reshape(2, 70, 16), p["o_proj.weight"]);
        Assert.True(TensorErrors.Relative(mixer.forward(u), expected) < 1e-12);
    }

    [Fact]
    public void PresetIsBaseConvThenDeltaNetWithTwoHeads()
    {
        var run = new RunConfig();
        run.Model.SequenceMixer = new ComponentConfig { Name = "deltanet", Kwargs = new() { ["delta_form"] = "recurrent" } };
        run.Data.InputSeqLen = 128;
        var model = SequenceMixerPresets.Apply(run).Model;
        var configs = new MixerKwargs("Hybrid", model.SequenceMixer.Kwargs).Configs("configs");
        Assert.Equal(("src.mixers.base_conv.BaseConv", "zoology.mixers.delta_net.DeltaNet"), (configs[0].Name, configs[1].Name));
        Assert.Equal(2L, configs[1].Kwargs["num_heads"]);
        Assert.Equal(true, configs[1].Kwargs["use_short_conv"]);
        using var mixer = (DeltaNet)MixerFactory.Create(configs[1], 128, 1);
        Assert.Equal((2, 64, 64, 4, "recurrent"), (mixer.NumHeads, mixer.HeadKeyDim, mixer.HeadValueDim, mixer.ConvSize, mixer.Form));
    }

    [Theory]
    [InlineData("num_heads", 3L, "multiples of num_heads 3")]
    [InlineData("conv_size", 0L, "conv_size must be positive")]
    [InlineData("use_gate", true, "use_gate=true")]
    [InlineData("qk_norm", "sum", "qk_norm 'sum' is not supported")]
    [InlineData("delta_form", "fused", "unknown delta_form 'fused'")]
    public void BadKwargsAreUserErrors(string key, object value, string message) =>
        RecurrentMixerChecks.AssertBadKwargRefused("DeltaNet", key, value, message);

    [Fact]
    public void TrainingOnTinyMqarReducesTheLoss() => RecurrentMixerChecks.AssertTinyTrainingReducesTheLoss("deltanet");
}
