using System.Globalization;

namespace Rebased.Data.CompositionalMqar;

/// <summary>
/// Zoology's <c>compositional_mqar</c> builder (<see cref="CompositionalMqarArgs"/>): train set from the seed, test
/// set from seed + 10, one power_a for both. Only the numpy-compatible generator exists.
/// </summary>
public sealed class CompositionalMqarTask : NumpyOnlyTask<CompositionalMqarArgs>
{
    private static readonly CompositionalMqarArgs Defaults = new(0, 0, 0);

    public override IReadOnlyList<string> BuilderNames { get; } = [CompositionalMqarArgs.Name, "zoology.data.compositional_mqar.compositional_mqar"];
    public override string CommandName => "compositional-mqar";
    public override string Summary => "Generate a compositional MQAR set (Zoology's compositional_mqar: values bound to key pairs) and write it as safetensors or preview it.";
    public override TaskKwargs Kwargs { get; } = new("compositional MQAR",
        new("num_kv_pairs", KwargKind.PositiveInteger), new("power_a", KwargKind.PositiveNumber), new("random_non_queries", KwargKind.Boolean));

    protected override CompositionalMqarArgs NewArgs(int vocab, int examples, int seqLen, long seed, IReadOnlyDictionary<string, object?> kwargs) =>
        new CompositionalMqarArgs(vocab, examples, seqLen, Kwargs.Integer(kwargs, "num_kv_pairs", Defaults.NumKvPairs),
            Kwargs.Number(kwargs, "power_a", Defaults.PowerA), Kwargs.Boolean(kwargs, "random_non_queries", Defaults.RandomNonQueries), seed);

    protected override CompositionalMqarArgs TestSet(CompositionalMqarArgs train, int numExamples) => train.TestSet(numExamples);

    protected override QuerySetSpec Spec(CompositionalMqarArgs args)
    {
        args.Validate();
        return new QuerySetSpec(CompositionalMqarArgs.Name, args.CacheKey, args.VocabSize, args.NumExamples, args.SeqLen, args.NumKvPairs,
            string.Create(CultureInfo.InvariantCulture, $"K = {args.NumKvPairs} ({args.GridSize}×{args.GridSize} key grid)"),
            args.Metadata, () => CompositionalMqarGenerator.Generate(args));
    }
}
