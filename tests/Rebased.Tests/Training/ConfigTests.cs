using Rebased.Configs;

namespace Rebased.Tests.Training;

public class ConfigTests
{
    internal static string RepoFile(params string[] parts)
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Rebased.slnx"))) dir = dir.Parent;
        Assert.NotNull(dir);
        return Path.Combine(new[] { dir!.FullName }.Concat(parts).ToArray());
    }

    private static LoadedConfig Resolve(string yaml, params string[] overrides) =>
        ConfigResolver.Resolve(ConfigLoader.Parse(yaml, "test.yaml", overrides));

    private const string Minimal = "model:\n  sequence_mixer:\n    name: rebased\n";

    [Fact]
    public void SimpleMqarLoadsWithTheReferenceValuesAndPresets()
    {
        var path = RepoFile("configs", "simple_mqar.yaml");
        var loaded = ConfigLoader.Load(path);
        var c = loaded.Config;
        Assert.Equal(48, c.Data.InputSeqLen);
        Assert.Equal(512, c.Data.BatchSize);
        Assert.Equal(12, Convert.ToInt32(c.Data.Builder.Kwargs["num_kv_pairs"]));
        Assert.Equal(0.01, c.Data.Builder.Kwargs["train_power_a"]);
        Assert.Equal(false, c.Data.Builder.Kwargs["random_non_queries"]);
        Assert.Equal("rebased", c.Model.SequenceMixer.Name);
        Assert.Equal(32, c.Model.DModel);
        Assert.Equal(2, c.Model.NumHeads);
        Assert.Equal(0.003, c.LearningRate);
        Assert.Equal(44, c.Seed);
        Assert.Equal(64, c.MaxEpochs);
        Assert.Equal("mqar_rebased", c.RunId);
        Assert.Contains(loaded.Notes, n => n.StartsWith("logger:"));
        Assert.Contains(loaded.Notes, n => n.StartsWith("tags:"));

        var resolved = ConfigResolver.Resolve(loaded).Config;
        Assert.Equal(12, resolved.Model.NumHeads);
        Assert.Equal(48, resolved.Model.MaxPositionEmbeddings);
        Assert.Equal(512, resolved.Data.BatchSize);
        Assert.Equal(1, resolved.GradientAccumulationSteps);
    }

    [Fact]
    public void OverridesAreTypedByTheTargetAndApplyTheReferenceRules()
    {
        var c = ConfigResolver.Resolve(ConfigLoader.Load(RepoFile("configs", "config_mqar.yaml"), new[]
        {
            "learning_rate=1e-2", "model.sequence_mixer.name=attention", "model.d_model=64",
            "data.input_seq_len=1024", "data.batch_size=512", "seed=45", "logger.entity=someone",
        })).Config;
        Assert.Equal(0.01, c.LearningRate);
        Assert.Equal(45, c.Seed);
        Assert.Equal(64, c.Model.DModel);
        Assert.Equal(1, c.Model.NumHeads);
        Assert.Equal(1024, c.Model.MaxPositionEmbeddings);
        Assert.Equal(256, Convert.ToInt32(c.Data.Builder.Kwargs["num_kv_pairs"]));
        Assert.Equal(128, c.Data.BatchSize);
        Assert.Equal(4, c.GradientAccumulationSteps);
        Assert.Equal(0.01, c.Data.Builder.Kwargs["test_power_a"]);

        var k128 = Resolve(Minimal, "data.input_seq_len=128").Config;
        Assert.Equal(16, Convert.ToInt32(k128.Data.Builder.Kwargs["num_kv_pairs"]));
    }

    [Theory]
    [InlineData("model:\n  dmodel: 3\n", "unknown key 'model.dmodel'; did you mean model.d_model? (known keys here: sequence_mixer, ")]
    [InlineData("model:\n  d_model: 3000000000\n", "'model.d_model' 3000000000 is out of range: expected an integer from -2147483648 to 2147483647")]
    [InlineData("seed: 99999999999999999999\n", "'seed' 99999999999999999999 is out of range: expected an integer from -9223372036854775808 to 9223372036854775807")]
    [InlineData("model:\n  d_model: wide\n", "'model.d_model' expects an integer, got 'wide'")]
    [InlineData("learning_rate: fast\n", "'learning_rate' expects a number")]
    [InlineData("data: 5\n", "'data' must be a section")]
    [InlineData("model:\n  sequence_mixer:\n    name: hyena\n", "model.sequence_mixer.name: unknown mixer 'hyena'")]
    [InlineData("model:\n  d_model: 64\n", "model.sequence_mixer.name: missing")]
    [InlineData(Minimal + "data:\n  input_seq_len: 47\n", "data.input_seq_len: must be a positive even number")]
    [InlineData(Minimal + "data:\n  vocab_size: 40\n  input_seq_len: 48\n", "data.vocab_size: must exceed data.input_seq_len")]
    [InlineData(Minimal + "data:\n  builder:\n    kwargs:\n      num_passes: 2\n", "data.builder.kwargs.num_passes: unknown argument")]
    [InlineData(Minimal + "data:\n  builder:\n    kwargs:\n      random_non_queries: maybe\n", "data.builder.kwargs.random_non_queries: expects true or false")]
    [InlineData(Minimal + "model:\n  d_model: 8\n", "model.d_model: rebased splits values over 12 heads")]
    [InlineData(Minimal + "early_stopping_metric: valid/loss\n", "early_stopping_metric: only 'valid/accuracy'")]
    [InlineData(Minimal + "device: gpu\n", "device: expects cpu, cuda or cuda:N")]
    [InlineData(Minimal + "data:\n  mode: exact\n", "data.mode: unknown mode 'exact'")]
    [InlineData("model: [1, 2\n", "not valid YAML")]
    public void BadConfigsGiveOneClearErrorNamingKeyAndFile(string yaml, string expected)
    {
        var e = Assert.Throws<UserError>(() => Resolve(yaml.Replace(Minimal + "model:\n", "model:\n  sequence_mixer:\n    name: rebased\n")));
        Assert.Contains(expected, e.Message);
        Assert.StartsWith("test.yaml", e.Message);
    }

    [Fact]
    public void BadOverridesNameTheOverride()
    {
        var e = Assert.Throws<UserError>(() => Resolve(Minimal, "model.d_model=abc"));
        Assert.Equal("--set model.d_model=abc: 'model.d_model' expects an integer, got 'abc'", e.Message);
        e = Assert.Throws<UserError>(() => Resolve(Minimal, "learning_rate"));
        Assert.Contains("--set learning_rate: expected key.path=value", e.Message);
        e = Assert.Throws<UserError>(() => Resolve(Minimal, "model.sequence_mixer.name.x=1"));
        Assert.Contains("'model.sequence_mixer.name' is a value, not a section", e.Message);
        e = Assert.Throws<UserError>(() => Resolve(Minimal, "max_epochs=99999999999"));
        Assert.Equal("--set max_epochs=99999999999: 'max_epochs' 99999999999 is out of range: expected an integer from -2147483648 to 2147483647", e.Message);
        e = Assert.Throws<UserError>(() => Resolve(Minimal, "model.heads=3"));
        Assert.Contains("--set model.heads=3: unknown key 'model.heads'", e.Message);
    }

    [Fact]
    public void ErrorsFromFilesGiveTheLine()
    {
        var e = Assert.Throws<UserError>(() => Resolve("max_epochs: 3\nmodel:\n  sequence_mixer:\n    name: rebased\n  n_layer: 2\n"));
        Assert.StartsWith("test.yaml:5: unknown key 'model.n_layer'", e.Message);
    }

    [Fact]
    public void ResolvedYamlRoundTripsAndHashesStably()
    {
        var first = ConfigResolver.Resolve(ConfigLoader.Load(RepoFile("configs", "simple_mqar.yaml"), new[] { "data.mode=fast" })).Config;
        var yaml = ConfigWriter.ToYaml(first);
        Assert.Contains("d_model: 32", yaml);
        Assert.Contains("learning_rate: 0.003", yaml);
        Assert.Contains("layer_norm_epsilon: 1.0e-05", yaml);
        var again = ConfigResolver.Resolve(ConfigLoader.Parse(yaml, "config.yaml")).Config;
        Assert.Equal(yaml, ConfigWriter.ToYaml(again));
        Assert.Equal(ConfigWriter.ShortHash(first), ConfigWriter.ShortHash(again));
        again.LearningRate = 1e-3;
        Assert.NotEqual(ConfigWriter.ShortHash(first), ConfigWriter.ShortHash(again));
    }

    [Theory]
    [InlineData("None")]
    [InlineData("Yes")]
    [InlineData("OFF")]
    [InlineData("1_000")]
    [InlineData(".inf")]
    [InlineData("3e-4")]
    [InlineData("")]
    public void StringsThatReadAsAnotherTypeAreWrittenQuotedAndReadBackAsStrings(string text)
    {
        var config = ConfigResolver.Resolve(ConfigLoader.Load(RepoFile("configs", "simple_mqar.yaml"))).Config;
        config.Model.SequenceMixer.Kwargs["label"] = text;
        config.RunId = text.Length > 0 ? text : config.RunId;
        var again = ConfigLoader.Parse(ConfigWriter.ToYaml(config), "config.yaml").Config;
        Assert.Equal(text, again.Model.SequenceMixer.Kwargs["label"]);
        Assert.Equal(config.RunId, again.RunId);
    }

    [Fact]
    public void SweepFileKeepsTheReferenceStructure()
    {
        var text = File.ReadAllText(RepoFile("configs", "main_fig_sweep.yaml"));
        var stream = new YamlDotNet.RepresentationModel.YamlStream();
        stream.Load(new StringReader(text));
        var root = (YamlDotNet.RepresentationModel.YamlMappingNode)stream.Documents[0].RootNode;
        Assert.Equal("grid", root["method"].ToString());
        Assert.Equal("--config_path", ((YamlDotNet.RepresentationModel.YamlSequenceNode)root["command"])[2].ToString());
        var parameters = (YamlDotNet.RepresentationModel.YamlMappingNode)root["parameters"];
        int grid = 1;
        foreach (var (key, spec) in parameters.Children)
        {
            var values = ((YamlDotNet.RepresentationModel.YamlMappingNode)spec).Children;
            grid *= values.TryGetValue("values", out var list) ? ((YamlDotNet.RepresentationModel.YamlSequenceNode)list).Children.Count : 1;
            // every swept key is a valid override of the sweep's base config
            var value = values.TryGetValue("values", out var l2) ? ((YamlDotNet.RepresentationModel.YamlSequenceNode)l2)[0].ToString() : values["value"].ToString();
            ConfigLoader.Load(RepoFile("configs", "config_mqar.yaml"), new[] { "model.sequence_mixer.name=based", $"{key}={value}" });
        }
        Assert.Equal(2000, grid);
    }
}
