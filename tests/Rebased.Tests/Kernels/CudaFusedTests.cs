using Rebased.Kernels.LinearAttention;

namespace Rebased.Tests.Kernels;

public class CudaFusedTests
{
    public CudaFusedTests() => TorchRuntime.EnsureLoaded();

    /// <summary>Null where CUDA runs; otherwise why the CUDA tests are skipped.</summary>
    public static string? NoCudaReason => CudaSkip.Reason("CUDA fused kernel tests", "rebased bench kernels");

    public static TheoryData<int, string> Cases()
    {
        var data = new TheoryData<int, string>();
        for (int i = 0; i < LinearAttentionCheck.CoveringCases.Count; i++)
            foreach (var dtype in new[] { "fp32", "fp32-tf32x3", "bf16", "fp16" })
                data.Add(i, dtype);
        return data;
    }

    [Fact]
    public void RecognisesHeadSplitViewsOfDenseProjections()
    {
        using var projection = zeros(2, 5, 3, 4);
        Assert.True(CudaFused.IsInterleaved(projection.transpose(1, 2)));
        Assert.False(CudaFused.IsInterleaved(zeros(2, 3, 5, 4)));
        Assert.False(CudaFused.IsInterleaved(zeros(2, 5, 3, 8).narrow(3, 0, 4).transpose(1, 2)));
        Assert.False(CudaFused.IsInterleaved(zeros(5, 2, 3, 4).permute(1, 2, 0, 3)));
        // With one head both layouts are the same memory order.
        Assert.True(CudaFused.IsInterleaved(zeros(2, 1, 5, 4)));
    }

    [CudaTheory]
    [MemberData(nameof(Cases))]
    public void MatchesFloat64Reference(int caseIndex, string dtypeName)
    {
        var dtype = dtypeName switch { "fp32" or "fp32-tf32x3" => ScalarType.Float32, "bf16" => ScalarType.BFloat16, _ => ScalarType.Float16 };
        var c = LinearAttentionCheck.CoveringCases[caseIndex];
        var result = LinearAttentionCheck.Run(new CudaFused(tf32x3: dtypeName == "fp32-tf32x3"), c, CUDA, dtype, seed: 1000 + caseIndex);
        Assert.True(result.Passed, $"cuda {dtypeName} {c}: relative errors y {result.Y:E2}, dq {result.Dq:E2}, dk {result.Dk:E2}, dv {result.Dv:E2} > {result.Tolerance:E0}");
    }

    [CudaFact]
    public void AutoPrefersFusedOnCuda()
    {
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16, ScalarType.Float16 })
            Assert.Equal("fused", Assert.IsType<CudaFused>(LinearAttentionForms.Auto(CUDA, dtype)).Name);
    }

    [Fact]
    public void FusedResolvesByDeviceAndDtype()
    {
        var cudaDevice = new Device(DeviceType.CUDA, 0);
        Assert.IsType<CudaFused>(LinearAttentionForms.Get("fused", cudaDevice, ScalarType.BFloat16));
        Assert.IsType<CudaFused>(LinearAttentionForms.Get("fused", cudaDevice, ScalarType.Float32));
        Assert.IsType<CpuFused>(LinearAttentionForms.Get("fused", CPU, ScalarType.Float32));
        Assert.Contains("does not support", Assert.Throws<UserError>(() => LinearAttentionForms.Get("fused", cudaDevice, ScalarType.Float64)).Message);
    }

    [Fact]
    public void Tf32x3IsACudaFloat32FormChosenByNameOnly()
    {
        var cudaDevice = new Device(DeviceType.CUDA, 0);
        Assert.Equal("fused_tf32x3", Assert.IsType<CudaFused>(LinearAttentionForms.Get("fused_tf32x3", cudaDevice, ScalarType.Float32)).Name);
        foreach (var (device, dtype) in new[] { (cudaDevice, ScalarType.BFloat16), (cudaDevice, ScalarType.Float16), (CPU, ScalarType.Float32) })
            Assert.Contains("does not support", Assert.Throws<UserError>(() => LinearAttentionForms.Get("fused_tf32x3", device, dtype)).Message);
        Assert.Equal("fused", LinearAttentionForms.Get("auto", cudaDevice, ScalarType.Float32).Name);
        Assert.Throws<ArgumentException>(() => CudaFused.Variant.For(ScalarType.BFloat16, PolynomialKernel.Rebased, 16, 16, tf32x3: true));
    }

    [Theory]
    [InlineData(10, 16)]
    [InlineData(21, 24)]
    [InlineData(64, 64)]
    [InlineData(100, 64)]
    public void Tf32x3BlocksAreMultiplesOfEightUpToSixtyFour(int dv, int expected)
    {
        var variant = CudaFused.Variant.For(ScalarType.Float32, PolynomialKernel.Rebased, 16, dv, tf32x3: true);
        Assert.Equal(expected, variant.BV);
        Assert.Equal(["la_forward_tf32", "la_backward_prep_mma", "la_backward_tf32"], new[] { variant.ForwardName, variant.PrepName, variant.BackwardName });
        Assert.False(variant.SixteenBit);
        Assert.Equal(128u, variant.Threads);
    }

    [Fact]
    public unsafe void DataPointerIsTheFirstElementsAddress()
    {
        using var scope = NewDisposeScope();
        var whole = arange(24, ScalarType.Float32).reshape(4, 6);
        var rows = whole[1..3];
        Assert.Equal(6, rows.storage_offset());
        var expected = (IntPtr)((float*)whole.storage<float>().data_ptr() + 6);
        Assert.Equal(expected, DevicePointers.Of(rows));
        Assert.Equal(6f, *(float*)DevicePointers.Of(rows));
    }

    [Fact]
    public void NvrtcIsSearchedNextToTheLibtorchInUse()
    {
        var previous = Environment.GetEnvironmentVariable(TorchRuntime.LibtorchVariable);
        try
        {
            Environment.SetEnvironmentVariable(TorchRuntime.LibtorchVariable, "/opt/venv/lib/python3.12/site-packages/torch/lib");
            var candidates = Nvrtc.Candidates().ToList();
            Assert.Contains("/opt/venv/lib/python3.12/site-packages/nvidia/cu13/lib/libnvrtc.so.13", candidates);
            Assert.Contains("/opt/venv/lib/python3.12/site-packages/nvidia/cuda_nvrtc/lib/libnvrtc.so.12", candidates);
            Assert.Equal("libnvrtc.so.13", candidates[0]);
        }
        finally
        {
            Environment.SetEnvironmentVariable(TorchRuntime.LibtorchVariable, previous);
        }
    }
}
