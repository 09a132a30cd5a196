namespace Rebased.Data.CompositionalMqar;

/// <summary>
/// Compositional MQAR rows, drawn from numpy's legacy global stream in Zoology's call order: every row's first
/// keys (a permutation of the V/3−1 ids, √K kept), every row's second keys likewise, per row a permutation of the
/// K grid cells (the order of the triples), every row's values (a permutation of the value ids, K kept), then every
/// row's query slots (weighted choice without replacement). Fillers (random_non_queries) come from torch's
/// generator in Zoology; here from a counter-based stream per row, so only their distribution matches.
/// </summary>
public static class CompositionalMqarGenerator
{
    private const ulong FillerPurpose = 0x46494c4c4552ul;

    public static QuerySet Generate(CompositionalMqarArgs args)
    {
        args.Validate();
        int n = args.NumExamples, seqLen = args.SeqLen, k = args.NumKvPairs, grid = args.GridSize, context = args.ContextLength;
        int secondStart = args.SecondKeyStart, valueStart = args.ValueStart;
        int firstCount = secondStart - 1, secondCount = secondStart, valueCount = args.VocabSize - valueStart;
        var random = new NumpyLegacyRandom((uint)args.Seed);
        var permutation = new int[Math.Max(firstCount, Math.Max(secondCount, valueCount))];

        var firstKeys = new int[n * grid];
        for (int row = 0; row < n; row++)
        {
            random.PermutationInto(permutation.AsSpan(0, firstCount));
            for (int j = 0; j < grid; j++) firstKeys[row * grid + j] = 1 + permutation[j];
        }
        var secondKeys = new int[n * grid];
        for (int row = 0; row < n; row++)
        {
            random.PermutationInto(permutation.AsSpan(0, secondCount));
            for (int j = 0; j < grid; j++) secondKeys[row * grid + j] = secondStart + permutation[j];
        }
        // Cell c of the grid is (first key c / √K, second key c mod √K); triple j of a row holds cell order[j].
        var cells = new int[n * k];
        for (int row = 0; row < n; row++) random.PermutationInto(cells.AsSpan(row * k, k));
        var values = new int[n * k];
        for (int row = 0; row < n; row++)
        {
            random.PermutationInto(permutation.AsSpan(0, valueCount));
            for (int j = 0; j < k; j++) values[row * k + j] = valueStart + permutation[j];
        }

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
            for (int j = 0; j < k; j++)
            {
                int cell = cells[row * k + j];
                int first = firstKeys[row * grid + cell / grid], second = secondKeys[row * grid + cell % grid], value = values[row * k + j];
                rowTokens[3 * j] = first;
                rowTokens[3 * j + 1] = second;
                rowTokens[3 * j + 2] = value;
                int query = context + 3 * slots[j];
                rowTokens[query] = first;
                rowTokens[query + 1] = second;
                positions[row * k + j] = query + 1;
                targets[row * k + j] = value;
            }
            if (args.RandomNonQueries) FillNonQueries(args, row, rowTokens);
            tokens.Write(row * seqLen, rowTokens);
        }
        return new QuerySet(args.VocabSize, seqLen, k, tokens, positions, targets);
    }

    /// <summary>random_non_queries: every filler 0 of the query region becomes a uniform id in [0, V) (0 included, as torch.randint does).</summary>
    private static void FillNonQueries(CompositionalMqarArgs args, int row, Span<int> tokens)
    {
        var random = new CounterRandom(args.Seed, row, FillerPurpose);
        for (int p = args.ContextLength; p < tokens.Length; p++)
            if (tokens[p] == 0) tokens[p] = random.Below(args.VocabSize);
    }
}
