using System.Runtime.CompilerServices;

namespace Rebased.Data;

/// <summary>
/// Counter-based randomness: draw n of stream (seed, stream) is a SplitMix64 finalizer applied to
/// key(seed, stream) + n·γ. Any example's stream can be produced on its own, in any order, on any thread.
/// </summary>
public struct CounterRandom
{
    private const ulong Gamma = 0x9e3779b97f4a7c15ul;
    private readonly ulong _key;
    private ulong _counter;

    public CounterRandom(long seed, long stream, ulong purpose = 0)
    {
        _key = Mix(Mix(Mix((ulong)seed ^ 0x6a09e667f3bcc909ul) + (ulong)stream * Gamma) ^ purpose);
        _counter = 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong NextUInt64() => Mix(_key + ++_counter * Gamma);

    /// <summary>Uniform in [0, bound), unbiased (Lemire's multiply-and-reject).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Below(int bound)
    {
        ulong n = (ulong)bound;
        ulong high = Math.BigMul(NextUInt64(), n, out ulong low);
        if (low < n)
        {
            ulong threshold = (0 - n) % n;
            while (low < threshold) high = Math.BigMul(NextUInt64(), n, out low);
        }
        return (int)high;
    }

    /// <summary>Uniform in (0, 1]: 53 random bits, never zero (safe to take the logarithm of).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public double NextOpenDouble() => ((NextUInt64() >> 11) + 1) * (1.0 / 9007199254740992.0);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ul;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebul;
        return z ^ (z >> 31);
    }
}
