namespace Rebased.Configs;

/// <summary>
/// The values of <c>data.mode</c>. The reference's generator draws each query slot with a sequential
/// weighted draw over the (L−2K)/2 slots, so its cost per row grows as K·L; emulating numpy's stream
/// exactly is affordable up to L = 512 (the sets of simple_mqar and of Figure 1 up to L = 512 come out
/// identical to the reference's) and slow beyond, where "auto" switches to the fast generator, which
/// draws from the same distribution.
/// </summary>
public static class DataGeneration
{
    public const string Auto = "auto";
    public const string Fast = "fast";
    public const string NumpyCompatible = "numpy_compatible";
    public const int NumpyCompatibleMaxSeqLen = 512;

    public static readonly string[] Values = { Auto, Fast, NumpyCompatible };

    /// <summary>The generator a data config uses: its mode, with "auto" resolved by sequence length.</summary>
    public static string Resolve(DataConfig data) => data.Mode switch
    {
        Auto => data.InputSeqLen <= NumpyCompatibleMaxSeqLen ? NumpyCompatible : Fast,
        _ => data.Mode,
    };
}
