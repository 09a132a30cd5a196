namespace Rebased.Data.ForgettingMqar;

/// <summary>
/// Forgetting MQAR rows, drawn from numpy's legacy global stream in Zoology's call order: every row's keys (a
/// permutation of the V/2−1 key ids, K kept), every row's original values likewise, then per row and update j a
/// new value uniform over the value ids other than pair j's original value (<c>choice(available)</c>, one bounded
/// integer), then per row which keys are updated (<c>choice(K, U, replace=False)</c>, a permutation of K), then every
/// row's query slots (weighted choice without replacement). As in Zoology, update j's value avoids pair j's original
/// value, not necessarily the original value of the key it updates; the target is the key's last value either way.
/// Fillers (random_non_queries) come from torch's generator in Zoology; here from a counter-based stream per row,
/// so only their distribution matches.
/// </summary>
public static class ForgettingMqarGenerator
{
    private const ulong FillerPurpose = 0x46494c4c4552ul;

    public static QuerySet Generate(ForgettingMqarArgs args)
    {
        args.Validate();
        int n = args.NumExamples, seqLen = args.SeqLen, k = args.NumKvPairs, u = args.NumUpdates, context = args.ContextLength;
        int valueStart = args.ValueStart, keyCount = valueStart - 1, valueCount = args.VocabSize - valueStart;
        var random = new NumpyLegacyRandom((uint)args.Seed);
        var permutation = new int[Math.Max(keyCount, valueCount)];

        var keys = new int[n * k];
        for (int row = 0; row < n; row++)
        {
            random.PermutationInto(permutation.AsSpan(0, keyCount));
            for (int j = 0; j < k; j++) keys[row * k + j] = 1 + permutation[j];
        }
        var originals = new int[n * k];
        for (int row = 0; row < n; row++)
        {
            random.PermutationInto(permutation.AsSpan(0, valueCount));
            for (int j = 0; j < k; j++) originals[row * k + j] = valueStart + permutation[j];
        }
        var updatedValues = new int[n * u];
        for (int row = 0; row < n; row++)
            for (int j = 0; j < u; j++)
            {
                // Index into the value ids with pair j's original removed.
                int index = (int)random.Interval((uint)(valueCount - 2));
                int skipped = originals[row * k + j] - valueStart;
                updatedValues[row * u + j] = valueStart + (index < skipped ? index : index + 1);
            }
        var updatedPairs = new int[n * u];
        var pairOrder = new int[k];
        for (int row = 0; row < n; row++)
        {
            random.PermutationInto(pairOrder);
            pairOrder.AsSpan(0, u).CopyTo(updatedPairs.AsSpan(row * u, u));
        }

        var tokens = TokenStore.Create(args.VocabSize, args.TokenCount);
        var positions = new int[n * k];
        var targets = new int[n * k];
        var choice = new NumpyLegacyRandom.WeightedChoice(PowerLaw.Probabilities(args.QuerySlots, args.PowerA));
        var slots = new int[k];
        var finalValues = new int[k];
        var rowTokens = new int[seqLen];
        for (int row = 0; row < n; row++)
        {
            choice.Sample(random, slots);
            Array.Clear(rowTokens);
            for (int j = 0; j < k; j++)
            {
                rowTokens[2 * j] = keys[row * k + j];
                rowTokens[2 * j + 1] = finalValues[j] = originals[row * k + j];
            }
            for (int j = 0; j < u; j++)
            {
                int pair = updatedPairs[row * u + j], value = updatedValues[row * u + j];
                rowTokens[2 * (k + j)] = keys[row * k + pair];
                rowTokens[2 * (k + j) + 1] = finalValues[pair] = value;
            }
            for (int j = 0; j < k; j++)
            {
                int query = context + 2 * slots[j];
                rowTokens[query] = keys[row * k + j];
                positions[row * k + j] = query;
                targets[row * k + j] = finalValues[j];
            }
            if (args.RandomNonQueries) FillNonQueries(args, row, rowTokens);
            tokens.Write(row * seqLen, rowTokens);
        }
        return new QuerySet(args.VocabSize, seqLen, k, tokens, positions, targets);
    }

    /// <summary>random_non_queries: every filler 0 of the query region becomes a uniform id in [0, V) (0 included, as torch.randint does).</summary>
    private static void FillNonQueries(ForgettingMqarArgs args, int row, Span<int> tokens)
    {
        var random = new CounterRandom(args.Seed, row, FillerPurpose);
        for (int p = args.ContextLength; p < tokens.Length; p++)
            if (tokens[p] == 0) tokens[p] = random.Below(args.VocabSize);
    }
}
