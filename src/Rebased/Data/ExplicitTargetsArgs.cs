using System.Globalization;

namespace Rebased.Data;

/// <summary>
/// What the compositional and forgetting MQAR tasks share in their arguments: Zoology's checks on the set's shape
/// and query sampling, and the metadata every set of theirs records (numpy-compatible stream).
/// </summary>
public static class ExplicitTargetsArgs
{
    /// <summary>The set's shape: at least one example, an even length, a vocabulary above the length.</summary>
    public static void CheckShape(string task, int numExamples, int seqLen, int vocabSize)
    {
        if (numExamples < 1) throw Invalid(task, "num_examples", $"must be at least 1, got {numExamples}");
        if (seqLen < 2 || seqLen % 2 != 0) throw Invalid(task, "input_seq_len", $"must be a positive even number, got {seqLen}");
        if (vocabSize <= seqLen) throw Invalid(task, "vocab_size", $"must be greater than input_seq_len ({vocabSize} ≤ {seqLen})");
    }

    /// <summary>The query slots' power law, numpy's seed range and the tokens one set can hold.</summary>
    public static void CheckSampling(string task, int querySlots, double powerA, long seed, long tokenCount)
    {
        if (PowerLaw.Problem(querySlots, powerA) is { } problem) throw Invalid(task, "power_a", $"{powerA.ToString(CultureInfo.InvariantCulture)} {problem}");
        if (seed < 0 || seed > uint.MaxValue) throw Invalid(task, "seed", $"must be in [0, {uint.MaxValue}] (numpy's legacy seeding), got {seed}");
        if (tokenCount > Array.MaxLength)
            throw Invalid(task, "num_examples", $"num_examples × input_seq_len = {tokenCount} exceeds the {Array.MaxLength} tokens one set can hold");
    }

    /// <summary>A set's metadata: generator, version and mode, then the arguments in order (task-specific ones in
    /// <paramref name="extra"/>, after num_kv_pairs).</summary>
    public static IReadOnlyDictionary<string, string> Metadata(string task, string version, int vocabSize, int numExamples, int seqLen,
        int numKvPairs, double powerA, bool randomNonQueries, long seed, params (string Key, string Value)[] extra)
    {
        var metadata = new Dictionary<string, string>
        {
            ["generator"] = task,
            ["generator_version"] = version,
            ["mode"] = "numpy-compatible",
            ["vocab_size"] = vocabSize.ToString(CultureInfo.InvariantCulture),
            ["num_examples"] = numExamples.ToString(CultureInfo.InvariantCulture),
            ["input_seq_len"] = seqLen.ToString(CultureInfo.InvariantCulture),
            ["num_kv_pairs"] = numKvPairs.ToString(CultureInfo.InvariantCulture),
        };
        foreach (var (key, value) in extra) metadata[key] = value;
        metadata["power_a"] = powerA.ToString("R", CultureInfo.InvariantCulture);
        metadata["random_non_queries"] = randomNonQueries ? "true" : "false";
        metadata["seed"] = seed.ToString(CultureInfo.InvariantCulture);
        return metadata;
    }

    public static UserError Invalid(string task, string argument, string rule) => new($"{task} {argument}: {rule}");
}
