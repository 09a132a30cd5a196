using System.Globalization;
using System.Text;

namespace Rebased.Data;

/// <summary>The arguments the compositional and forgetting MQAR tasks share (Zoology's names), and the layout they give a row.</summary>
public interface IExplicitTargetsArgs
{
    int VocabSize { get; }
    int NumExamples { get; }
    int SeqLen { get; }
    int NumKvPairs { get; }
    double PowerA { get; }
    bool RandomNonQueries { get; }
    long Seed { get; }

    /// <summary>The tokens before the query region.</summary>
    int ContextLength { get; }

    /// <summary>The slots of the query region that the K queries are drawn from.</summary>
    int QuerySlots { get; }

    long TokenCount { get; }
}

/// <summary>
/// What the compositional and forgetting MQAR tasks share in their arguments: Zoology's checks on the set's shape
/// and query sampling, and the cache key and metadata every set of theirs records (numpy-compatible stream).
/// </summary>
public static class ExplicitTargetsArgs
{
    /// <summary>The set's shape: at least one example, an even length, a vocabulary above the length.</summary>
    public static void CheckShape(string task, IExplicitTargetsArgs args)
    {
        if (args.NumExamples < 1) throw Invalid(task, "num_examples", $"must be at least 1, got {args.NumExamples}");
        if (args.SeqLen < 2 || args.SeqLen % 2 != 0) throw Invalid(task, "input_seq_len", $"must be a positive even number, got {args.SeqLen}");
        if (args.VocabSize <= args.SeqLen) throw Invalid(task, "vocab_size", $"must be greater than input_seq_len ({args.VocabSize} ≤ {args.SeqLen})");
    }

    /// <summary>The query slots' power law, numpy's seed range and the tokens one set can hold.</summary>
    public static void CheckSampling(string task, IExplicitTargetsArgs args)
    {
        if (PowerLaw.Problem(args.QuerySlots, args.PowerA) is { } problem)
            throw Invalid(task, "power_a", $"{args.PowerA.ToString(CultureInfo.InvariantCulture)} {problem}");
        if (args.Seed < 0 || args.Seed > uint.MaxValue) throw Invalid(task, "seed", $"must be in [0, {uint.MaxValue}] (numpy's legacy seeding), got {args.Seed}");
        if (args.TokenCount > Array.MaxLength)
            throw Invalid(task, "num_examples", $"num_examples × input_seq_len = {args.TokenCount} exceeds the {Array.MaxLength} tokens one set can hold");
    }

    /// <summary>The identity of a set: every argument (task-specific ones in <paramref name="extra"/>, after
    /// kv_pairs) and the generator version.</summary>
    public static string CacheKey(string task, string version, IExplicitTargetsArgs args, params (string Key, int Value)[] extra)
    {
        var key = new StringBuilder(string.Create(CultureInfo.InvariantCulture,
            $"{task};version={version};vocab={args.VocabSize};examples={args.NumExamples};seq_len={args.SeqLen};kv_pairs={args.NumKvPairs};"));
        foreach (var (name, value) in extra) key.Append(CultureInfo.InvariantCulture, $"{name}={value};");
        key.Append(CultureInfo.InvariantCulture, $"power_a={args.PowerA:R};random_non_queries={args.RandomNonQueries};seed={args.Seed}");
        return key.ToString();
    }

    /// <summary>A set's metadata: generator, version and mode, then the arguments in order (task-specific ones in
    /// <paramref name="extra"/>, after num_kv_pairs).</summary>
    public static IReadOnlyDictionary<string, string> Metadata(string task, string version, IExplicitTargetsArgs args, params (string Key, int Value)[] extra)
    {
        var metadata = new Dictionary<string, string>
        {
            ["generator"] = task,
            ["generator_version"] = version,
            ["mode"] = "numpy-compatible",
            ["vocab_size"] = args.VocabSize.ToString(CultureInfo.InvariantCulture),
            ["num_examples"] = args.NumExamples.ToString(CultureInfo.InvariantCulture),
            ["input_seq_len"] = args.SeqLen.ToString(CultureInfo.InvariantCulture),
            ["num_kv_pairs"] = args.NumKvPairs.ToString(CultureInfo.InvariantCulture),
        };
        foreach (var (key, value) in extra) metadata[key] = value.ToString(CultureInfo.InvariantCulture);
        metadata["power_a"] = args.PowerA.ToString("R", CultureInfo.InvariantCulture);
        metadata["random_non_queries"] = args.RandomNonQueries ? "true" : "false";
        metadata["seed"] = args.Seed.ToString(CultureInfo.InvariantCulture);
        return metadata;
    }

    public static UserError Invalid(string task, string argument, string rule) => new($"{task} {argument}: {rule}");
}
