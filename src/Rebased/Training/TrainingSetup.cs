using System.Diagnostics;
using System.Globalization;
using Rebased.Configs;
using Rebased.Data;
using Rebased.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Rebased.Training;

/// <summary>The MQAR batches of a set, as the loop consumes them.</summary>
public sealed class MqarBatchSource(MqarBatches batches) : IBatchSource, IDisposable
{
    public MqarBatches Batches => batches;
    public int BatchesPerEpoch => batches.BatchesPerEpoch;

    public SupervisedBatch Batch(int epoch, int index)
    {
        var batch = batches.Batch(epoch, index);
        batch.Labels.Dispose();
        return new SupervisedBatch(batch.Inputs, batch.SupervisedIndex, batch.Targets);
    }

    public void Dispose() => batches.Dispose();
}

/// <summary>
/// Everything a run needs, built in the reference's order: torch seeded with the run seed, then the data
/// (train set from data.seed, test set from data.seed + 10; loaded from the cache when present), then the
/// model (its initialisation draws from the seeded generator), moved to the device.
/// </summary>
public sealed class TrainingSetup : IDisposable
{
    public required RunConfig Config { get; init; }
    public required TrainingModel Model { get; init; }
    public required LanguageModel LanguageModel { get; init; }
    public required MqarBatchSource Train { get; init; }
    public required MqarBatchSource Test { get; init; }
    public required Device Device { get; init; }
    /// <summary>One line about the data: generator, sizes, where it came from and how long it took.</summary>
    public required string Description { get; init; }

    public static TrainingSetup Create(RunConfig config, Device device)
    {
        MemoryEstimate.Check(config, device);
        torch.random.manual_seed(config.Seed);
        if (device.type == DeviceType.CUDA) torch.cuda.manual_seed_all(config.Seed);

        var clock = Stopwatch.StartNew();
        var mode = DataGeneration.Resolve(config.Data) == DataGeneration.Fast ? MqarMode.Fast : MqarMode.NumpyCompatible;
        var (trainArgs, testArgs) = DataArgs(config);
        var train = LoadSet(trainArgs, mode, config.Data);
        var test = LoadSet(testArgs, mode, config.Data);
        var description = string.Create(CultureInfo.InvariantCulture,
            $"data {mode}: {train.Count:N0} train / {test.Count:N0} test rows, K = {trainArgs.NumKvPairs} ({clock.Elapsed.TotalSeconds:F1} s)");

        LanguageModel model;
        try
        {
            model = new LanguageModel(config.Model);
        }
        catch (ArgumentException e)
        {
            throw new UserError($"model config: {e.Message}", e);
        }
        model.to(device);
        return new TrainingSetup
        {
            Config = config,
            LanguageModel = model,
            Model = new TrainingModel(model, model.Hidden, model.TokenEmbedding),
            Train = new MqarBatchSource(new MqarBatches(train, config.Data.BatchSize, shuffle: true, config.Seed, device)),
            Test = new MqarBatchSource(new MqarBatches(test, config.Data.BatchSize, shuffle: true, config.Seed, device)),
            Device = device,
            Description = description,
        };
    }

    /// <summary>The reference's <c>multiquery_ar</c> arguments: train from data.seed, test from data.seed + 10.</summary>
    public static (MqarArgs Train, MqarArgs Test) DataArgs(RunConfig config)
    {
        var kwargs = config.Data.Builder.Kwargs;
        double Number(string key, double fallback) =>
            kwargs.TryGetValue(key, out var v) && v is not null ? System.Convert.ToDouble(v, CultureInfo.InvariantCulture) : fallback;
        var train = new MqarArgs(config.Data.VocabSize, config.Data.NumTrainExamples, config.Data.InputSeqLen,
            (int)Number("num_kv_pairs", 8), Number("train_power_a", 0.01),
            kwargs.TryGetValue("random_non_queries", out var r) && r is true, config.Data.Seed);
        return (train, train.TestSet(config.Data.NumTestExamples, Number("test_power_a", 0.01)));
    }

    private static MqarDataset LoadSet(MqarArgs args, MqarMode mode, DataConfig data)
    {
        args.Validate(mode);
        if (!data.Caching) return MqarGenerator.Generate(args, mode);
        if (data.ForceCache) File.Delete(MqarCache.PathFor(args, mode, data.CacheDir));
        return MqarCache.LoadOrGenerate(args, mode, data.CacheDir);
    }

    public Trainer NewTrainer(RunDirectory run, TrainerOptions options) =>
        new(Config, Model, Train, Test, Device, run, options);

    public void Dispose()
    {
        Train.Dispose();
        Test.Dispose();
        LanguageModel.Dispose();
    }
}
