using Rebased.Configs;
using Rebased.IO;
using Rebased.Kernels.Scan;
using Rebased.Mixers;
using Rebased.Models;
using Rebased.Tests.Models;

namespace Rebased.Tests.Mixers;

/// <summary>RWKV and Mamba language models: reference parity in every scan form, Table 6 counts, init, shapes.</summary>
[Collection(GlobalRngCollection.Name)]
public class RwkvMambaModelTests
{
    public RwkvMambaModelTests() => TorchRuntime.EnsureLoaded();

    private static ParityTarget WithKwarg(ParityTarget target, string key, string value) =>
        target with
        {
            Label = $"{target.Label} {value}",
            MixerKwargs = new Dictionary<string, object?>(target.MixerKwargs) { [key] = value },
        };

    /// <summary>Within the parity allowance; logits within 1e-5 and the worst of the <paramref name="gradients"/> parameter gradients within <paramref name="gradientTolerance"/> (relative errors).</summary>
    private static void AssertClose(ParityResult result, double gradientTolerance, int gradients)
    {
        var label = result.Target.Label;
        Assert.True(result.Passed, $"{label}: worst {result.Worst}");
        Assert.True(result.Logits.Relative < 1e-5, $"{label}: logits {result.Logits.Relative}");
        Assert.True(result.WorstGradient.Relative < gradientTolerance, $"{label}: {result.WorstGradient}");
        Assert.Equal(gradients, result.Gradients.Count);
    }

    [Theory]
    [InlineData("parallel")]
    [InlineData("recurrent")]
    public void RwkvMatchesTheReferenceInBothWkvModes(string form)
    {
        var fixture = ParityFixture.Load(TestModels.FixtureDir("rwkv"));
        var targets = Parity.Targets(fixture);
        Assert.Equal(2, targets.Count);
        foreach (var target in targets)
        {
            // The emulated rounding reproduces the reference's bf16 numbers far inside the 5e-3 allowance.
            AssertClose(Parity.Run(fixture, WithKwarg(target, Rwkv4TimeMixer.WkvFormKwarg, form)), gradientTolerance: 1e-4, gradients: 30);
        }
    }

    [Fact]
    public void RwkvWithoutTheRoundingMissesTheBf16Reference()
    {
        var fixture = ParityFixture.Load(TestModels.FixtureDir("rwkv"));
        var bf16 = Parity.Targets(fixture)[0];
        var exact = bf16 with { MixerKwargs = new Dictionary<string, object?> { [Rwkv4TimeMixer.Bf16RoundingKwarg] = false } };
        var result = Parity.Run(fixture, exact);
        Assert.True(result.Logits.Relative > 1e-4, $"logits {result.Logits.Relative}");
    }

    [Theory]
    [InlineData("parallel")]
    [InlineData("recurrent")]
    public void MambaMatchesTheReference(string form)
    {
        var fixture = ParityFixture.Load(TestModels.FixtureDir("mamba"));
        var target = Assert.Single(Parity.Targets(fixture));
        AssertClose(Parity.Run(fixture, WithKwarg(target, Mamba.ScanFormKwarg, form)), gradientTolerance: 1e-5, gradients: 24);
    }

    [Theory]
    [InlineData("rwkv")]
    [InlineData("mamba")]
    public void SeededConstructionReproducesTheReferenceWeights(string mixer)
    {
        var fixture = ParityFixture.Load(TestModels.FixtureDir(mixer));
        manual_seed(fixture.Manifest["seed"]!.GetValue<long>());
        using var model = new LanguageModel(fixture.CreateModelConfig());
        Assert.Equal(fixture.Manifest["num_parameters"]!.GetValue<long>(), model.ParameterCount());
        var reference = SafeTensors.Load(fixture.PathOf("model.safetensors"));
        var bad = new List<string>();
        foreach (var (name, tensor) in StateDictIO.StateDict(model))
        {
            double maxDiff = (tensor.detach() - reference[name]).abs().max().item<float>();
            if (maxDiff > 1e-6) bad.Add($"{name}: max |ours - reference| = {maxDiff}");
        }
        Assert.True(bad.Count == 0, string.Join("; ", bad));
    }

    [Fact]
    public void MambaInsideTheModelGetsTheReferencesEffectiveInit()
    {
        manual_seed(3);
        using var model = new LanguageModel(TestModels.Config("mamba", 128, 64, vocab: 512));
        var p = model.named_parameters().ToDictionary(np => np.name, np => (Tensor)np.parameter);
        // The global init zeroes dt_proj.bias (Δ starts at softplus(0)) and re-draws every Linear weight.
        Assert.Equal(0f, p["backbone.layers.0.mixer.dt_proj.bias"].abs().max().item<float>());
        Assert.Equal(0.02, p["backbone.layers.1.mixer.in_proj.weight"].std().item<float>(), 3);
        Assert.Equal(0.02, p["backbone.layers.1.mixer.dt_proj.weight"].std().item<float>(), 2);
        Assert.Equal(0.01, p["backbone.layers.1.mixer.out_proj.weight"].std().item<float>(), 3);
        Assert.True(p["backbone.layers.0.mixer.conv1d.weight"].abs().max().item<float>() <= 0.5f);
        Assert.True(p["backbone.layers.0.mixer.D"].eq(1).all().item<bool>());
    }

    [Fact]
    public void RwkvInsideTheModelKeepsItsOwnInit()
    {
        manual_seed(3);
        using var model = new LanguageModel(TestModels.Config("rwkv", 256, 64, vocab: 512));
        var p = model.named_parameters().ToDictionary(np => np.name, np => (Tensor)np.parameter);
        foreach (var layer in new[] { "key", "value", "receptance", "output" })
            Assert.Equal(1 / Math.Sqrt(3 * 256), p[$"backbone.layers.0.sequence_mixer.{layer}.weight"].std().item<float>(), 3);
        Assert.Equal(-5f, p["backbone.layers.1.sequence_mixer.time_decay"][0].item<float>());
    }

    [Fact]
    public void BadScanFormsAreNamed()
    {
        var rwkv = Assert.Throws<UserError>(() => MixerFactory.Create(new ComponentConfig
        {
            Name = "RWKVTimeMixer", Kwargs = new() { [Rwkv4TimeMixer.WkvFormKwarg] = "fused" },
        }, 48, 0));
        Assert.Equal($"unknown WKV form 'fused' (known: auto, {string.Join(", ", WkvForms.Registry.Names)})", rwkv.Message);
        var mamba = Assert.Throws<UserError>(() => new LanguageModel(TestModels.Config("mamba", 32, 16, kwargs: new() { [Mamba.ScanFormKwarg] = "fast" })));
        Assert.Contains("unknown selective-scan form 'fast'", mamba.Message);
    }
}
