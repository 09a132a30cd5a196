using Rebased.Models;

namespace Rebased.Tests.Models;

public class LanguageModelTests
{
    public LanguageModelTests() => TorchRuntime.EnsureLoaded();

    [Fact]
    public void LogitsOfGatheredHiddenStatesEqualTheFullForward()
    {
        using var scope = NewDisposeScope();
        using var model = new LanguageModel(TestModels.Config("rebased", dModel: 48, seqLen: 32));
        model.eval();
        var ids = randint(0, 64, new long[] { 3, 32 });
        var logits = model.forward(ids);
        var hidden = model.Hidden(ids);
        Assert.Equal(new long[] { 3, 32, 48 }, hidden.shape);
        Assert.True(model.Logits(hidden).equal(logits).all().item<bool>());
        var rows = hidden.reshape(-1, 48).index_select(0, tensor(new long[] { 5, 40, 95 }));
        Assert.True(model.Logits(rows).allclose(logits.reshape(-1, 64).index_select(0, tensor(new long[] { 5, 40, 95 })), 0, 1e-6));
    }

    /// <summary>
    /// The residual stream written out by hand for two attention blocks: with the Identity state mixer each block
    /// returns LN2(r), which the next block (and the final LayerNorm) adds to the residual.
    /// </summary>
    [Fact]
    public void BackboneFollowsTheReferenceResidualStream()
    {
        using var scope = NewDisposeScope();
        using var model = new LanguageModel(TestModels.Config("attention", dModel: 32, seqLen: 16));
        model.to(ScalarType.Float64);
        model.eval();
        var p = model.named_parameters().ToDictionary(np => np.name, np => (Tensor)np.parameter);
        using var noGrad = no_grad();
        foreach (var (name, t) in p.Where(kv => kv.Key.Contains("norm") || kv.Key.Contains("ln_f"))) t.copy_(randn_like(t));
        Tensor Ln(Tensor x, string prefix) => nn.functional.layer_norm(x, new long[] { 32 }, p[$"{prefix}.weight"], p[$"{prefix}.bias"], 1e-5);
        var ids = randint(0, 64, new long[] { 2, 16 });

        var r = p["backbone.embeddings.word_embeddings.weight"].index_select(0, ids.flatten()).view(2, 16, 32) + p["backbone.embeddings.position_embeddings.weight"];
        Tensor h = r;
        for (int i = 0; i < 2; i++)
        {
            var block = (TransformerBlock)model.Backbone.Layers[i];
            if (i > 0) r = h + r;
            h = block.SequenceMixer.forward(Ln(r, $"backbone.layers.{i}.norm1"));
            r = h + r;
            h = Ln(r, $"backbone.layers.{i}.norm2");
        }
        var expected = Ln(h + r, "backbone.ln_f");
        Assert.True(model.Hidden(ids).allclose(expected, 0, 1e-12));
    }

    [Fact]
    public void LongerInputThanThePositionTableIsAnError()
    {
        using var model = new LanguageModel(TestModels.Config("based", dModel: 48, seqLen: 32));
        using var ids = zeros(1, 33, dtype: ScalarType.Int64);
        var e = Assert.Throws<UserError>(() => model.forward(ids));
        Assert.Equal("sequence length 33 exceeds max_position_embeddings 32", e.Message);
    }

    [Fact]
    public void EmbeddingDropoutActsOnlyInTraining()
    {
        using var scope = NewDisposeScope();
        using var model = new LanguageModel(TestModels.Config("based", dModel: 48, seqLen: 32));
        var ids = randint(0, 64, new long[] { 2, 32 });
        model.eval();
        Assert.True(model.forward(ids).equal(model.forward(ids)).all().item<bool>());
        model.train();
        Assert.False(model.forward(ids).equal(model.forward(ids)).all().item<bool>());
    }

    [Fact]
    public void VocabularyIsPaddedToTheMultiple()
    {
        var config = TestModels.Config("based", dModel: 48, seqLen: 32, vocab: 100);
        config.PadVocabSizeMultiple = 64;
        using var model = new LanguageModel(config);
        Assert.Equal(128, model.VocabSize);
        Assert.Equal(new long[] { 128, 48 }, model.TokenEmbedding.shape);
    }
}
