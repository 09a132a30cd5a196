using Rebased.IO;
using Rebased.Models;

namespace Rebased.Tests.Models;

[Collection(GlobalRngCollection.Name)]
public class InitialisationTests
{
    public InitialisationTests() => TorchRuntime.EnsureLoaded();

    [Theory]
    [InlineData("attention")]
    [InlineData("conv_attention")]
    [InlineData("based")]
    [InlineData("rebased")]
    public void SeededConstructionReproducesTheReferenceWeights(string mixer)
    {
        var fixture = ParityFixture.Load(Path.Combine(AppContext.BaseDirectory, "TestData", "models", mixer));
        manual_seed(fixture.Manifest["seed"]!.GetValue<long>());
        using var model = new LanguageModel(fixture.CreateModelConfig());
        var reference = SafeTensors.Load(fixture.PathOf("model.safetensors"));
        foreach (var (name, tensor) in StateDictIO.StateDict(model))
        {
            double maxDiff = (tensor.detach() - reference[name]).abs().max().item<float>();
            Assert.True(maxDiff == 0, $"{name}: max |ours - reference| = {maxDiff}");
        }

        manual_seed(fixture.Manifest["seed"]!.GetValue<long>() + 1);
        using var other = new LanguageModel(fixture.CreateModelConfig());
        var embedding = StateDictIO.StateDict(other)[StateDictIO.TokenEmbeddingName];
        Assert.False(embedding.equal(reference[StateDictIO.TokenEmbeddingName]).all().item<bool>());
    }

    [Fact]
    public void InitialisationFollowsTheReferenceDistributions()
    {
        manual_seed(1);
        using var model = new LanguageModel(TestModels.Config("conv_attention", dModel: 256, seqLen: 128, vocab: 8192));
        var p = model.named_parameters().ToDictionary(np => np.name, np => (Tensor)np.parameter);
        Assert.Equal(0.02, p["backbone.embeddings.word_embeddings.weight"].std().item<float>(), 3);
        Assert.Equal(0.02, p["backbone.layers.1.sequence_mixer.mixer.Wqkv.weight"].std().item<float>(), 3);
        // out_proj is rescaled to 0.02 / sqrt(2 n_layers) = 0.01
        Assert.Equal(0.01, p["backbone.layers.1.sequence_mixer.mixer.out_proj.weight"].std().item<float>(), 3);
        Assert.Equal(0.0, p["backbone.layers.1.sequence_mixer.mixer.out_proj.bias"].abs().max().item<float>());
        Assert.Equal(0.0, p["backbone.layers.0.sequence_mixer.mixer.projection.bias"].abs().max().item<float>());
        // depthwise Conv1d keeps PyTorch's default U(±1/sqrt(3))
        var conv = p["backbone.layers.0.sequence_mixer.mixer.conv.conv.weight"];
        Assert.True(conv.abs().max().item<float>() <= 1 / MathF.Sqrt(3));
        Assert.Equal(1 / Math.Sqrt(9), conv.std().item<float>(), 2);
        Assert.Equal(1f, p["backbone.layers.0.norm1.weight"].min().item<float>());
        Assert.Equal(0f, p["backbone.ln_f.bias"].abs().max().item<float>());
    }
}
