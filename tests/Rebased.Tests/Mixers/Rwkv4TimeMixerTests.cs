using Rebased.IO;
using Rebased.Kernels.Scan;
using Rebased.Mixers;
using Rebased.Modules;
using Rebased.Tests.Models;

namespace Rebased.Tests.Mixers;

public class Rwkv4TimeMixerTests
{
    public Rwkv4TimeMixerTests() => TorchRuntime.EnsureLoaded();

    private static string FixtureFile(string name) => Path.Combine(TestModels.FixtureDir("rwkv"), name);

    [Fact]
    public void ParameterNamesAndShapesAreTheReferences()
    {
        using var mixer = new Rwkv4TimeMixer("sequence_mixer", 48, 0, 2);
        TestModels.AssertParametersAreTheFixtures(mixer, "rwkv", "backbone.layers.0.sequence_mixer.");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void TimeParametersStartAsTheReferences(int layer)
    {
        using var mixer = new Rwkv4TimeMixer("sequence_mixer", 48, layer, 2);
        var reference = SafeTensors.Load(FixtureFile("model.safetensors"));
        foreach (var (name, parameter) in mixer.named_parameters().Where(p => p.name.StartsWith("time_")))
        {
            var expected = reference[$"backbone.layers.{layer}.sequence_mixer.{name}"];
            double worst = (parameter - expected).abs().max().item<float>();
            Assert.True(worst <= 1e-6, $"{name}: max difference {worst}");
        }
    }

    [Fact]
    public void LinearLayersKeepPyTorchsDefaultInit()
    {
        const int d = 256;
        using var mixer = new Rwkv4TimeMixer("sequence_mixer", d, 0, 2);
        Assert.IsAssignableFrom<Rebased.Modules.IInitialisesItself>(mixer);
        foreach (var (name, parameter) in mixer.named_parameters().Where(p => p.name.EndsWith(".weight")))
        {
            // U(±1/√d): std 1/√(3d)
            double bound = 1 / Math.Sqrt(d);
            Assert.True(parameter.abs().max().item<float>() <= bound, name);
            Assert.InRange(parameter.std().item<float>(), 0.97 * bound / Math.Sqrt(3), 1.03 * bound / Math.Sqrt(3));
        }
    }

    [Fact]
    public void ParameterCountIsFourDSquaredPlusFiveD()
    {
        foreach (int d in new[] { 64, 128, 256, 512 })
        {
            using var mixer = new Rwkv4TimeMixer("sequence_mixer", d, 1, 2);
            Assert.Equal(4L * d * d + 5L * d, mixer.parameters().Sum(p => p.numel()));
        }
    }

    [Fact]
    public void FormsAndBf16OptionAreSelectable()
    {
        using var exact = new Rwkv4TimeMixer("m", 8, 0, 2);
        using var recurrent = new Rwkv4TimeMixer("m", 8, 0, 2, wkvForm: "recurrent");
        using var rounded = new Rwkv4TimeMixer("m", 8, 0, 2, roundWkvToBf16: true);
        Assert.Equal("auto", exact.Wkv.Name);
        Assert.Equal("recurrent", recurrent.Wkv.Name);
        Assert.Equal("auto-bf16", rounded.Wkv.Name);
        Assert.Throws<UserError>(() => new Rwkv4TimeMixer("m", 8, 0, 2, wkvForm: "fast"));

        recurrent.load_state_dict(exact.state_dict());
        var x = randn(2, 9, 8);
        Assert.True(exact.forward(x).allclose(recurrent.forward(x), rtol: 1e-5, atol: 1e-6));
    }
}
