namespace Rebased.Data.ForgettingMqar;

/// <summary>
/// Arguments of Zoology's <c>forgetting_mqar(vocab_size, num_examples, input_seq_len, seed, power_a, num_kv_pairs,
/// num_updates, random_non_queries)</c>. Keys come from ids 1 … V/2−1, values from V/2 … V−1. The context holds K
/// key-value pairs, then <see cref="NumUpdates"/> of those keys again with new values; each of the K keys is queried
/// once at a slot 2·g of the region after the context (the K slots drawn without replacement with probability
/// ∝ i^(a−1), i = 1 … (L − 2(K + U))/2), and the target is the key's last value in the context.
/// </summary>
public sealed record ForgettingMqarArgs(int VocabSize, int NumExamples, int SeqLen, int NumKvPairs = 8, int NumUpdates = 4,
    double PowerA = 0.01, bool RandomNonQueries = true, long Seed = 0) : IExplicitTargetsArgs
{
    public const string Name = "forgetting_mqar";
    public const string Version = "numpy-1";
    public const int TestSeedOffset = 10;

    /// <summary>The K original pairs, then the U updates.</summary>
    public int ContextLength => 2 * (NumKvPairs + NumUpdates);

    /// <summary>Query slots: each query takes 2 tokens of the region (the key and a gap).</summary>
    public int QuerySlots => (SeqLen - ContextLength) / 2;

    public int ValueStart => VocabSize / 2;
    public long TokenCount => (long)NumExamples * SeqLen;

    /// <summary>The matching test set: the same task from seed + 10, as the reference's builders make it.</summary>
    public ForgettingMqarArgs TestSet(int numExamples) => this with { NumExamples = numExamples, Seed = Seed + TestSeedOffset };

    /// <summary>Zoology's assertions and this implementation's limits; throws a <see cref="UserError"/> naming the argument.</summary>
    public void Validate()
    {
        ExplicitTargetsArgs.CheckShape(Name, this);
        if (NumKvPairs < 1) throw Invalid("num_kv_pairs", $"must be at least 1, got {NumKvPairs}");
        if (NumUpdates < 0 || NumUpdates > NumKvPairs) throw Invalid("num_updates", $"must be in [0, num_kv_pairs = {NumKvPairs}], got {NumUpdates}");
        long needed = 2L * (NumKvPairs + NumUpdates) + 2L * NumKvPairs;
        if (needed > SeqLen)
            throw Invalid("input_seq_len", $"must hold the pairs, the updates and a query per key: 2 × (num_kv_pairs + num_updates) + 2 × num_kv_pairs = {needed} > {SeqLen}");
        ExplicitTargetsArgs.CheckSampling(Name, this);
    }

    /// <summary>The identity of a set: every argument and the generator version.</summary>
    public string CacheKey => ExplicitTargetsArgs.CacheKey(Name, Version, this, ("updates", NumUpdates));

    public IReadOnlyDictionary<string, string> Metadata => ExplicitTargetsArgs.Metadata(Name, Version, this, ("num_updates", NumUpdates));

    private static UserError Invalid(string argument, string rule) => ExplicitTargetsArgs.Invalid(Name, argument, rule);
}
