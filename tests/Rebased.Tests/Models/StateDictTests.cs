using Rebased.IO;
using Rebased.Models;

namespace Rebased.Tests.Models;

public class StateDictTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("statedict-").FullName;

    public StateDictTests() => TorchRuntime.EnsureLoaded();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void SaveThenLoadRestoresEveryParameterUnderTheReferenceNames()
    {
        var fixture = ParityFixture.Load(TestModels.FixtureDir("rebased"));
        manual_seed(11);
        using var source = new LanguageModel(fixture.CreateModelConfig());
        var path = Path.Combine(_dir, "model.safetensors");
        StateDictIO.Save(source, path);

        var saved = SafeTensors.Load(path);
        var referenceNames = SafeTensors.Load(fixture.PathOf("model.safetensors"));
        Assert.Equal(referenceNames.Keys.Order(), saved.Keys.Order());
        foreach (var (name, t) in referenceNames) Assert.Equal(t.shape, saved[name].shape);
        Assert.True(saved[StateDictIO.TiedHeadName].equal(saved[StateDictIO.TokenEmbeddingName]).all().item<bool>());

        manual_seed(12);
        using var target = new LanguageModel(fixture.CreateModelConfig());
        StateDictIO.Load(target, path);
        var expected = source.state_dict();
        foreach (var (name, p) in target.state_dict())
            Assert.True(p.equal(expected[name]).all().item<bool>(), name);
        using var ids = randint(0, 512, new long[] { 2, 64 });
        source.eval();
        target.eval();
        Assert.True(source.forward(ids).equal(target.forward(ids)).all().item<bool>());
    }

    [Fact]
    public void HeadMayBeAbsentBecauseItIsTied()
    {
        using var model = Model();
        var tensors = StateDictIO.StateDict(model).Where(kv => kv.Key != StateDictIO.TiedHeadName).ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());
        StateDictIO.Load(model, tensors, "test");
    }

    [Fact]
    public void MissingTensorIsNamed() =>
        AssertLoadFails(t => t.Remove("backbone.ln_f.bias"), "missing backbone.ln_f.bias");

    [Fact]
    public void UnexpectedTensorIsNamed() =>
        AssertLoadFails(t => t["backbone.layers.2.norm1.weight"] = ones(48), "unexpected backbone.layers.2.norm1.weight");

    [Fact]
    public void WrongShapeIsNamedWithBothShapes() =>
        AssertLoadFails(t => t["backbone.layers.1.sequence_mixer.mixer.ln_q.weight"] = ones(16),
            "backbone.layers.1.sequence_mixer.mixer.ln_q.weight has shape [16], the model needs [192]");

    [Fact]
    public void IntegerTensorIsRejected() =>
        AssertLoadFails(t => t["backbone.ln_f.weight"] = ones(48, dtype: ScalarType.Int64), "backbone.ln_f.weight has dtype Int64");

    [Fact]
    public void UntiedHeadIsRejected() =>
        AssertLoadFails(t => t[StateDictIO.TiedHeadName] = t[StateDictIO.TiedHeadName] + 1, "lm_head.weight differs from backbone.embeddings.word_embeddings.weight");

    [Fact]
    public void EveryProblemIsListedInOneLine()
    {
        using var model = Model();
        var tensors = Tensors(model);
        tensors.Remove("backbone.ln_f.bias");
        tensors["extra"] = ones(1);
        var e = Assert.Throws<UserError>(() => StateDictIO.Load(model, tensors, "ckpt.safetensors"));
        Assert.Equal("ckpt.safetensors: state dict does not match the model: missing backbone.ln_f.bias; unexpected extra", e.Message);
    }

    private static void AssertLoadFails(Action<Dictionary<string, Tensor>> corrupt, string expected)
    {
        using var model = Model();
        var tensors = Tensors(model);
        corrupt(tensors);
        var e = Assert.Throws<UserError>(() => StateDictIO.Load(model, tensors, "ckpt.safetensors"));
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    private static LanguageModel Model() => new(ParityFixture.Load(TestModels.FixtureDir("rebased")).CreateModelConfig());

    private static Dictionary<string, Tensor> Tensors(LanguageModel model) =>
        StateDictIO.StateDict(model).ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());
}
