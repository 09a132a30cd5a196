using System.Diagnostics;
using Rebased.Tests.Training;

namespace Rebased.Tests.Kernels;

/// <summary>
/// The tensor-core linear-attention kernels' own source (3xTF32 for fp32, mma.sync for bf16 and fp16) run on the
/// CPU (scripts/cuda-emulation: one OS thread per CUDA thread, ldmatrix and mma.sync by the PTX fragment layouts)
/// against a float64 reference, over shapes that cover several tiles, split value blocks, both layouts and both
/// kernels: without a GPU this checks their indexing, masking, synchronisation and accuracy (3xTF32 within 1e-5
/// relative; the 16-bit kernels within their dtype's rounding, 1e-2 bf16 and 2e-3 fp16).
/// </summary>
public class CudaEmulationTests
{
    public static string? NoCompilerReason =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => File.Exists(Path.Combine(d, "g++")))
            ? null : "g++ not found: the CUDA emulation tests are skipped";

    [EmulationFact]
    public void TensorCoreKernelsMatchTheFloat64Reference()
    {
        var script = ConfigTests.RepoFile("scripts", "cuda-emulation", "tensor_core_check.sh");
        var start = new ProcessStartInfo("bash", [script]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(15)), "the emulation did not finish in 15 minutes");
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}:\n{stdout}\n{stderr.Result}");
        var cases = File.ReadAllLines(script).SkipWhile(l => !l.EndsWith("<<'CASES'", StringComparison.Ordinal)).Skip(1).TakeWhile(l => l != "CASES").Count();
        Assert.True(cases >= 13, $"{script} lists {cases} cases");
        Assert.Equal(cases, lines.Count(l => l.EndsWith(" ok", StringComparison.Ordinal)));
        Assert.DoesNotContain(lines, l => l.Contains("FAILED"));
    }
}

/// <summary>A fact that is skipped, with the reason shown, where no C++ compiler is available.</summary>
public sealed class EmulationFactAttribute : FactAttribute
{
    public EmulationFactAttribute()
    {
        if (CudaEmulationTests.NoCompilerReason is { } reason) Skip = reason;
    }
}
