namespace Rebased.Data;

/// <summary>
/// A task whose sets come only from the numpy-compatible generator, with no sequence-length rule, and whose test
/// set is derived from the train set's arguments (compositional and forgetting MQAR). A subclass types its
/// arguments and describes one set.
/// </summary>
public abstract class NumpyOnlyTask<TArgs> : IDataTask
{
    public abstract IReadOnlyList<string> BuilderNames { get; }
    public abstract string CommandName { get; }
    public abstract string Summary { get; }
    public abstract TaskKwargs Kwargs { get; }
    public bool HasFastGenerator => false;

    public void ApplySequenceLengthRule(IDictionary<string, object?> kwargs, int seqLen) { }

    public TaskSplits Splits(RunDataRequest request)
    {
        Kwargs.Check(request.Kwargs);
        var train = Args(request.VocabSize, request.NumTrainExamples, request.SeqLen, request.Seed, request.Kwargs, request.Mode);
        return new TaskSplits(Spec(train), Spec(TestSet(train, request.NumTestExamples)));
    }

    public ITaskSetSpec Set(SetRequest request)
    {
        Kwargs.CheckArguments(request.Kwargs);
        return Spec(Args(request.VocabSize, request.NumExamples, request.SeqLen, request.Seed, request.Kwargs, request.Mode));
    }

    /// <summary>The typed arguments of one set, its kwargs read through <see cref="Kwargs"/>.</summary>
    protected abstract TArgs NewArgs(int vocab, int examples, int seqLen, long seed, IReadOnlyDictionary<string, object?> kwargs);

    /// <summary>The test set matching a train set, as the reference's builder makes it.</summary>
    protected abstract TArgs TestSet(TArgs train, int numExamples);

    /// <summary>The validated set: its cache identity, shape, description and generator.</summary>
    protected abstract QuerySetSpec Spec(TArgs args);

    private TArgs Args(int vocab, int examples, int seqLen, long seed, IReadOnlyDictionary<string, object?> kwargs, DataMode mode)
    {
        if (mode == DataMode.Fast)
            throw new UserError($"data.mode: {BuilderNames[0]} has only the numpy_compatible generator; set data.mode to auto or numpy_compatible");
        return NewArgs(vocab, examples, seqLen, seed, kwargs);
    }
}
