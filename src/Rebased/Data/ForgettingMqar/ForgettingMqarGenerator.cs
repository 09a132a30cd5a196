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
    public static QuerySet Generate(ForgettingMqarArgs args)
    {
        args.Validate();
        int n = args.NumExamples, k = args.NumKvPairs, u = args.NumUpdates, context = args.ContextLength;
        int valueStart = args.ValueStart, keyCount = valueStart - 1, valueCount = args.VocabSize - valueStart;
        var random = new NumpyLegacyRandom((uint)args.Seed);

        var keys = random.ChoicePerRow(n, keyCount, k, 1);
        var originals = random.ChoicePerRow(n, valueCount, k, valueStart);
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

        var finalValues = new int[k];
        return ExplicitTargetsRows.Generate(args, random, (row, slots, tokens, positions, targets) =>
        {
            for (int j = 0; j < k; j++)
            {
                tokens[2 * j] = keys[row * k + j];
                tokens[2 * j + 1] = finalValues[j] = originals[row * k + j];
            }
            for (int j = 0; j < u; j++)
            {
                int pair = updatedPairs[row * u + j], value = updatedValues[row * u + j];
                tokens[2 * (k + j)] = keys[row * k + pair];
                tokens[2 * (k + j) + 1] = finalValues[pair] = value;
            }
            for (int j = 0; j < k; j++)
            {
                int query = context + 2 * slots[j];
                tokens[query] = keys[row * k + j];
                positions[j] = query;
                targets[j] = finalValues[j];
            }
        });
    }
}
