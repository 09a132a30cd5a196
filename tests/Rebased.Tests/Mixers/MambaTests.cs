using Rebased.IO;
using Rebased.Mixers;
using Rebased.Models;
using Rebased.Tests.Models;

namespace Rebased.Tests.Mixers;

public class MambaTests
{
    public MambaTests() => TorchRuntime.EnsureLoaded();

    private static string FixtureFile(string name) => Path.Combine(TestModels.FixtureDir("mamba"), name);

    [Fact]
    public void BlockParameterNamesAndShapesAreTheReferences()
    {
        using var block = new MambaBlock("layer", 48);
        TestModels.AssertParametersAreTheFixtures(block, "mamba", "backbone.layers.0.");
    }

    [Fact]
    public void ConstructorInitIsTheReferences()
    {
        using var block = new MambaBlock("layer", 64);
        var mamba = block.Mixer;
        var parameters = block.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var reference = SafeTensors.Load(FixtureFile("model.safetensors"));
        // A_log = log(1..16) in every channel; D = 1; RMSNorm weight = 1.
        Assert.True(parameters["mixer.A_log"].narrow(0, 0, 96).allclose(reference["backbone.layers.0.mixer.A_log"], rtol: 0, atol: 1e-6));
        Assert.True(parameters["mixer.D"].eq(1).all().item<bool>());
        Assert.True(parameters["norm.weight"].eq(1).all().item<bool>());
        // dt_proj: weight U(±dt_rank^−½), bias = softplus⁻¹(Δ₀) with Δ₀ in [1e-3, 0.1].
        Assert.Equal(4, mamba.DtRank);
        Assert.True(parameters["mixer.dt_proj.weight"].abs().max().item<float>() <= 0.5f);
        var dt0 = nn.functional.softplus(parameters["mixer.dt_proj.bias"]);
        Assert.InRange(dt0.min().item<float>(), 0.999e-3f, 0.1f);
        Assert.InRange(dt0.max().item<float>(), 1e-3f, 0.1001f);
        // Depthwise conv with PyTorch's default: U(±1/√k), k = 4.
        Assert.True(parameters["mixer.conv1d.weight"].abs().max().item<float>() <= 0.5f);
        Assert.True(parameters["mixer.conv1d.bias"].abs().max().item<float>() <= 0.5f);
    }

    [Theory]
    [InlineData(64)]
    [InlineData(512)]
    public void BlockParameterCountFollowsTheSpecFormula(int d)
    {
        long rank = (d + 15) / 16;
        long expected = 6L * d * d + 10L * d + 2L * d * (rank + 32) + 2L * d * rank + 2L * d + 32L * d + 2L * d + d;
        using var block = new MambaBlock("layer", d);
        Assert.Equal(expected, block.parameters().Sum(p => p.numel()));
        if (d == 64) Assert.Equal(32_704, expected);
    }

    [Fact]
    public void BlockAddsTheResidualThenNormalises()
    {
        using var block = new MambaBlock("layer", 16, scanForm: "recurrent");
        using var parallel = new MambaBlock("layer", 16, scanForm: "parallel");
        parallel.load_state_dict(block.state_dict());
        var h = randn(2, 11, 16);
        var r = randn(2, 11, 16);
        var (hidden, residual) = block.Forward(h, r);
        Assert.True(residual!.allclose(h + r));
        var normed = (h + r) / ((h + r).square().mean(new long[] { -1 }, keepdim: true) + 1e-5).sqrt();
        Assert.True(hidden.allclose(block.Mixer.forward(normed), rtol: 1e-5, atol: 1e-6));
        var (first, firstResidual) = block.Forward(h, null);
        Assert.True(firstResidual!.eq(h).all().item<bool>());
        Assert.True(parallel.Forward(h, null).Hidden.allclose(first, rtol: 1e-5, atol: 1e-6));
    }
}
