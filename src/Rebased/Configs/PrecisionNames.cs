namespace Rebased.Configs;

/// <summary>The values of a run config's <c>precision</c>: fp32 (the reference's numerics) or bf16 matrix products.</summary>
public static class PrecisionNames
{
    public const string Float32 = "fp32";
    public const string BFloat16 = "bf16";
    public static readonly IReadOnlyList<string> Names = [Float32, BFloat16];
}
