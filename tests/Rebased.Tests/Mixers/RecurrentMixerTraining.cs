using Rebased.Configs;
using Rebased.Training;

namespace Rebased.Tests.Mixers;

/// <summary>A few CPU epochs of the real trainer on a tiny MQAR set, for the mixers that have no reference fixture.</summary>
internal static class RecurrentMixerTraining
{
    public static IReadOnlyList<EpochMetrics> TrainTiny(string mixer)
    {
        var yaml = $"model:\n  sequence_mixer:\n    name: {mixer}\n  d_model: 32\n  vocab_size: 64\n" +
                   "data:\n  vocab_size: 64\n  input_seq_len: 16\n  batch_size: 32\n  num_train_examples: 256\n  num_test_examples: 64\n  caching: false\n" +
                   "max_epochs: 4\nlearning_rate: 0.003\nseed: 5\nrun_id: tiny\n";
        var config = ConfigResolver.Resolve(ConfigLoader.Parse(yaml, "tiny.yaml")).Config;
        var run = RunDirectory.Create(config, Path.Combine(Path.GetTempPath(), "rebased-tests", Guid.NewGuid().ToString("N")));
        using var setup = TrainingSetup.Create(config, CPU);
        setup.NewTrainer(run, new TrainerOptions()).Run(resume: false);
        return run.ReadMetrics();
    }
}
