using System.Diagnostics;
using System.Globalization;
using Rebased.Configs;
using Rebased.Data;
using Rebased.Models;

namespace Rebased.Training;

/// <summary>A task's batches of a set, as the loop consumes them.</summary>
public sealed class TaskBatchSource(ITaskBatches batches) : IBatchSource, IDisposable
{
    public int BatchesPerEpoch => batches.BatchesPerEpoch;

    public SupervisedBatch Batch(int epoch, int index)
    {
        var batch = batches.Batch(epoch, index);
        return new SupervisedBatch(batch.Inputs, batch.SupervisedIndex, batch.Targets);
    }

    public void Dispose() => batches.Dispose();
}

/// <summary>
/// Everything a run needs, built in the reference's order: torch seeded with the run seed, then the data of the
/// task data.builder.name selects (train set from data.seed, test set from data.seed + 10; loaded from the cache
/// when present), then the model (its initialisation draws from the seeded generator), moved to the device.
/// </summary>
public sealed class TrainingSetup : IDisposable
{
    public required RunConfig Config { get; init; }
    public required TrainingModel Model { get; init; }
    public required LanguageModel LanguageModel { get; init; }
    public required TaskBatchSource Train { get; init; }
    public required TaskBatchSource Test { get; init; }
    public required Device Device { get; init; }
    /// <summary>One line about the data: generator, sizes, where it came from and how long it took.</summary>
    public required string Description { get; init; }

    public static TrainingSetup Create(RunConfig config, Device device)
    {
        MemoryEstimate.Check(config, device);
        torch.random.manual_seed(config.Seed);
        if (device.type == DeviceType.CUDA) torch.cuda.manual_seed_all(config.Seed);

        var clock = Stopwatch.StartNew();
        var splits = config.Data.Task().Splits(config.Data.Request());
        var train = LoadSet(splits.Train, config.Data);
        var test = LoadSet(splits.Test, config.Data);
        var description = string.Create(CultureInfo.InvariantCulture,
            $"data {splits.Train.Generator}: {train.Count:N0} train / {test.Count:N0} test rows, {splits.Train.Shape} ({clock.Elapsed.TotalSeconds:F1} s)");

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
            Train = new TaskBatchSource(train.Batches(config.Data.BatchSize, shuffle: true, config.Seed, device)),
            Test = new TaskBatchSource(test.Batches(config.Data.BatchSize, shuffle: true, config.Seed, device)),
            Device = device,
            Description = description,
        };
    }

    private static ITaskSet LoadSet(ITaskSetSpec spec, DataConfig data) =>
        data.Caching ? spec.LoadOrGenerate(data.CacheDir, refresh: data.ForceCache) : spec.Generate();

    public Trainer NewTrainer(RunDirectory run, TrainerOptions options) =>
        new(Config, Model, Train, Test, Device, run, options);

    public void Dispose()
    {
        Train.Dispose();
        Test.Dispose();
        LanguageModel.Dispose();
    }
}
