using Rebased.Configs;
using Rebased.IO;

namespace Rebased.Tests.Models;

/// <summary>Model configs built the way a run builds them: a short mixer name expanded by the presets.</summary>
internal static class TestModels
{
    public static ModelConfig Config(string mixer, int dModel, int seqLen, int vocab = 64, Dictionary<string, object?>? kwargs = null)
    {
        var run = new RunConfig();
        run.Model.SequenceMixer = new ComponentConfig { Name = mixer, Kwargs = kwargs ?? new() };
        run.Model.DModel = dModel;
        run.Model.VocabSize = vocab;
        run.Data.InputSeqLen = seqLen;
        run.Data.VocabSize = vocab;
        return SequenceMixerPresets.Apply(run).Model;
    }

    public static string FixtureDir(string mixer) => Path.Combine(AppContext.BaseDirectory, "TestData", "models", mixer);

    /// <summary>The module's parameters have the names and shapes of the fixture's weights under <paramref name="prefix"/>, and no others.</summary>
    public static void AssertParametersAreTheFixtures(nn.Module module, string mixer, string prefix)
    {
        var reference = SafeTensors.Load(Path.Combine(FixtureDir(mixer), "model.safetensors"));
        var ours = module.named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);
        var theirs = reference.Where(kv => kv.Key.StartsWith(prefix)).ToDictionary(kv => kv.Key[prefix.Length..], kv => kv.Value.shape);
        Assert.Equal(theirs.Keys.Order(), ours.Keys.Order());
        foreach (var (name, shape) in theirs) Assert.Equal(shape, ours[name]);
    }
}
