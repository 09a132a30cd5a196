namespace Rebased.Data;

/// <summary>The row order of an epoch: a Fisher–Yates shuffle from the stream (seed, epoch), so a resumed run sees the same order.</summary>
public static class EpochOrder
{
    private const ulong ShufflePurpose = 0x53485546464c45ul;

    public static int[] Of(int count, bool shuffle, long seed, int epoch)
    {
        if (epoch < 0) throw new ArgumentOutOfRangeException(nameof(epoch), "epoch must be non-negative");
        var order = new int[count];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        if (!shuffle) return order;
        var random = new CounterRandom(seed, epoch, ShufflePurpose);
        for (int i = order.Length - 1; i > 0; i--)
        {
            int j = random.Below(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }
}
