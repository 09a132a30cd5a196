using System.Globalization;

namespace Rebased.Data.ForgettingMqar;

/// <summary>
/// Zoology's <c>forgetting_mqar</c> builder (<see cref="ForgettingMqarArgs"/>): train set from the seed, test set
/// from seed + 10, one power_a for both. Only the numpy-compatible generator exists.
/// </summary>
public sealed class ForgettingMqarTask : IDataTask
{
    private static readonly ForgettingMqarArgs Defaults = new(0, 0, 0);

    public IReadOnlyList<string> BuilderNames { get; } = [ForgettingMqarArgs.Name, "zoology.data.forgetting_mqar.forgetting_mqar"];
    public string CommandName => "forgetting-mqar";
    public string Summary => "Generate a forgetting MQAR set (Zoology's forgetting_mqar: some keys reassigned, the last value counts) and write it as safetensors or preview it.";
    public bool HasFastGenerator => false;

    public TaskKwargs Kwargs { get; } = new("forgetting MQAR",
        new("num_kv_pairs", KwargKind.PositiveInteger), new("num_updates", KwargKind.NonNegativeInteger),
        new("power_a", KwargKind.PositiveNumber), new("random_non_queries", KwargKind.Boolean));

    public void ApplySequenceLengthRule(IDictionary<string, object?> kwargs, int seqLen) { }

    public TaskSplits Splits(RunDataRequest request)
    {
        Kwargs.Check(request.Kwargs);
        var train = Args(request.VocabSize, request.NumTrainExamples, request.SeqLen, request.Seed, request.Kwargs, request.Mode);
        return new TaskSplits(Spec(train), Spec(train.TestSet(request.NumTestExamples)));
    }

    public ITaskSetSpec Set(SetRequest request)
    {
        Kwargs.CheckArguments(request.Kwargs);
        return Spec(Args(request.VocabSize, request.NumExamples, request.SeqLen, request.Seed, request.Kwargs, request.Mode));
    }

    private ForgettingMqarArgs Args(int vocab, int examples, int seqLen, long seed, IReadOnlyDictionary<string, object?> kwargs, DataMode mode)
    {
        if (mode == DataMode.Fast)
            throw new UserError($"data.mode: {ForgettingMqarArgs.Name} has only the numpy_compatible generator; set data.mode to auto or numpy_compatible");
        return new ForgettingMqarArgs(vocab, examples, seqLen, Kwargs.Integer(kwargs, "num_kv_pairs", Defaults.NumKvPairs),
            Kwargs.Integer(kwargs, "num_updates", Defaults.NumUpdates), Kwargs.Number(kwargs, "power_a", Defaults.PowerA),
            Kwargs.Boolean(kwargs, "random_non_queries", Defaults.RandomNonQueries), seed);
    }

    private static QuerySetSpec Spec(ForgettingMqarArgs args)
    {
        args.Validate();
        return new QuerySetSpec(ForgettingMqarArgs.Name, args.CacheKey, args.VocabSize, args.NumExamples, args.SeqLen, args.NumKvPairs,
            string.Create(CultureInfo.InvariantCulture, $"K = {args.NumKvPairs}, {args.NumUpdates} updated"),
            args.Metadata, () => ForgettingMqarGenerator.Generate(args));
    }
}
