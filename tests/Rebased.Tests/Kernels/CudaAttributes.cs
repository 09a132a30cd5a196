namespace Rebased.Tests.Kernels;

internal static class CudaSkip
{
    /// <summary>Null where CUDA runs; otherwise why <paramref name="tests"/> are skipped, and the benchmark check that runs them on a GPU host.</summary>
    public static string? Reason(string tests, string benchCommand)
    {
        TorchRuntime.EnsureLoaded();
        return cuda.is_available() ? null : $"CUDA not available (no GPU or a CPU libtorch): {tests} skipped; run `{benchCommand} --device cuda --check` on a GPU host";
    }
}

/// <summary>A fact that is skipped, with the reason shown, where no CUDA device is available.</summary>
public class CudaFactAttribute : FactAttribute
{
    public CudaFactAttribute() : this(CudaFusedTests.NoCudaReason) { }

    protected CudaFactAttribute(string? noCudaReason)
    {
        if (noCudaReason is { } reason) Skip = reason;
    }
}

/// <summary>A theory that is skipped, with the reason shown, where no CUDA device is available.</summary>
public class CudaTheoryAttribute : TheoryAttribute
{
    public CudaTheoryAttribute() : this(CudaFusedTests.NoCudaReason) { }

    protected CudaTheoryAttribute(string? noCudaReason)
    {
        if (noCudaReason is { } reason) Skip = reason;
    }
}

/// <summary>A fact about the CUDA scans, skipped with the reason shown where no CUDA device is available.</summary>
public sealed class CudaScanFactAttribute() : CudaFactAttribute(CudaScanTests.NoCudaReason);

/// <summary>A theory about the CUDA scans, skipped with the reason shown where no CUDA device is available.</summary>
public sealed class CudaScanTheoryAttribute() : CudaTheoryAttribute(CudaScanTests.NoCudaReason);
