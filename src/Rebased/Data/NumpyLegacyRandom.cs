using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Rebased.Data;

/// <summary>
/// numpy's legacy <c>RandomState</c> (MT19937), reproduced draw for draw for the calls the MQAR reference makes:
/// <c>seed(int)</c>, <c>random_sample</c>, the bounded-interval draw behind <c>shuffle</c>/<c>permutation</c>,
/// and <c>choice(..., replace=False)</c> with and without <c>p</c>. The legacy stream is frozen in numpy, so the
/// same seed gives the same numbers in every numpy version.
/// </summary>
public sealed class NumpyLegacyRandom
{
    private const int StateLength = 624;
    private const int Shift = 397;
    private const uint MatrixA = 0x9908b0dfu;
    private const uint UpperMask = 0x80000000u;
    private const uint LowerMask = 0x7fffffffu;

    private readonly uint[] _state = new uint[StateLength];
    private int _position;

    /// <summary>As <c>np.random.seed(seed)</c> with an integer seed (Knuth's linear initialisation of the key).</summary>
    public NumpyLegacyRandom(uint seed)
    {
        uint value = seed;
        for (int i = 0; i < StateLength; i++)
        {
            _state[i] = value;
            value = 1812433253u * (value ^ (value >> 30)) + (uint)(i + 1);
        }
        _position = StateLength;
    }

    /// <summary>The next raw 32-bit output (tempered).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint NextUInt32()
    {
        if (_position == StateLength) Regenerate();
        uint y = _state[_position++];
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c5680u;
        y ^= (y << 15) & 0xefc60000u;
        y ^= y >> 18;
        return y;
    }

    /// <summary><c>random_sample()</c>: 53 random bits from two outputs, (a·2^26 + b) / 2^53.</summary>
    public double NextDouble()
    {
        uint a = NextUInt32() >> 5, b = NextUInt32() >> 6;
        return (a * 67108864.0 + b) / 9007199254740992.0;
    }

    /// <summary>
    /// A uniform integer in [0, max] by masked rejection: draw 32 bits, keep the smallest all-ones mask that covers
    /// <paramref name="max"/>, redraw while the result exceeds it (numpy's <c>random_interval</c> for max &lt; 2^32).
    /// </summary>
    public uint Interval(uint max)
    {
        if (max == 0) return 0;
        uint mask = max;
        mask |= mask >> 1;
        mask |= mask >> 2;
        mask |= mask >> 4;
        mask |= mask >> 8;
        mask |= mask >> 16;
        uint value;
        while ((value = NextUInt32() & mask) > max) { }
        return value;
    }

    /// <summary><c>shuffle(x)</c> on a 1-d array: Fisher–Yates from the last element down, swapping i with interval(i).</summary>
    public void Shuffle<T>(Span<T> items)
    {
        for (int i = items.Length - 1; i >= 1; i--)
        {
            int j = (int)Interval((uint)i);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    /// <summary><c>permutation(n)</c>: a shuffled <c>arange(n)</c>.</summary>
    public int[] Permutation(int n)
    {
        var result = new int[n];
        PermutationInto(result);
        return result;
    }

    /// <summary><c>permutation(buffer.Length)</c> written into <paramref name="buffer"/>.</summary>
    public void PermutationInto(Span<int> buffer)
    {
        for (int i = 0; i < buffer.Length; i++) buffer[i] = i;
        Shuffle(buffer);
    }

    /// <summary><paramref name="rows"/> draws of <see cref="Choice(int, int)"/> one after another, each id plus
    /// <paramref name="offset"/>: row r's at [r·size, (r + 1)·size).</summary>
    public int[] ChoicePerRow(int rows, int populationSize, int size, int offset)
    {
        var ids = new int[rows * size];
        var permutation = new int[populationSize];
        for (int row = 0; row < rows; row++)
        {
            PermutationInto(permutation);
            for (int j = 0; j < size; j++) ids[row * size + j] = offset + permutation[j];
        }
        return ids;
    }

    /// <summary><c>choice(populationSize, size, replace=False)</c> without <c>p</c>: the first <paramref name="size"/> entries of a full permutation.</summary>
    public int[] Choice(int populationSize, int size)
    {
        if (size > populationSize) throw new ArgumentOutOfRangeException(nameof(size), "cannot take a larger sample than the population without replacement");
        return Permutation(populationSize)[..size];
    }

    /// <summary><c>choice(len(p), size, replace=False, p=p)</c>.</summary>
    public int[] Choice(ReadOnlySpan<double> p, int size)
    {
        var result = new int[size];
        new WeightedChoice(p).Sample(this, result);
        return result;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Regenerate()
    {
        var mt = _state;
        int i = 0;
        uint y;
        for (; i < StateLength - Shift; i++)
        {
            y = (mt[i] & UpperMask) | (mt[i + 1] & LowerMask);
            mt[i] = mt[i + Shift] ^ (y >> 1) ^ ((0u - (y & 1)) & MatrixA);
        }
        for (; i < StateLength - 1; i++)
        {
            y = (mt[i] & UpperMask) | (mt[i + 1] & LowerMask);
            mt[i] = mt[i + Shift - StateLength] ^ (y >> 1) ^ ((0u - (y & 1)) & MatrixA);
        }
        y = (mt[StateLength - 1] & UpperMask) | (mt[0] & LowerMask);
        mt[StateLength - 1] = mt[Shift - 1] ^ (y >> 1) ^ ((0u - (y & 1)) & MatrixA);
        _position = 0;
    }

    /// <summary>
    /// Legacy <c>choice(n, size, replace=False, p=p)</c> with reusable buffers. Each round draws one uniform per
    /// missing item, zeroes the probabilities already taken, rebuilds the CDF as a running sum divided by its
    /// last entry, maps every uniform to the first CDF entry above it (<c>searchsorted(side='right')</c>) and
    /// keeps the new distinct indices in order of first appearance (<c>np.unique(return_index=True)</c>, indices
    /// re-sorted). The running sum is recomputed only from the first entry zeroed since the previous round: the
    /// prefix before it is unchanged, so the floats are the same.
    /// </summary>
    public sealed class WeightedChoice
    {
        private readonly double[] _p;
        private readonly double[] _working;
        private readonly double[] _running;
        private readonly double[] _cdf;
        private readonly int[] _seenStamp;
        private readonly int _positive;
        private int _stamp;

        public WeightedChoice(ReadOnlySpan<double> p)
        {
            _p = p.ToArray();
            _working = new double[p.Length];
            _running = new double[p.Length];
            _cdf = new double[p.Length];
            _seenStamp = new int[p.Length];
            foreach (var v in _p) if (v > 0) _positive++;
        }

        public void Sample(NumpyLegacyRandom random, Span<int> found)
        {
            int n = _p.Length, size = found.Length;
            if (_positive < size) throw new ArgumentException("fewer non-zero entries in p than size");
            _p.CopyTo(_working, 0);
            int taken = 0, firstChanged = 0;
            Span<double> uniforms = size <= 1024 ? stackalloc double[size] : new double[size];
            while (taken < size)
            {
                int draws = size - taken;
                for (int t = 0; t < draws; t++) uniforms[t] = random.NextDouble();
                double running = firstChanged == 0 ? 0 : _running[firstChanged - 1];
                for (int i = firstChanged; i < n; i++) _running[i] = running += _working[i];
                Divide(_running, _running[n - 1], _cdf);
                if (++_stamp == int.MaxValue)
                {
                    Array.Clear(_seenStamp);
                    _stamp = 1;
                }
                int round = taken;
                for (int t = 0; t < draws; t++)
                {
                    int index = UpperBound(_cdf, uniforms[t]);
                    if (_seenStamp[index] == _stamp) continue;
                    _seenStamp[index] = _stamp;
                    found[round++] = index;
                }
                firstChanged = n;
                for (int t = taken; t < round; t++)
                {
                    _working[found[t]] = 0;
                    firstChanged = Math.Min(firstChanged, found[t]);
                }
                taken = round;
            }
        }

        /// <summary>IEEE division of every entry (lane-wise division is exact, so vector lanes match scalar numpy).</summary>
        private static void Divide(double[] values, double divisor, double[] result)
        {
            int i = 0;
            if (Vector256.IsHardwareAccelerated)
            {
                var d = Vector256.Create(divisor);
                for (; i + Vector256<double>.Count <= values.Length; i += Vector256<double>.Count)
                    (Vector256.Create(values.AsSpan(i)) / d).CopyTo(result.AsSpan(i));
            }
            for (; i < values.Length; i++) result[i] = values[i] / divisor;
        }

        /// <summary>First i with sorted[i] &gt; value (searchsorted, side='right'), as a branch-free halving search.</summary>
        private static int UpperBound(double[] sorted, double value)
        {
            int start = 0, length = sorted.Length;
            while (length > 1)
            {
                int half = length >> 1;
                start = sorted[start + half - 1] <= value ? start + half : start;
                length -= half;
            }
            return start + (sorted[start] <= value ? 1 : 0);
        }
    }

    /// <summary>
    /// numpy's float64 <c>sum</c> of a contiguous array: pairwise summation with eight accumulators for blocks of
    /// up to 128 values, halving (at a multiple of 8) above that.
    /// </summary>
    public static double PairwiseSum(ReadOnlySpan<double> values)
    {
        int n = values.Length;
        if (n < 8)
        {
            double sum = 0;
            for (int i = 0; i < n; i++) sum += values[i];
            return sum;
        }
        if (n <= 128)
        {
            Span<double> r = stackalloc double[8];
            values[..8].CopyTo(r);
            int i = 8;
            for (; i < n - n % 8; i += 8)
                for (int j = 0; j < 8; j++) r[j] += values[i + j];
            double result = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
            for (; i < n; i++) result += values[i];
            return result;
        }
        int half = n / 2;
        half -= half % 8;
        return PairwiseSum(values[..half]) + PairwiseSum(values[half..]);
    }
}
