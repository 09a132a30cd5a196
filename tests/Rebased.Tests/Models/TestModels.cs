using Rebased.Configs;

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
}
