using Rebased.Configs;
using Rebased.Mixers;
using Rebased.Training;

namespace Rebased.Tests.Mixers;

/// <summary>Checks shared by the tests of the mixers that have no reference fixture (DeltaNet, GLA).</summary>
internal static class RecurrentMixerChecks
{
    /// <summary>Four CPU epochs of the real trainer on a tiny MQAR set lower the train loss by more than 0.1, and the valid loss.</summary>
    public static void AssertTinyTrainingReducesTheLoss(string mixer)
    {
        var yaml = $"model:\n  sequence_mixer:\n    name: {mixer}\n  d_model: 32\n  vocab_size: 64\n" +
                   "data:\n  vocab_size: 64\n  input_seq_len: 16\n  batch_size: 32\n  num_train_examples: 256\n  num_test_examples: 64\n  caching: false\n" +
                   "max_epochs: 4\nlearning_rate: 0.003\nseed: 5\nrun_id: tiny\n";
        var config = ConfigResolver.Resolve(ConfigLoader.Parse(yaml, "tiny.yaml")).Config;
        var run = RunDirectory.Create(config, Path.Combine(Path.GetTempPath(), "rebased-tests", Guid.NewGuid().ToString("N")));
        using var setup = TrainingSetup.Create(config, CPU);
        setup.NewTrainer(run, new TrainerOptions()).Run(resume: false);
        var metrics = run.ReadMetrics();
        Assert.Equal(4, metrics.Count);
        Assert.True(metrics[^1].TrainLoss < metrics[0].TrainLoss - 0.1, $"train loss {metrics[0].TrainLoss} -> {metrics[^1].TrainLoss}");
        Assert.True(metrics[^1].ValidLoss < metrics[0].ValidLoss, $"valid loss {metrics[0].ValidLoss} -> {metrics[^1].ValidLoss}");
    }

    /// <summary>The mixer built with one kwarg set to <paramref name="value"/> is refused by a user error containing <paramref name="message"/>.</summary>
    public static void AssertBadKwargRefused(string mixer, string key, object value, string message)
    {
        var config = new ComponentConfig { Name = mixer, Kwargs = new() { [key] = value } };
        Assert.Contains(message, Assert.Throws<UserError>(() => MixerFactory.Create(config, 64, 0)).Message);
    }
}
