using Rebased.Configs;
using Rebased.IO;
using Rebased.Models;
using Rebased.Training;
using static Rebased.Tests.Training.TrainingTestKit;

namespace Rebased.Tests.Training;

/// <summary>The loop on the real MQAR data and language model, at a tiny size.</summary>
[Collection(GlobalRngCollection.Name)]
public class MqarTrainingTests
{
    public MqarTrainingTests() => TorchRuntime.EnsureLoaded();

    private static RunConfig TinyMqar(params string[] overrides)
    {
        var yaml = "model:\n  sequence_mixer:\n    name: rebased\n  d_model: 24\n  vocab_size: 64\n" +
                   "data:\n  vocab_size: 64\n  input_seq_len: 16\n  batch_size: 32\n  num_train_examples: 192\n  num_test_examples: 64\n  caching: false\n" +
                   "max_epochs: 2\nlearning_rate: 0.003\nseed: 11\nrun_id: tiny\n";
        return ConfigResolver.Resolve(ConfigLoader.Parse(yaml, "tiny.yaml", overrides)).Config;
    }

    private static RunSummary Train(RunConfig config, RunDirectory run, bool resume, TrainerOptions? options = null)
    {
        using var setup = TrainingSetup.Create(config, CPU);
        return setup.NewTrainer(run, options ?? new TrainerOptions()).Run(resume);
    }

    [Fact]
    public void SupervisedLossOnTheReferenceFixtureEqualsTheReferenceLoss()
    {
        var fixture = ParityFixture.Load(Path.Combine(AppContext.BaseDirectory, "TestData", "models", "rebased"));
        using var model = new LanguageModel(fixture.CreateModelConfig());
        StateDictIO.Load(model, fixture.PathOf("model.safetensors"));
        model.eval();
        var batch = SafeTensors.Load(fixture.PathOf("batch.safetensors"));
        var labels = batch["labels"].flatten();
        var supervised = labels.ne(-100).nonzero().flatten();
        var trainingModel = new TrainingModel(model, model.Hidden, model.TokenEmbedding);
        var logits = SupervisedLoss.SupervisedLogits(trainingModel, new SupervisedBatch(batch["input_ids"], supervised, labels.index_select(0, supervised)));
        var loss = SupervisedLoss.Loss(logits, labels.index_select(0, supervised)).item<float>();
        float reference = SafeTensors.Load(fixture.PathOf("outputs.safetensors"))["loss"].item<float>();
        Assert.Equal(16, logits.shape[0]);
        Assert.Equal(reference, loss, 5);
    }

    [Fact]
    public void TwoRunsWithTheSameSeedGiveIdenticalMetricsAndResumeMatches()
    {
        var config = TinyMqar();
        var a = RunDirectory.Create(config, TempDir());
        var b = RunDirectory.Create(config, TempDir());
        var summary = Train(config, a, resume: false);
        Train(config, b, resume: false);
        Assert.Equal(2, a.ReadMetrics().Count);
        Assert.Equal(Comparable(a.ReadMetrics()), Comparable(b.ReadMetrics()));
        Assert.Equal(12, summary.Steps);
        Assert.Equal(new LanguageModel(config.Model).parameters().Sum(p => p.numel()), summary.ParameterCount);

        var parted = RunDirectory.Create(config, TempDir());
        using var cts = new CancellationTokenSource();
        var first = Train(config, parted, resume: false, new TrainerOptions
        {
            ProgressInterval = 1, Cancellation = cts.Token,
            OnProgress = p => { if (p.Step == 8) cts.Cancel(); },
        });
        Assert.Equal(StopReasons.Interrupted, first.StopReason);
        var (reopened, saved) = RunDirectory.Open(parted.Path);
        Assert.Equal(ConfigWriter.ToYaml(config), ConfigWriter.ToYaml(saved));
        var resumed = Train(saved, reopened, resume: true);
        Assert.Equal(Comparable(a.ReadMetrics()), Comparable(parted.ReadMetrics()));
        Assert.Equal(summary.BestAccuracy, resumed.BestAccuracy);
    }
}
