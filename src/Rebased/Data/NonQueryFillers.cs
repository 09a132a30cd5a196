namespace Rebased.Data;

/// <summary>
/// random_non_queries: every filler 0 after a row's context becomes a uniform id in [0, V) (0 included, as
/// torch.randint does). The reference draws them from torch's generator; here each row has its own counter-based
/// stream, so only their distribution matches.
/// </summary>
public static class NonQueryFillers
{
    private const ulong FillerPurpose = 0x46494c4c4552ul;

    public static void Fill(long seed, int row, int vocabSize, int contextLength, Span<int> tokens)
    {
        var random = new CounterRandom(seed, row, FillerPurpose);
        for (int p = contextLength; p < tokens.Length; p++)
            if (tokens[p] == 0) tokens[p] = random.Below(vocabSize);
    }
}
