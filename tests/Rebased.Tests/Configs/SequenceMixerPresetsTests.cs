using Rebased.Configs;
using Rebased.IO;
using Rebased.Models;
using Rebased.Tests.Models;

namespace Rebased.Tests.Configs;

public class SequenceMixerPresetsTests
{
    public SequenceMixerPresetsTests() => TorchRuntime.EnsureLoaded();

    private static RunConfig Run(string mixer, int seqLen, int batch = 512)
    {
        var run = new RunConfig();
        run.Model.SequenceMixer = new ComponentConfig { Name = mixer };
        run.Data.InputSeqLen = seqLen;
        run.Data.BatchSize = batch;
        return SequenceMixerPresets.Apply(run);
    }

    [Theory]
    [InlineData("rebased", 256)]
    [InlineData("based", 128)]
    [InlineData("conv_attention", 256)]
    [InlineData("rebased_gamma", 512)]
    [InlineData("rebased_x2", 128)]
    [InlineData("mamba", 64)]
    [InlineData("gla", 128)]
    public void TheShortNameIsFoundAgainFromARunDirectorysConfig(string mixer, int seqLen)
    {
        var dir = Directory.CreateTempSubdirectory("preset").FullName;
        try
        {
            var path = Path.Combine(dir, "config.yaml");
            File.WriteAllText(path, ConfigWriter.ToYaml(Run(mixer, seqLen)));
            var loaded = ConfigResolver.Resolve(ConfigLoader.Load(path)).Config;
            Assert.Equal(mixer, SequenceMixerPresets.NameOf(loaded.Model, loaded.Data.InputSeqLen));
            loaded.Model.SequenceMixer.Kwargs["hand_written"] = 1L;
            Assert.Null(SequenceMixerPresets.NameOf(loaded.Model, loaded.Data.InputSeqLen));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void RebasedExpandsToBaseConvThenReBased()
    {
        var run = Run("rebased", 128);
        var model = run.Model;
        Assert.Equal(("src.mixers.hybrid.Hybrid", 12, 128, "TransformerBlock"), (model.SequenceMixer.Name, model.NumHeads, model.MaxPositionEmbeddings, model.BlockType));
        var configs = new Rebased.Mixers.MixerKwargs("Hybrid", model.SequenceMixer.Kwargs).Configs("configs");
        Assert.Equal("src.mixers.base_conv.BaseConv", configs[0].Name);
        Assert.Equal(3L, configs[0].Kwargs["kernel_size"]);
        Assert.Equal("src.mixers.rebased.ReBased", configs[1].Name);
        Assert.Equal(16L, configs[1].Kwargs["feature_dim"]);
        Assert.Equal(12L, configs[1].Kwargs["num_heads"]);
        Assert.Equal(true, configs[1].Kwargs["normalize"]);
        Assert.Equal(16, run.Data.Builder.Kwargs["num_kv_pairs"]);
    }

    [Theory]
    [InlineData(128, 16, 512, 1)]
    [InlineData(256, 64, 512, 1)]
    [InlineData(512, 128, 256, 2)]
    [InlineData(1024, 256, 128, 4)]
    [InlineData(2048, 512, 64, 8)]
    public void SequenceLengthSetsKeyValuePairsAndMicroBatches(int seqLen, int kvPairs, int microBatch, int accumulation)
    {
        var run = Run("based", seqLen);
        Assert.Equal(kvPairs, run.Data.Builder.Kwargs["num_kv_pairs"]);
        Assert.Equal((microBatch, accumulation), (run.Data.BatchSize, run.GradientAccumulationSteps));
        Assert.Equal(seqLen, run.Model.MaxPositionEmbeddings);
        SequenceMixerPresets.Apply(run);
        Assert.Equal((microBatch, accumulation), (run.Data.BatchSize, run.GradientAccumulationSteps));
    }

    [Fact]
    public void KvPairsRuleOffKeepsTheGivenPairs()
    {
        var run = new RunConfig();
        run.Model.SequenceMixer = new ComponentConfig { Name = "rebased" };
        run.Data.InputSeqLen = 2048;
        run.Data.Builder.Kwargs["num_kv_pairs"] = 32;
        run.Data.KvPairsRule = false;
        SequenceMixerPresets.Apply(run);
        Assert.Equal(32, run.Data.Builder.Kwargs["num_kv_pairs"]);
        run.Data.KvPairsRule = true;
        SequenceMixerPresets.Apply(run);
        Assert.Equal(512, run.Data.Builder.Kwargs["num_kv_pairs"]);
    }

    [Theory]
    [InlineData("attention", "src.mixers.attention.MHA", 1, "TransformerBlock")]
    [InlineData("conv_attention", "src.mixers.hybrid.Hybrid", 1, "TransformerBlock")]
    [InlineData("based", "src.mixers.hybrid.Hybrid", 12, "TransformerBlock")]
    [InlineData("rwkv", "src.mixers.rwkv.RWKVTimeMixer", 1, "TransformerBlock")]
    [InlineData("mamba", "src.mixers.mamba.Mamba", 12, "MambaBlock")]
    public void EachPresetSetsHeadsAndBlock(string mixer, string name, int heads, string block)
    {
        var model = Run(mixer, 256).Model;
        Assert.Equal((name, heads, block), (model.SequenceMixer.Name, model.NumHeads, model.BlockType));
    }

    [Theory]
    [InlineData("rebased_x2", false, false, false)]
    [InlineData("rebased_gamma", true, false, false)]
    [InlineData("rebased_gamma_beta", true, true, false)]
    [InlineData("rebased_norm", false, false, true)]
    [InlineData("rebased", true, true, true)]
    public void AblationNamesSetTheFlags(string mixer, bool gamma, bool beta, bool normalize)
    {
        var model = Run(mixer, 256).Model;
        Assert.Equal((gamma, beta, normalize), (model.UseGamma, model.UseBeta, model.Normalize));
        var configs = new Rebased.Mixers.MixerKwargs("Hybrid", model.SequenceMixer.Kwargs).Configs("configs");
        Assert.Equal((gamma, beta, normalize), ((bool)configs[1].Kwargs["use_gamma"]!, (bool)configs[1].Kwargs["use_beta"]!, (bool)configs[1].Kwargs["normalize"]!));
    }

    [Fact]
    public void AttentionKeepsUserKwargsAndBasedKeepsOnlyTheAttentionForm()
    {
        var run = new RunConfig();
        run.Model.SequenceMixer = new ComponentConfig { Name = "attention", Kwargs = new() { ["dropout"] = 0.2 } };
        Assert.Equal(0.2, SequenceMixerPresets.Apply(run).Model.SequenceMixer.Kwargs["dropout"]);
        run.Model.SequenceMixer = new ComponentConfig { Name = "based", Kwargs = new() { ["attention_form"] = "naive", ["dropout"] = 0.2 } };
        var based = new Rebased.Mixers.MixerKwargs("Hybrid", SequenceMixerPresets.Apply(run).Model.SequenceMixer.Kwargs).Configs("configs")[1];
        Assert.Equal("naive", based.Kwargs["attention_form"]);
        Assert.False(based.Kwargs.ContainsKey("dropout"));
    }

    /// <summary>A preset built at the fixtures' size has exactly the reference model's state dict: names in the same order, shapes.</summary>
    [Theory]
    [InlineData("attention")]
    [InlineData("conv_attention")]
    [InlineData("based")]
    [InlineData("rebased")]
    public void PresetModelHasTheReferenceStateDict(string mixer)
    {
        using var model = new LanguageModel(TestModels.Config(mixer, dModel: 48, seqLen: 64, vocab: 512));
        var fixture = ParityFixture.Load(TestModels.FixtureDir(mixer));
        var listed = fixture.Manifest["files"]!["model.safetensors"]!.AsObject().Select(kv => kv.Key).ToList();
        var ours = StateDictIO.StateDict(model);
        Assert.Equal(listed, ours.Keys);
        foreach (var (name, t) in SafeTensors.Load(fixture.PathOf("model.safetensors"))) Assert.Equal(t.shape, ours[name].shape);
    }
}
