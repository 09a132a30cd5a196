namespace Rebased.Data.CompositionalMqar;

/// <summary>
/// Arguments of Zoology's <c>compositional_mqar(vocab_size, num_examples, input_seq_len, seed, power_a,
/// num_kv_pairs, random_non_queries)</c>. The vocabulary is split in thirds: first keys 1 … V/3−1, second keys
/// V/3 … 2V/3−1, values 2V/3 … V−1. Each example picks √K first and √K second keys and binds every one of the K
/// (first, second) combinations to its own value, so neither key alone determines the value. The context is K
/// triples k1 k2 v; then each pair is queried once as "k1 k2" at a slot 3·g of the region after the context, the K
/// slots drawn without replacement with probability ∝ i^(a−1) (i = 1 … (L − 3K)/3); the target sits on the k2.
/// </summary>
public sealed record CompositionalMqarArgs(int VocabSize, int NumExamples, int SeqLen, int NumKvPairs = 4, double PowerA = 0.01, bool RandomNonQueries = true, long Seed = 0)
    : IExplicitTargetsArgs
{
    public const string Name = "compositional_mqar";
    public const string Version = "numpy-1";
    public const int TestSeedOffset = 10;

    /// <summary>√K: the number of distinct first keys, and of second keys, per example.</summary>
    public int GridSize => (int)Math.Round(Math.Sqrt(NumKvPairs));

    public int ContextLength => 3 * NumKvPairs;

    /// <summary>Query slots: each query takes 3 tokens of the region (k1, k2 and a gap).</summary>
    public int QuerySlots => (SeqLen - ContextLength) / 3;

    public int SecondKeyStart => VocabSize / 3;
    public int ValueStart => 2 * (VocabSize / 3);
    public long TokenCount => (long)NumExamples * SeqLen;

    /// <summary>The matching test set: the same task from seed + 10, as the reference's builders make it.</summary>
    public CompositionalMqarArgs TestSet(int numExamples) => this with { NumExamples = numExamples, Seed = Seed + TestSeedOffset };

    /// <summary>Zoology's assertions and this implementation's limits; throws a <see cref="UserError"/> naming the argument.</summary>
    public void Validate()
    {
        ExplicitTargetsArgs.CheckShape(Name, this);
        if (NumKvPairs < 1 || GridSize * GridSize != NumKvPairs)
            throw Invalid("num_kv_pairs", $"must be a perfect square (4, 9, 16, ...) to form the key grid, got {NumKvPairs}");
        if (6L * NumKvPairs > SeqLen)
            throw Invalid("num_kv_pairs", $"6 × num_kv_pairs must not exceed input_seq_len (a triple and a query of 3 tokens per pair: 6 × {NumKvPairs} > {SeqLen})");
        ExplicitTargetsArgs.CheckSampling(Name, this);
    }

    /// <summary>The identity of a set: every argument and the generator version.</summary>
    public string CacheKey => ExplicitTargetsArgs.CacheKey(Name, Version, this);

    public IReadOnlyDictionary<string, string> Metadata => ExplicitTargetsArgs.Metadata(Name, Version, this);

    private static UserError Invalid(string argument, string rule) => ExplicitTargetsArgs.Invalid(Name, argument, rule);
}
