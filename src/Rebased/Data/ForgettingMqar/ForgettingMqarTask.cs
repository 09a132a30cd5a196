using System.Globalization;

namespace Rebased.Data.ForgettingMqar;

/// <summary>
/// Zoology's <c>forgetting_mqar</c> builder (<see cref="ForgettingMqarArgs"/>): train set from the seed, test set
/// from seed + 10, one power_a for both. Only the numpy-compatible generator exists.
/// </summary>
public sealed class ForgettingMqarTask : NumpyOnlyTask<ForgettingMqarArgs>
{
    private static readonly ForgettingMqarArgs Defaults = new(0, 0, 0);

    public override IReadOnlyList<string> BuilderNames { get; } = [ForgettingMqarArgs.Name, "zoology.data.forgetting_mqar.forgetting_mqar"];
    public override string CommandName => "forgetting-mqar";
    public override string Summary => "Generate a forgetting MQAR set (Zoology's forgetting_mqar: some keys reassigned, the last value counts) and write it as safetensors or preview it.";
    public override TaskKwargs Kwargs { get; } = new("forgetting MQAR",
        new("num_kv_pairs", KwargKind.PositiveInteger), new("num_updates", KwargKind.NonNegativeInteger),
        new("power_a", KwargKind.PositiveNumber), new("random_non_queries", KwargKind.Boolean));

    protected override ForgettingMqarArgs NewArgs(int vocab, int examples, int seqLen, long seed, IReadOnlyDictionary<string, object?> kwargs) =>
        new ForgettingMqarArgs(vocab, examples, seqLen, Kwargs.Integer(kwargs, "num_kv_pairs", Defaults.NumKvPairs),
            Kwargs.Integer(kwargs, "num_updates", Defaults.NumUpdates), Kwargs.Number(kwargs, "power_a", Defaults.PowerA),
            Kwargs.Boolean(kwargs, "random_non_queries", Defaults.RandomNonQueries), seed);

    protected override ForgettingMqarArgs TestSet(ForgettingMqarArgs train, int numExamples) => train.TestSet(numExamples);

    protected override QuerySetSpec Spec(ForgettingMqarArgs args)
    {
        args.Validate();
        return new QuerySetSpec(ForgettingMqarArgs.Name, args.CacheKey, args.VocabSize, args.NumExamples, args.SeqLen, args.NumKvPairs,
            string.Create(CultureInfo.InvariantCulture, $"K = {args.NumKvPairs}, {args.NumUpdates} updated"),
            args.Metadata, () => ForgettingMqarGenerator.Generate(args));
    }
}
