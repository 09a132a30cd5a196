using System.Globalization;

namespace Rebased.Data.Mqar;

/// <summary>How an MQAR set is drawn.</summary>
public enum MqarMode
{
    /// <summary>Counter-based randomness per example: parallel, reproducible from (seed, index), same distribution as the reference.</summary>
    Fast,

    /// <summary>numpy's legacy global RandomState, called in the reference's order: bit-identical to the reference's data.</summary>
    NumpyCompatible,
}

/// <summary>
/// Arguments of the reference generator <c>_mqar(vocab_size, num_examples, input_seq_len, seed, power_a,
/// num_kv_pairs, random_non_queries)</c>. Keys come from ids 1 … V/2−1, values from V/2 … V−1; each example
/// holds K key-value pairs followed by a query region of (L − 2K)/2 even slots; each key is queried once at a
/// slot drawn from a power law with exponent <see cref="PowerA"/>.
/// </summary>
public sealed record MqarArgs(int VocabSize, int NumExamples, int SeqLen, int NumKvPairs, double PowerA = 0.01, bool RandomNonQueries = false, long Seed = 0)
{
    /// <summary>The reference's test set uses the training seed plus this offset.</summary>
    public const int TestSeedOffset = 10;

    /// <summary>Number of context tokens: k1 v1 … kK vK.</summary>
    public int ContextLength => 2 * NumKvPairs;

    /// <summary>Number of query slots (even offsets of the region after the context).</summary>
    public int QuerySlots => (SeqLen - ContextLength) / 2;

    /// <summary>First value id; keys are 1 … <see cref="ValueVocabStart"/> − 1.</summary>
    public int ValueVocabStart => VocabSize / 2;

    public long TokenCount => (long)NumExamples * SeqLen;

    /// <summary>The matching test set, as the reference's <c>multiquery_ar</c> builds it (seed + 10).</summary>
    public MqarArgs TestSet(int numExamples, double? powerA = null) =>
        this with { NumExamples = numExamples, Seed = Seed + TestSeedOffset, PowerA = powerA ?? PowerA };

    /// <summary>Checks the reference's rules and the limits of this implementation; throws <see cref="UserError"/> naming the argument.</summary>
    public void Validate()
    {
        if (NumExamples < 1) throw Invalid("examples", $"must be at least 1, got {NumExamples}");
        if (SeqLen < 1) throw Invalid("seq-len", $"must be positive, got {SeqLen}");
        if (SeqLen % 2 != 0) throw Invalid("seq-len", $"must be even (queries sit on even offsets), got {SeqLen}");
        if (NumKvPairs < 1) throw Invalid("kv-pairs", $"must be at least 1, got {NumKvPairs}");
        if (4L * NumKvPairs > SeqLen)
            throw Invalid("kv-pairs", $"4 × kv-pairs must not exceed seq-len (4 × {NumKvPairs} = {4L * NumKvPairs} > {SeqLen})");
        if (VocabSize <= SeqLen) throw Invalid("vocab", $"must be greater than seq-len ({VocabSize} ≤ {SeqLen})");
        if (!double.IsFinite(PowerA) || PowerA <= 0)
            throw Invalid("power-a", $"must be a positive finite number, got {PowerA.ToString(CultureInfo.InvariantCulture)}");
        double largestWeight = PowerA * Math.Pow(QuerySlots, PowerA - 1);
        if (!double.IsFinite(largestWeight) || largestWeight == 0)
            throw Invalid("power-a", $"{PowerA.ToString(CultureInfo.InvariantCulture)} makes the power-law weights a·i^(a−1) over {QuerySlots} slots overflow");
        if (TokenCount > Array.MaxLength)
            throw Invalid("examples", $"examples × seq-len = {TokenCount} exceeds the {Array.MaxLength} tokens one set can hold");
    }

    /// <summary>As <see cref="Validate()"/>, plus the seed range numpy's legacy seeding accepts in <see cref="MqarMode.NumpyCompatible"/>.</summary>
    public void Validate(MqarMode mode)
    {
        Validate();
        if (mode == MqarMode.NumpyCompatible && (Seed < 0 || Seed > uint.MaxValue))
            throw Invalid("seed", $"must be in [0, {uint.MaxValue}] in numpy-compatible mode (numpy's legacy seeding), got {Seed}");
    }

    private static UserError Invalid(string argument, string rule) => new($"MQAR {argument}: {rule}");
}
