using System.Globalization;

namespace Rebased.Data.CompositionalMqar;

/// <summary>
/// Zoology's <c>compositional_mqar</c> builder (<see cref="CompositionalMqarArgs"/>): train set from the seed, test
/// set from seed + 10, one power_a for both. Only the numpy-compatible generator exists.
/// </summary>
public sealed class CompositionalMqarTask : IDataTask
{
    private static readonly CompositionalMqarArgs Defaults = new(0, 0, 0);

    public IReadOnlyList<string> BuilderNames { get; } = [CompositionalMqarArgs.Name, "zoology.data.compositional_mqar.compositional_mqar"];
    public string CommandName => "compositional-mqar";
    public string Summary => "Generate a compositional MQAR set (Zoology's compositional_mqar: values bound to key pairs) and write it as safetensors or preview it.";
    public bool HasFastGenerator => false;

    public TaskKwargs Kwargs { get; } = new("compositional MQAR",
        new("num_kv_pairs", KwargKind.PositiveInteger), new("power_a", KwargKind.PositiveNumber), new("random_non_queries", KwargKind.Boolean));

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

    private CompositionalMqarArgs Args(int vocab, int examples, int seqLen, long seed, IReadOnlyDictionary<string, object?> kwargs, DataMode mode)
    {
        if (mode == DataMode.Fast)
            throw new UserError($"data.mode: {CompositionalMqarArgs.Name} has only the numpy_compatible generator; set data.mode to auto or numpy_compatible");
        return new CompositionalMqarArgs(vocab, examples, seqLen, Kwargs.Integer(kwargs, "num_kv_pairs", Defaults.NumKvPairs),
            Kwargs.Number(kwargs, "power_a", Defaults.PowerA), Kwargs.Boolean(kwargs, "random_non_queries", Defaults.RandomNonQueries), seed);
    }

    private static QuerySetSpec Spec(CompositionalMqarArgs args)
    {
        args.Validate();
        return new QuerySetSpec(CompositionalMqarArgs.Name, args.CacheKey, args.VocabSize, args.NumExamples, args.SeqLen, args.NumKvPairs,
            string.Create(CultureInfo.InvariantCulture, $"K = {args.NumKvPairs} ({args.GridSize}×{args.GridSize} key grid)"),
            args.Metadata, () => CompositionalMqarGenerator.Generate(args));
    }
}
