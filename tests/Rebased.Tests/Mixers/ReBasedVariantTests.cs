using Rebased.Mixers;
using Rebased.Models;
using Rebased.Modules;

namespace Rebased.Tests.Mixers;

/// <summary>The ablation variants of ReBased (paper §5.3): x², (γx)², (γx+β)², norm(x)² and ReBased.</summary>
[Collection(GlobalRngCollection.Name)]
public class ReBasedVariantTests
{
    public ReBasedVariantTests() => TorchRuntime.EnsureLoaded();

    [Theory]
    [InlineData(false, false, false, QueryKeyTransform.None, "")]
    [InlineData(true, false, false, QueryKeyTransform.Gamma, "ln_k.beta ln_k.gamma ln_q.beta ln_q.gamma")]
    [InlineData(true, true, false, QueryKeyTransform.GammaBeta, "ln_k.beta ln_k.gamma ln_q.beta ln_q.gamma")]
    [InlineData(false, false, true, QueryKeyTransform.Normalize, "")]
    [InlineData(true, false, true, QueryKeyTransform.Normalize, "")]
    [InlineData(true, true, true, QueryKeyTransform.LayerNorm, "ln_k.bias ln_k.weight ln_q.bias ln_q.weight")]
    public void FlagsSelectTheReferenceVariantAndItsParameters(bool useGamma, bool useBeta, bool normalize, QueryKeyTransform expected, string extraParameters)
    {
        var transform = ReBased.TransformFor(useGamma, useBeta, normalize);
        Assert.Equal(expected, transform);
        var mixer = MixerFactory.Create(new() { Name = "ReBased", Kwargs = new() { ["use_gamma"] = useGamma, ["use_beta"] = useBeta, ["normalize"] = normalize } }, 64, 1);
        var names = mixer.named_parameters().Select(np => np.name).Where(n => !n.StartsWith("proj_")).Order();
        Assert.Equal(extraParameters, string.Join(" ", names));

        using var u = randn(2, 256, 64) * 10;
        u.requires_grad = true;
        var y = mixer.forward(u);
        Assert.True(y.isfinite().all().item<bool>());
        y.square().mean().backward();
        Assert.True(u.grad!.isfinite().all().item<bool>());
        if (expected == QueryKeyTransform.Gamma)
            foreach (var (name, p) in mixer.named_parameters().Where(np => np.name.EndsWith(".beta")))
                Assert.True(p.grad is null || p.grad.abs().max().item<float>() == 0, $"{name} is not used by (γx)²");
    }

    [Fact]
    public void BetaAloneIsNotAVariant()
    {
        var e = Assert.Throws<UserError>(() => ReBased.TransformFor(false, true, false));
        Assert.Contains("use_beta without use_gamma", e.Message);
    }

    /// <summary>At initialisation (γ = 1, β = 0) the LayerNorm equals norm(x) and both scalers equal the identity.</summary>
    [Fact]
    public void VariantsCoincideAtInitialisation()
    {
        using var u = randn(2, 32, 48);
        Tensor Output(QueryKeyTransform t)
        {
            manual_seed(5);
            return new ReBased(48, transform: t).forward(u);
        }
        var layerNorm = Output(QueryKeyTransform.LayerNorm);
        var normalize = Output(QueryKeyTransform.Normalize);
        var plain = Output(QueryKeyTransform.None);
        Assert.True(layerNorm.allclose(normalize, 0, 1e-6));
        Assert.True(Output(QueryKeyTransform.Gamma).allclose(plain, 0, 1e-6));
        Assert.True(Output(QueryKeyTransform.GammaBeta).allclose(plain, 0, 1e-6));
        Assert.False(normalize.allclose(plain, 0, 1e-3));
    }

    /// <summary>norm(x) applies ε once: (x−μ)/√(σ²+ε), not the reference's (x−μ)/(√(σ²+ε)+ε).</summary>
    [Fact]
    public void NormalizerAppliesEpsilonOnce()
    {
        using var x = tensor(new double[] { 1e-3, -1e-3, 2e-3, -2e-3 }).reshape(1, 4);
        var y = new FusedLayerNorm(4, ReBased.NormEps, elementwiseAffine: false).forward(x);
        double variance = (1e-6 + 1e-6 + 4e-6 + 4e-6) / 4;
        var expected = x / Math.Sqrt(variance + 1e-5);
        Assert.True(y.allclose(expected, 0, 1e-12));
    }
}
