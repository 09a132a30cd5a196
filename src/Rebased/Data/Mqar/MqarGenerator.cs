namespace Rebased.Data.Mqar;

/// <summary>
/// The MQAR generator of the reference (<c>_mqar</c>): per example K distinct keys (ids 1 … V/2−1) and K distinct
/// values (ids V/2 … V−1) laid out as k1 v1 … kK vK, then each key written once more at a query slot 2·g of
/// the region after the context, the K slots drawn without replacement with probability ∝ i^(a−1) (i = 1 … (L−2K)/2).
/// The target at a query is its key's value; every other position is unsupervised. With random_non_queries
/// the filler zeros become uniform ids in [0, V).
/// </summary>
public static class MqarGenerator
{
    /// <summary>Output version of each mode; bump it whenever the same arguments would produce different data.</summary>
    public static string Version(MqarMode mode) => mode switch
    {
        MqarMode.Fast => "fast-1",
        MqarMode.NumpyCompatible => "numpy-1",
        _ => throw new ArgumentOutOfRangeException(nameof(mode)),
    };

    public static MqarDataset Generate(MqarArgs args, MqarMode mode)
    {
        args.Validate(mode);
        return mode switch
        {
            MqarMode.Fast => GenerateFast(args),
            MqarMode.NumpyCompatible => GenerateNumpyCompatible(args),
            _ => throw new ArgumentOutOfRangeException(nameof(mode)),
        };
    }

    /// <summary>The query-slot distribution as the reference computes it (<see cref="PowerLaw.Probabilities"/>).</summary>
    public static double[] PowerLawProbabilities(int slots, double powerA) => PowerLaw.Probabilities(slots, powerA);

    /// <summary>
    /// numpy's global stream in the reference's order: every row's keys (a full permutation of the key ids per
    /// row, first K kept), then every row's values likewise, then every row's query slots (weighted choice
    /// without replacement). Filler tokens (random_non_queries) come from torch's generator in the reference;
    /// here they come from a counter-based stream per row, so only their distribution matches.
    /// </summary>
    private static MqarDataset GenerateNumpyCompatible(MqarArgs args)
    {
        int n = args.NumExamples, seqLen = args.SeqLen, k = args.NumKvPairs, context = args.ContextLength;
        int valueStart = args.ValueVocabStart, keyCount = valueStart - 1, valueCount = args.VocabSize - valueStart;
        var tokens = TokenStore.Create(args.VocabSize, args.TokenCount);
        int words = MqarDataset.MaskWordsFor(seqLen);
        var mask = new ulong[(long)n * words];
        var random = new NumpyLegacyRandom((uint)args.Seed);

        var permutation = new int[Math.Max(keyCount, valueCount)];
        for (int row = 0; row < n; row++)
        {
            random.PermutationInto(permutation.AsSpan(0, keyCount));
            for (int j = 0; j < k; j++) tokens[row * seqLen + 2 * j] = 1 + permutation[j];
        }
        for (int row = 0; row < n; row++)
        {
            random.PermutationInto(permutation.AsSpan(0, valueCount));
            for (int j = 0; j < k; j++) tokens[row * seqLen + 2 * j + 1] = valueStart + permutation[j];
        }

        var choice = new NumpyLegacyRandom.WeightedChoice(PowerLawProbabilities(args.QuerySlots, args.PowerA));
        var slots = new int[k];
        for (int row = 0; row < n; row++)
        {
            choice.Sample(random, slots);
            int offset = row * seqLen;
            for (int j = 0; j < k; j++)
            {
                int position = context + 2 * slots[j];
                tokens[offset + position] = tokens[offset + 2 * j];
                mask[(long)row * words + (position >> 6)] |= 1ul << position;
            }
        }

        if (args.RandomNonQueries)
            Parallel.For(0, TaskCount(n), () => new int[seqLen], (task, _, row) =>
            {
                foreach (int r in TaskRows(task, n))
                {
                    tokens.Read<int>(r * seqLen, row);
                    NonQueryFillers.Fill(args.Seed, r, args.VocabSize, args.ContextLength, row);
                    tokens.Write(r * seqLen, row);
                }
                return row;
            }, _ => { });
        return new MqarDataset(args, MqarMode.NumpyCompatible, tokens, mask);
    }

    /// <summary>
    /// Each example from its own counter-based stream (seed, index): keys and values by rejection of repeats
    /// (a uniformly random ordered K-subset, as permutation()[:K] gives); query slots by exponential races
    /// (slot i finishes at E_i / w_i, E_i ~ Exp(1); the K earliest, in finishing order, are distributed exactly
    /// as successive draws without replacement with probability ∝ w, which is what the reference's choice
    /// rounds amount to).
    /// </summary>
    private static MqarDataset GenerateFast(MqarArgs args)
    {
        int n = args.NumExamples, seqLen = args.SeqLen, slots = args.QuerySlots;
        var tokens = TokenStore.Create(args.VocabSize, args.TokenCount);
        int words = MqarDataset.MaskWordsFor(seqLen);
        var mask = new ulong[(long)n * words];
        var slotScale = new double[slots];
        for (int i = 0; i < slots; i++) slotScale[i] = Math.Pow(i + 1, 1 - args.PowerA);

        Parallel.For(0, TaskCount(n), () => new FastScratch(args), (task, _, scratch) =>
        {
            foreach (int row in TaskRows(task, n))
            {
                FastRow(args, row, scratch, slotScale, mask.AsSpan(row * words, words));
                tokens.Write(row * seqLen, scratch.Row);
            }
            return scratch;
        }, _ => { });
        return new MqarDataset(args, MqarMode.Fast, tokens, mask);
    }

    private static void FastRow(MqarArgs args, int index, FastScratch s, double[] slotScale, Span<ulong> mask)
    {
        int k = args.NumKvPairs, context = args.ContextLength, slots = args.QuerySlots;
        int valueStart = args.ValueVocabStart, keyCount = valueStart - 1, valueCount = args.VocabSize - valueStart;
        var random = new CounterRandom(args.Seed, index);
        var row = s.Row;
        int stamp = s.NextStamp();

        for (int j = 0; j < k; j++)
        {
            int key;
            do key = 1 + random.Below(keyCount); while (s.Stamp[key] == stamp);
            s.Stamp[key] = stamp;
            row[2 * j] = key;
        }
        for (int j = 0; j < k; j++)
        {
            int value;
            do value = valueStart + random.Below(valueCount); while (s.Stamp[value] == stamp);
            s.Stamp[value] = stamp;
            row[2 * j + 1] = value;
        }

        // Race keys: the finish time's bits (non-negative doubles order like their bit patterns; the sign bit is
        // cleared because u = 1 gives −0) with the slot index in the low bits, so one integer sort orders the slots.
        // Times closer than 2^-(52 - SlotBits) relative are ordered by index, a bias far below anything a test or
        // a model could see.
        ulong slotMask = (1ul << s.SlotBits) - 1;
        var order = s.RaceKeys.AsSpan(0, slots);
        for (int i = 0; i < slots; i++)
        {
            double time = -Math.Log(random.NextOpenDouble()) * slotScale[i];
            order[i] = ((ulong)BitConverter.DoubleToInt64Bits(time) & long.MaxValue & ~slotMask) | (uint)i;
        }
        RadixSort(order, s.RadixScratch.AsSpan(0, slots), s.RadixCounts);

        Array.Clear(row, context, row.Length - context);
        mask.Clear();
        for (int j = 0; j < k; j++)
        {
            int position = context + 2 * (int)(order[j] & slotMask);
            row[position] = row[2 * j];
            mask[position >> 6] |= 1ul << position;
        }
        if (args.RandomNonQueries) NonQueryFillers.Fill(args.Seed, index, args.VocabSize, args.ContextLength, row);
    }

    /// <summary>Least-significant-digit radix sort of 64-bit keys, a byte per pass; passes where every key has the same byte are skipped.</summary>
    private static void RadixSort(Span<ulong> keys, Span<ulong> scratch, int[] counts)
    {
        Array.Clear(counts);
        foreach (var key in keys)
            for (int digit = 0; digit < 8; digit++) counts[digit * 256 + (int)((key >> (8 * digit)) & 0xff)]++;
        Span<ulong> source = keys, target = scratch;
        for (int digit = 0; digit < 8; digit++)
        {
            var count = counts.AsSpan(digit * 256, 256);
            int shift = 8 * digit;
            if (count[(int)((source[0] >> shift) & 0xff)] == source.Length) continue;
            for (int b = 0, start = 0; b < 256; b++) (count[b], start) = (start, start + count[b]);
            foreach (var key in source) target[count[(int)((key >> shift) & 0xff)]++] = key;
            var swap = source;
            source = target;
            target = swap;
        }
        if (source != keys) source.CopyTo(keys);
    }

    private const int RowsPerTask = 64;
    private static int TaskCount(int rows) => (rows + RowsPerTask - 1) / RowsPerTask;

    private static IEnumerable<int> TaskRows(int task, int rows)
    {
        int end = Math.Min(rows, (task + 1) * RowsPerTask);
        for (int r = task * RowsPerTask; r < end; r++) yield return r;
    }

    private sealed class FastScratch(MqarArgs args)
    {
        public readonly int[] Row = new int[args.SeqLen];
        public readonly int[] Stamp = new int[args.VocabSize];
        public readonly ulong[] RaceKeys = new ulong[args.QuerySlots];
        public readonly ulong[] RadixScratch = new ulong[args.QuerySlots];
        public readonly int[] RadixCounts = new int[8 * 256];
        public readonly int SlotBits = Math.Max(1, 32 - System.Numerics.BitOperations.LeadingZeroCount((uint)args.QuerySlots - 1));
        private int _stamp;

        public int NextStamp()
        {
            if (++_stamp == int.MaxValue)
            {
                Array.Clear(Stamp);
                _stamp = 1;
            }
            return _stamp;
        }
    }
}
