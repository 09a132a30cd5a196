using Rebased.Configs;
using Rebased.Experiments;

namespace Rebased.Tests.Experiments;

public class SweepDefinitionTests : SweepKitTests
{
    // The reference's configs/main_fig_sweep.yaml, verbatim in structure (its base config is named relative to
    // the repository root: configs/config_mqar.yaml).
    const string ReferenceSweep = """
        program: src/train.py
        command:
          - python3
          - ${program}
          - --config_path
          - configs/config_mqar.yaml
          - ${args}
        method: grid
        name: main_fig
        metric:
          name: valid/accuracy
          goal: maximize
        parameters:
          learning_rate:
            values: [5e-4, 1e-3, 3e-3, 1e-2]
          model.sequence_mixer.name:
            values: [rebased, based, rwkv, mamba, conv_attention]
          seed:
            values: [42, 43, 44, 45, 46]
          model.d_model:
            values: [64, 128, 256, 512]
          data.input_seq_len:
            values: [128, 256, 512, 1024, 2048]
          data.batch_size:
            value: 512
        """;

    string WriteReferenceLayout()
    {
        var configs = Directory.CreateDirectory(Path.Combine(Kit.Dir, "configs")).FullName;
        File.WriteAllText(Path.Combine(configs, "config_mqar.yaml"), """
            data:
              input_seq_len: 64
              batch_size: 32
              builder:
                name: zoology.data.associative_recall.multiquery_ar
                kwargs: {num_kv_pairs: 4, random_non_queries: False}
            model:
              d_model: 128
              sequence_mixer: {name: rebased}
            max_epochs: 64
            learning_rate: 1e-3
            run_id: mqar_sweep
            """);
        var path = Path.Combine(configs, "main_fig_sweep.yaml");
        File.WriteAllText(path, ReferenceSweep);
        return path;
    }

    [Fact]
    public void ReferenceSweepExpandsToTheFullGridInFileOrder()
    {
        var sweep = SweepDefinition.Load(WriteReferenceLayout());
        Assert.Equal("main_fig", sweep.Name);
        Assert.Equal(Path.Combine(Kit.Dir, "configs", "config_mqar.yaml"), sweep.BaseConfigPath);
        var runs = sweep.Expand();
        Assert.Equal(4 * 5 * 5 * 4 * 5, runs.Count);
        Assert.Equal(runs.Count, runs.Select(r => r.Hash).Distinct().Count());

        // First parameter varies slowest, the last one fastest.
        Assert.Equal([0.0005, 0.0005], runs.Take(2).Select(r => (double)r.Config.Get("learning_rate")!));
        Assert.Equal([128L, 256L], runs.Take(2).Select(r => (long)r.Config.Get("data.input_seq_len")!));
        var last = runs[^1].Config;
        Assert.Equal(0.01, last.Get("learning_rate"));
        Assert.Equal("conv_attention", last.Get("model.sequence_mixer.name"));
        Assert.Equal(46L, last.Get("seed"));
        Assert.Equal(512L, last.Get("model.d_model"));
        Assert.Equal(2048L, last.Get("data.input_seq_len"));
        // `value:` applies to every run; the rest of the base config is kept.
        Assert.All(runs, r => Assert.Equal(512L, r.Config.Get("data.batch_size")));
        Assert.Equal(64L, last.Get("max_epochs"));
        Assert.Equal(false, last.Get("data.builder.kwargs.random_non_queries"));
        Assert.Equal(4L, last.Get("data.builder.kwargs.num_kv_pairs"));
        Assert.Equal(
            ["learning_rate", "model.sequence_mixer.name", "seed", "model.d_model", "data.input_seq_len", "data.batch_size"],
            runs[0].Overrides.Select(o => o.Key));
    }

    [Fact]
    public void HashIsTheCanonicalConfigNotItsSpelling()
    {
        var a = ConfigTree.FromYaml("learning_rate: 1e-3\nmodel: {d_model: 64, name: x}\nseed: 42\n", "a");
        var b = ConfigTree.FromYaml("seed: 42\nmodel:\n  name: x\n  d_model: 64.0\nlearning_rate: 0.001\n", "b");
        var c = ConfigTree.FromYaml("seed: 43\nmodel:\n  name: x\n  d_model: 64\nlearning_rate: 0.001\n", "c");
        Assert.Equal(a.CanonicalJson(), b.CanonicalJson());
        Assert.Equal("""{"learning_rate":0.001,"model":{"d_model":64,"name":"x"},"seed":42}""", a.CanonicalJson());
        Assert.Equal(a.Hash(), b.Hash());
        Assert.NotEqual(a.Hash(), c.Hash());
        Assert.Matches("^[0-9a-f]{16}$", a.Hash());
        // A quoted number stays a string, and so changes the identity.
        Assert.NotEqual(a.Hash(), ConfigTree.FromYaml("learning_rate: '1e-3'\nmodel: {d_model: 64, name: x}\nseed: 42\n", "d").Hash());
    }

    [Fact]
    public void TheSweepTreeAndTheTrainerTypeScalarsByOneRule()
    {
        const string values = "{flag: yes, off_flag: Off, none: None, tilde: ~, big: 1_000, lr: 5e-4, text: '5e-4', word: rebased, inf: .inf}";
        var yaml = $"model:\n  sequence_mixer:\n    name: rebased\n    kwargs: {values}\n";
        var trainer = ConfigLoader.Parse(yaml, "t").Config.Model.SequenceMixer.Kwargs;
        var tree = (SortedDictionary<string, object?>)ConfigTree.FromYaml(yaml, "t").Get("model.sequence_mixer.kwargs")!;
        var expected = new Dictionary<string, object?>
        {
            ["flag"] = true, ["off_flag"] = false, ["none"] = null, ["tilde"] = null, ["big"] = 1000L, ["lr"] = 5e-4,
            ["text"] = "5e-4", ["word"] = "rebased", ["inf"] = double.PositiveInfinity,
        };
        Assert.Equal(expected.Keys.Order(), tree.Keys.Order());
        foreach (var (key, value) in expected)
        {
            Assert.Equal(value, tree[key]);
            Assert.Equal(value, trainer[key] is int i ? (long)i : trainer[key]);
        }
        // yes is the boolean true in the run's identity too, not the string "yes".
        Assert.Equal(ConfigTree.FromYaml("a: yes\n", "y").Hash(), ConfigTree.FromYaml("a: true\n", "t").Hash());
    }

    [Fact]
    public void BaseKeyMayBeAPathOrInlineAndDuplicatePointsCollapse()
    {
        var byPath = Path.Combine(Kit.Dir, "by_path.yaml");
        File.WriteAllText(byPath, "base: base.yaml\nparameters:\n  seed: {values: [1, 2]}\n  model.d_model: {values: [16, 16]}\n");
        var sweep = SweepDefinition.Load(byPath);
        Assert.Equal("by_path", sweep.Name);
        var runs = sweep.Expand();
        Assert.Equal(2, runs.Count);
        Assert.Equal("attention", runs[0].Config.Get("model.sequence_mixer.name")); // from the kit's base.yaml

        var inline = Path.Combine(Kit.Dir, "inline.yaml");
        File.WriteAllText(inline, "name: tiny\nbase:\n  model: {d_model: 8}\n  learning_rate: 0.1\nparameters:\n  model.n_layers: {value: 1}\n");
        var tiny = SweepDefinition.Load(inline);
        Assert.Null(tiny.BaseConfigPath);
        var only = Assert.Single(tiny.Expand());
        Assert.Equal("""{"learning_rate":0.1,"model":{"d_model":8,"n_layers":1}}""", only.Config.CanonicalJson());
    }

    [Theory]
    [InlineData("method: random\nbase: base.yaml\nparameters: {}\n", "method 'random' is not supported")]
    [InlineData("parameters:\n  seed: {values: [1]}\n", "no base config")]
    [InlineData("base: missing.yaml\n", "base config 'missing.yaml' not found")]
    [InlineData("base: base.yaml\nparameters:\n  seed: {min: 1, max: 3}\n", "parameter 'seed' has neither `values` nor `value`")]
    [InlineData("base: base.yaml\nparameters:\n  seed: {values: []}\n", "`values` must be a non-empty list")]
    [InlineData("base: base.yaml\nparameters:\n  learning_rate.x: {value: 1}\n", "'learning_rate' is a value, not a section")]
    public void BadSweepFilesGetAnErrorNamingTheProblem(string yaml, string expected)
    {
        var path = Path.Combine(Kit.Dir, "bad.yaml");
        File.WriteAllText(path, yaml);
        var e = Assert.Throws<UserError>(() => SweepDefinition.Load(path).Expand());
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void TrainerGetsBaseConfigOverridesDeviceRunDirAndResume()
    {
        var sweep = SweepDefinition.Load(Kit.WriteSweep("cmd", "  learning_rate: {values: [3e-3]}\n  model.sequence_mixer.name: {value: based}"));
        var record = SweepPlan.Records(sweep, sweep.Expand(), Path.Combine(Kit.Dir, "runs"), writeFiles: false)[0];
        var trainer = new TrainerCommand(["rebased", "train"]);
        Assert.Equal(["train", "--config", Path.Combine(Kit.Dir, "base.yaml"), "--set", "learning_rate=0.003",
            "--set", "model.sequence_mixer.name=based", "--device", "cuda:1", "--run-dir", record.RunDir], trainer.Arguments(record, "cuda:1", resume: false));
        // A resume continues from the run directory, which holds the resolved config.
        Assert.Equal(["train", "--device", "cuda:1", "--resume", record.RunDir], trainer.Arguments(record, "cuda:1", resume: true));
        Assert.Equal(["train", "--resume", record.RunDir], trainer.Arguments(record, null, resume: true));
        Assert.Equal(Path.Combine(Kit.Dir, "runs", record.ConfigHash), record.RunDir);
    }
}
