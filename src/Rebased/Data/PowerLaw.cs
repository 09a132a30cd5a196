namespace Rebased.Data;

/// <summary>The query-slot law of the MQAR family: slot i (1-based) of n drawn with probability ∝ a·i^(a−1).</summary>
public static class PowerLaw
{
    /// <summary>p_i = a·i^(a−1), i = 1 … slots, divided by its sum (numpy's pairwise sum, as the reference computes it).</summary>
    public static double[] Probabilities(int slots, double powerA)
    {
        var p = new double[slots];
        for (int i = 0; i < slots; i++) p[i] = powerA * Math.Pow(i + 1, powerA - 1);
        double sum = NumpyLegacyRandom.PairwiseSum(p);
        for (int i = 0; i < slots; i++) p[i] /= sum;
        return p;
    }

    /// <summary>Null when the weights over <paramref name="slots"/> are usable, else why not (a ≤ 0, or weights that overflow or vanish).</summary>
    public static string? Problem(int slots, double powerA)
    {
        if (!double.IsFinite(powerA) || powerA <= 0) return "must be a positive finite number";
        double largestWeight = powerA * Math.Pow(slots, powerA - 1);
        return double.IsFinite(largestWeight) && largestWeight != 0 ? null : $"makes the power-law weights a·i^(a−1) over {slots} slots overflow";
    }
}
