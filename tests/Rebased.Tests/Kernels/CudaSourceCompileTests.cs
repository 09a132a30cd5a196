using System.Text.RegularExpressions;
using Rebased.Kernels.LinearAttention;
using Rebased.Kernels.Normalization;
using Rebased.Kernels.Scan;

namespace Rebased.Tests.Kernels;

/// <summary>
/// Every CUDA source compiled by NVRTC, without a GPU, in the variants the code launches (the macro definitions
/// come from the launching classes), for Hopper (sm_90) and, for the tensor-core kernels, Ampere (sm_80): each
/// compiles and holds the kernels the code launches, and the variants that MQAR training runs (D 16 with Dv 10
/// and 21, the scan at Mamba's 16 states, LayerNorm, the cross-entropy) keep their registers: no spill to local
/// memory. Spills depend on the compiler's version, so wider variants are only compiled. The GPU tests check the
/// numbers; these catch a kernel that would not build, before a device session's first call.
/// </summary>
public class CudaSourceCompileTests
{
    public static string? NoNvrtcReason
    {
        get
        {
            try { Nvrtc.Describe(); return null; }
            catch (UserError) { return "NVRTC not found: CUDA source compile tests skipped (.ci/run installs Debian's libnvrtc11.2)"; }
        }
    }

    public static TheoryData<string, string, string[], string[], bool> Variants()
    {
        var data = new TheoryData<string, string, string[], string[], bool>();
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16, ScalarType.Float16 })
            foreach (var kernel in new[] { PolynomialKernel.Rebased, PolynomialKernel.Based })
                // (D, Dv): the MQAR training shapes at d 128 and 256, the kernel benchmark's Dv 64, the widest D.
                foreach (var (d, dv) in new[] { (16, 10), (16, 21), (16, 64), (128, 128) })
                    foreach (var tf32x3 in dtype == ScalarType.Float32 ? new[] { false, true } : [false])
                    {
                        var variant = CudaFused.Variant.For(dtype, kernel, d, dv, tf32x3);
                        string[] kernels = [variant.ForwardName, variant.PrepName, variant.BackwardName];
                        bool training = d == 16 && dv < 64;
                        data.Add("CudaFused.cu", "sm_90", variant.Defines, kernels, training);
                        if (variant.TensorCores && kernel == PolynomialKernel.Rebased && d == 16) data.Add("CudaFused.cu", "sm_80", variant.Defines, kernels, training);
                    }
        foreach (var states in new[] { 1, 2, 4, 8, 16, 32 })
        {
            Assert.True(ScanKernels.SupportsStateSize(states));
            data.Add("ScanKernels.cu", "sm_90", [$"NSTATE={states}"], [], states == 16);
        }
        foreach (var width in new[] { 64, 128, 256, LayerNormForms.MaxFusedWidth })
            data.Add("CudaLayerNorm.cu", "sm_90", LayerNormForms.Defines(width), ["layer_norm_forward", "layer_norm_backward"], true);
        data.Add("CudaCrossEntropy.cu", "sm_90", [], ["softmax_cross_entropy"], true);
        return data;
    }

    [NvrtcTheory]
    [MemberData(nameof(Variants))]
    public void CompilesWithTheLaunchedKernelsAndTrainingVariantsDoNotSpill(string file, string architecture, string[] defines, string[] kernels, bool mustNotSpill)
    {
        string[] options = [.. CudaModules.Options(architecture, defines), "--ptxas-options=-v"];
        var (cubin, log) = Nvrtc.Compile(CudaModules.EmbeddedSource(file), file, options);
        Assert.NotEmpty(cubin);
        var compiled = Regex.Matches(log, @"Compiling entry function '(\w+)'").Select(m => m.Groups[1].Value).ToList();
        Assert.NotEmpty(compiled);
        Assert.Empty(kernels.Except(compiled));
        var spills = Regex.Matches(log, @"(\d+) bytes spill stores").Select(m => int.Parse(m.Groups[1].Value)).ToList();
        Assert.Equal(compiled.Count, spills.Count);
        if (mustNotSpill) Assert.True(spills.All(s => s == 0), $"{file} {string.Join(' ', defines)} {architecture} spills registers:\n{log}");
    }
}

/// <summary>A theory that is skipped, with the reason shown, where NVRTC cannot be loaded.</summary>
public sealed class NvrtcTheoryAttribute : TheoryAttribute
{
    public NvrtcTheoryAttribute()
    {
        if (CudaSourceCompileTests.NoNvrtcReason is { } reason) Skip = reason;
    }
}
