namespace Rebased.Kernels;

/// <summary>The dtypes the TorchSharp-composed forms take, and the dtype they accumulate in.</summary>
public static class KernelDtypes
{
    public static bool IsFloating(ScalarType dtype) =>
        dtype is ScalarType.Float64 or ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16;

    /// <summary>float64 for float64 inputs (the checks' reference precision), else float32 (16-bit inputs accumulate in fp32).</summary>
    public static ScalarType Accumulation(ScalarType dtype) => dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
}
