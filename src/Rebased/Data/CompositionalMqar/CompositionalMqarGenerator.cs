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
    public static QuerySet Generate(CompositionalMqarArgs args)
    {
        args.Validate();
        int n = args.NumExamples, k = args.NumKvPairs, grid = args.GridSize, context = args.ContextLength;
        int secondStart = args.SecondKeyStart, valueStart = args.ValueStart;
        int firstCount = secondStart - 1, secondCount = secondStart, valueCount = args.VocabSize - valueStart;
        var random = new NumpyLegacyRandom((uint)args.Seed);

        var firstKeys = random.ChoicePerRow(n, firstCount, grid, 1);
        var secondKeys = random.ChoicePerRow(n, secondCount, grid, secondStart);
        // Cell c of the grid is (first key c / √K, second key c mod √K); triple j of a row holds cell order[j].
        var cells = new int[n * k];
        for (int row = 0; row < n; row++) random.PermutationInto(cells.AsSpan(row * k, k));
        var values = random.ChoicePerRow(n, valueCount, k, valueStart);

        return ExplicitTargetsRows.Generate(args, random, (row, slots, tokens, positions, targets) =>
        {
            for (int j = 0; j < k; j++)
            {
                int cell = cells[row * k + j];
                int first = firstKeys[row * grid + cell / grid], second = secondKeys[row * grid + cell % grid], value = values[row * k + j];
                tokens[3 * j] = first;
                tokens[3 * j + 1] = second;
                tokens[3 * j + 2] = value;
                int query = context + 3 * slots[j];
                tokens[query] = first;
                tokens[query + 1] = second;
                positions[j] = query + 1;
                targets[j] = value;
            }
        });
    }
}
