using Rebased.Configs;
using Rebased.Training;
using TorchSharp.Modules;

namespace Rebased.Tests.Training;

/// <summary>A small recall task and model for exercising the loop's mechanics quickly.</summary>
internal static class TrainingTestKit
{
    /// <summary>Rows of random tokens in [1, V/2); every 4th position is supervised with target token + V/2.</summary>
    internal sealed class ToyBatches : IBatchSource
    {
        private readonly Tensor _inputs;
        private readonly Tensor _labels;
        private readonly int _batchSize;
        private readonly long _seed;

        public ToyBatches(int rows, int seqLen, int vocab, int batchSize, long dataSeed, long shuffleSeed)
        {
            var g = new Generator((ulong)dataSeed);
            _inputs = randint(1, vocab / 2, new long[] { rows, seqLen }, dtype: ScalarType.Int64, generator: g);
            _labels = full(rows, seqLen, -100L, ScalarType.Int64);
            _labels[TensorIndex.Colon, TensorIndex.Slice(0, null, 4)] = _inputs[TensorIndex.Colon, TensorIndex.Slice(0, null, 4)] + vocab / 2;
            _batchSize = batchSize;
            _seed = shuffleSeed;
            BatchesPerEpoch = (rows + batchSize - 1) / batchSize;
        }

        public int BatchesPerEpoch { get; }
        public Tensor AllLabels => _labels;

        public SupervisedBatch Batch(int epoch, int index)
        {
            var order = randperm(_inputs.shape[0], generator: new Generator((ulong)(_seed * 1000 + epoch)));
            var rows = order.narrow(0, index * _batchSize, Math.Min(_batchSize, _inputs.shape[0] - index * _batchSize));
            var inputs = _inputs.index_select(0, rows);
            var labels = _labels.index_select(0, rows).flatten();
            var supervised = labels.ne(-100).nonzero().flatten();
            return new SupervisedBatch(inputs, supervised, labels.index_select(0, supervised));
        }

        public (Tensor Inputs, Tensor Labels) Full(int index) =>
            (_inputs.narrow(0, index * _batchSize, _batchSize), _labels.narrow(0, index * _batchSize, _batchSize));
    }

    internal sealed class ToyModel : nn.Module<Tensor, Tensor>
    {
        private readonly Embedding _embedding;
        private readonly Linear _mix;
        private readonly Dropout _dropout;

        public ToyModel(int vocab, int dModel) : base(nameof(ToyModel))
        {
            _embedding = nn.Embedding(vocab, dModel);
            _mix = nn.Linear(dModel, dModel);
            _dropout = nn.Dropout(0.1);
            RegisterComponents();
        }

        public Tensor Hidden(Tensor ids) => _mix.forward(_dropout.forward(_embedding.forward(ids))).tanh();
        public Tensor HeadWeight => _embedding.weight!;
        public Tensor Logits(Tensor hidden) => nn.functional.linear(hidden, HeadWeight);
        public override Tensor forward(Tensor ids) => Logits(Hidden(ids));
    }

    internal static TrainingModel NewModel(RunConfig config)
    {
        random.manual_seed(config.Seed);
        var model = new ToyModel(config.Data.VocabSize, config.Model.DModel);
        return new TrainingModel(model, model.Hidden, model.HeadWeight);
    }

    internal static RunConfig Config(params string[] overrides)
    {
        var yaml = "model:\n  sequence_mixer:\n    name: rebased\n  d_model: 16\n  vocab_size: 64\n" +
                   "data:\n  vocab_size: 64\n  input_seq_len: 16\n  batch_size: 32\n  num_train_examples: 256\n  num_test_examples: 64\n" +
                   "max_epochs: 3\nlearning_rate: 0.01\nseed: 7\nrun_id: toy\n";
        return ConfigResolver.Resolve(ConfigLoader.Parse(yaml, "toy.yaml", overrides)).Config;
    }

    internal static Trainer NewTrainer(RunConfig config, RunDirectory run, TrainerOptions? options = null)
    {
        var model = NewModel(config);
        var train = new ToyBatches(config.Data.NumTrainExamples, config.Data.InputSeqLen, config.Data.VocabSize, config.Data.BatchSize, 1, config.Seed);
        var test = new ToyBatches(config.Data.NumTestExamples, config.Data.InputSeqLen, config.Data.VocabSize, config.Data.BatchSize, 2, config.Seed);
        return new Trainer(config, model, train, test, CPU, run, options);
    }

    internal static string TempDir() => Path.Combine(Path.GetTempPath(), "rebased-tests", Guid.NewGuid().ToString("N"));

    /// <summary>Metrics without the timing fields, which differ between runs.</summary>
    internal static IEnumerable<EpochMetrics> Comparable(IEnumerable<EpochMetrics> metrics) =>
        metrics.Select(m => m with { TokensPerS = 0, ElapsedS = 0 });
}
