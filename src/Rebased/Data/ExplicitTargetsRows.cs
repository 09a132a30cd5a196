namespace Rebased.Data;

/// <summary>
/// The rows of the compositional and forgetting MQAR generators after their per-row draws: per row, in Zoology's call
/// order, the K query slots (weighted choice without replacement from numpy's stream), then the task's tokens,
/// query positions and targets, then the fillers of random_non_queries.
/// </summary>
public static class ExplicitTargetsRows
{
    /// <summary>Writes row <paramref name="row"/> into its zeroed <paramref name="tokens"/>, and the position and target
    /// of each of its K queries (query j at slot <c>slots[j]</c> of the region after the context).</summary>
    public delegate void RowWriter(int row, ReadOnlySpan<int> slots, Span<int> tokens, Span<int> positions, Span<int> targets);

    public static QuerySet Generate(IExplicitTargetsArgs args, NumpyLegacyRandom random, RowWriter writeRow)
    {
        int n = args.NumExamples, seqLen = args.SeqLen, k = args.NumKvPairs;
        var tokens = TokenStore.Create(args.VocabSize, args.TokenCount);
        var positions = new int[n * k];
        var targets = new int[n * k];
        var choice = new NumpyLegacyRandom.WeightedChoice(PowerLaw.Probabilities(args.QuerySlots, args.PowerA));
        var slots = new int[k];
        var rowTokens = new int[seqLen];
        for (int row = 0; row < n; row++)
        {
            choice.Sample(random, slots);
            Array.Clear(rowTokens);
            writeRow(row, slots, rowTokens, positions.AsSpan(row * k, k), targets.AsSpan(row * k, k));
            if (args.RandomNonQueries) NonQueryFillers.Fill(args.Seed, row, args.VocabSize, args.ContextLength, rowTokens);
            tokens.Write(row * seqLen, rowTokens);
        }
        return new QuerySet(args.VocabSize, seqLen, k, tokens, positions, targets);
    }
}
