namespace Rebased.Data;

/// <summary>
/// A synthetic task: its builder kwargs, the typed arguments of its sets, their generator, dataset and cache.
/// Each task is one folder under Data/ and one line in <see cref="DataTasks"/>; training, the <c>rebased data</c>
/// command and the config resolver reach tasks only through this interface.
/// </summary>
public interface IDataTask
{
    /// <summary>The values of data.builder.name that select the task; the first is its own name.</summary>
    IReadOnlyList<string> BuilderNames { get; }

    /// <summary>The <c>rebased data</c> subcommand that writes or previews one set.</summary>
    string CommandName { get; }

    /// <summary>One line for that command's help.</summary>
    string Summary { get; }

    /// <summary>The keyword arguments data.builder.kwargs may hold.</summary>
    TaskKwargs Kwargs { get; }

    /// <summary>Whether data.mode fast has a generator of its own here (otherwise only numpy_compatible exists).</summary>
    bool HasFastGenerator { get; }

    /// <summary>Sets the kwargs the reference derives from the sequence length when data.kv_pairs_rule is on; tasks without such a rule leave them as given.</summary>
    void ApplySequenceLengthRule(IDictionary<string, object?> kwargs, int seqLen);

    /// <summary>The typed, validated train and test sets of a run; a bad value is a one-line <see cref="UserError"/> naming its config key.</summary>
    TaskSplits Splits(RunDataRequest request);

    /// <summary>One set from the generator's own arguments (the data command); a bad value is a one-line <see cref="UserError"/> naming the argument.</summary>
    ITaskSetSpec Set(SetRequest request);
}

/// <summary>How the sets are drawn (data.mode): numpy's legacy stream as the reference draws it, a faster generator of the same distribution, or the task's choice.</summary>
public enum DataMode
{
    Auto,
    Fast,
    NumpyCompatible,
}

/// <summary>The data section of a run: the shape of both splits, the seed (the test set draws from seed + 10), the builder's kwargs and the mode.</summary>
public sealed record RunDataRequest(
    int VocabSize, int SeqLen, int NumTrainExamples, int NumTestExamples, long Seed, IReadOnlyDictionary<string, object?> Kwargs, DataMode Mode);

/// <summary>One set: its shape, seed, the generator's keyword arguments (num_kv_pairs, power_a, ...) and the mode (never auto).</summary>
public sealed record SetRequest(int VocabSize, int NumExamples, int SeqLen, long Seed, IReadOnlyDictionary<string, object?> Kwargs, DataMode Mode);

public sealed record TaskSplits(ITaskSetSpec Train, ITaskSetSpec Test);

/// <summary>The validated arguments of one set: what generates it, caches it and describes it.</summary>
public interface ITaskSetSpec
{
    /// <summary>The generator as a run's data line names it.</summary>
    string Generator { get; }

    /// <summary>The task's size in a few words ("K = 12").</summary>
    string Shape { get; }

    /// <summary>Every argument, the generator and its version, as text (a safetensors file's metadata).</summary>
    IReadOnlyDictionary<string, string> Metadata { get; }

    ITaskSet Generate();

    /// <summary>The set from the cache folder (null: the task's default folder), generated and stored when absent or stale, or always when <paramref name="refresh"/>.</summary>
    ITaskSet LoadOrGenerate(string? cacheDir, bool refresh);
}

/// <summary>A generated set: N rows of L tokens, some positions of each supervised with a target token.</summary>
public interface ITaskSet
{
    int Count { get; }
    int SeqLen { get; }
    int VocabSize { get; }

    /// <summary>Dense int64 tensors [N, L] on the CPU: inputs, and labels −100 except at the supervised positions.</summary>
    (Tensor Inputs, Tensor Labels) ToTensors();

    /// <summary>Batches in a per-epoch order drawn from (seed, epoch) alone, the last partial batch included.</summary>
    ITaskBatches Batches(int batchSize, bool shuffle, long seed, Device device);

    /// <summary>One row in a readable form, supervised positions and their targets marked.</summary>
    string Describe(int row);
}

/// <summary>
/// One batch: <see cref="Inputs"/> int64 [B, L]; <see cref="SupervisedIndex"/> int64 [B·Q], flat indices into B·L of
/// the supervised positions (row-major, ascending); <see cref="Targets"/> int64 [B·Q], their target tokens.
/// </summary>
public sealed record TaskBatch(Tensor Inputs, Tensor SupervisedIndex, Tensor Targets);

public interface ITaskBatches : IDisposable
{
    int BatchesPerEpoch { get; }
    TaskBatch Batch(int epoch, int index);
}
