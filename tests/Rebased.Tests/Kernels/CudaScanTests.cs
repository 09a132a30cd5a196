using Rebased.Kernels;
using Rebased.Kernels.Scan;

namespace Rebased.Tests.Kernels;

/// <summary>
/// The fused CUDA WKV and selective-scan forms against the recurrent forms in float64 (outputs and every
/// gradient). The CUDA cases are skipped, with the reason shown, where no CUDA device is available; on a GPU
/// host without a test runner, `rebased bench scans --device cuda --check` runs the same comparisons.
/// </summary>
public class CudaScanTests
{
    public CudaScanTests() => TorchRuntime.EnsureLoaded();

    /// <summary>Null where CUDA runs; otherwise why the CUDA scan tests are skipped.</summary>
    public static string? NoCudaReason => CudaSkip.Reason("CUDA scan tests", "rebased bench scans");

    private static Tensor Leaf(Tensor t, Device device, ScalarType dtype) => t.to(dtype).to(device).detach().requires_grad_(true);

    private static Tensor[] Gradients(Tensor y, Tensor probe, Tensor[] inputs) =>
        autograd.grad(new[] { (y * probe).sum() }, inputs).ToArray();

    private static Tensor[] WkvInputs(long batch, long steps, long channels, double keyScale, int seed, Device device, ScalarType dtype)
    {
        var g = new Generator((ulong)seed);
        return
        [
            Leaf(randn(new[] { channels }, generator: g), device, dtype),
            Leaf(randn(new[] { channels }, generator: g), device, dtype),
            Leaf(randn(new[] { batch, steps, channels }, generator: g) * keyScale, device, dtype),
            Leaf(randn(new[] { batch, steps, channels }, generator: g), device, dtype),
        ];
    }

    [CudaScanTheory]
    [InlineData(1, 3, 5, 1.0)]
    [InlineData(2, 37, 130, 1.0)]
    [InlineData(3, 512, 64, 1.0)]
    [InlineData(2, 200, 16, 20.0)] // keys up to ±60: e^k over- and underflows fp32 without the running maxima
    public void WkvMatchesTheRecurrentFormInFloat64(long batch, long steps, long channels, double keyScale)
    {
        var x = WkvInputs(batch, steps, channels, keyScale, (int)steps, CUDA, ScalarType.Float32);
        var x64 = WkvInputs(batch, steps, channels, keyScale, (int)steps, CUDA, ScalarType.Float64);
        var y = WkvForms.Get("cuda").Forward(x[0], x[1], x[2], x[3]);
        var expected = new WkvRecurrent().Forward(x64[0], x64[1], x64[2], x64[3]);
        Assert.True(y.isfinite().all().item<bool>());
        // fp32 exponentials of keys of size s carry relative errors of about s·2⁻²⁴.
        Assert.True(TensorErrors.Relative(y, expected) < 1e-5 * keyScale, $"y: {TensorErrors.Relative(y, expected)}");

        var probe = randn(expected.shape, dtype: ScalarType.Float64, generator: new Generator(3)).to(CUDA);
        var grads = Gradients(y, probe.to(ScalarType.Float32), x);
        var expectedGrads = Gradients(expected, probe, x64);
        for (int i = 0; i < grads.Length; i++)
            Assert.True(TensorErrors.Relative(grads[i], expectedGrads[i]) < 1e-4, $"grad {i}: {TensorErrors.Relative(grads[i], expectedGrads[i])}");
    }

    [CudaScanFact]
    public void Bf16RoundingWrapsTheCudaWkv()
    {
        var x = WkvInputs(2, 40, 24, 1.0, 5, CUDA, ScalarType.Float32);
        var cudaForm = new WkvCuda();
        var exact = cudaForm.Forward(x[0], x[1], x[2], x[3]);
        var rounded = new Bf16RoundedWkv(cudaForm).Forward(x[0], x[1], x[2], x[3]);
        Assert.True(rounded.eq(exact.to(ScalarType.BFloat16).to(ScalarType.Float32)).all().item<bool>());

        var probe = randn(exact.shape, generator: new Generator(4)).to(CUDA);
        var grads = Gradients(rounded, probe, x);
        var expected = autograd.grad(new[] { exact }, x, new List<Tensor> { probe.to(ScalarType.BFloat16).to(ScalarType.Float32) }).ToArray();
        for (int i = 0; i < grads.Length; i++)
            Assert.True(grads[i].eq(expected[i].to(ScalarType.BFloat16).to(ScalarType.Float32)).all().item<bool>(), $"grad {i}");
    }

    private static Tensor[] ScanInputs(long batch, long channels, long states, long steps, int seed, Device device, ScalarType dtype)
    {
        var g = new Generator((ulong)seed);
        return
        [
            Leaf(randn(new[] { batch, channels, steps }, generator: g), device, dtype),
            Leaf(randn(new[] { batch, channels, steps }, generator: g) - 1, device, dtype),
            Leaf(-(rand(new[] { channels, states }, generator: g) * states + 0.5), device, dtype),
            Leaf(randn(new[] { batch, states, steps }, generator: g), device, dtype),
            Leaf(randn(new[] { batch, states, steps }, generator: g), device, dtype),
            Leaf(randn(new[] { channels }, generator: g), device, dtype),
            Leaf(randn(new[] { batch, channels, steps }, generator: g), device, dtype),
            Leaf(randn(new[] { channels }, generator: g) * 0.5, device, dtype),
        ];
    }

    private static Tensor RunScan(ISelectiveScan form, Tensor[] x, bool full) =>
        full
            ? form.Forward(x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7], deltaSoftplus: true)
            : form.Forward(x[0], x[1].abs(), x[2], x[3], x[4]);

    [CudaScanTheory]
    [InlineData(1, 3, 16, 1, true)]
    [InlineData(2, 40, 16, 33, true)]   // two blocks of channels, a partial chunk
    [InlineData(2, 20, 32, 64, true)]   // whole chunks only
    [InlineData(3, 7, 4, 100, true)]
    [InlineData(2, 24, 16, 70, false)]  // no D, z, Δ bias or softplus
    public void SelectiveScanMatchesTheRecurrentFormInFloat64(long batch, long channels, long states, long steps, bool full)
    {
        var x = ScanInputs(batch, channels, states, steps, (int)(steps + states), CUDA, ScalarType.Float32);
        var x64 = ScanInputs(batch, channels, states, steps, (int)(steps + states), CUDA, ScalarType.Float64);
        var used = full ? 8 : 5;
        var y = RunScan(SelectiveScanForms.Get("cuda"), x, full);
        var expected = RunScan(new SelectiveScanRecurrent(), x64, full);
        Assert.True(TensorErrors.Relative(y, expected) < 1e-5, $"y: {TensorErrors.Relative(y, expected)}");

        var probe = randn(expected.shape, dtype: ScalarType.Float64, generator: new Generator(2)).to(CUDA);
        var grads = Gradients(y, probe.to(ScalarType.Float32), x[..used]);
        var expectedGrads = Gradients(expected, probe, x64[..used]);
        for (int i = 0; i < used; i++)
            Assert.True(TensorErrors.Relative(grads[i], expectedGrads[i]) < 1e-4, $"grad {i}: {TensorErrors.Relative(grads[i], expectedGrads[i])}");
    }

    [CudaScanFact]
    public void AutoRunsTheCudaFormsOnFloat32CudaTensors()
    {
        Assert.Equal("cuda", WkvForms.Auto(CUDA, ScalarType.Float32).Name);
        Assert.Equal("parallel", WkvForms.Auto(CUDA, ScalarType.Float64).Name);
        var x = ScanInputs(1, 4, 16, 8, 1, CUDA, ScalarType.Float32);
        Assert.Equal("cuda", SelectiveScanForms.Auto(x[0], x[2]).Name);
        var wide = ScanInputs(1, 4, 12, 8, 1, CUDA, ScalarType.Float32);
        Assert.Equal("parallel", SelectiveScanForms.Auto(wide[0], wide[2]).Name);
    }

    [Fact]
    public void AutoKeepsTheParallelFormsOnTheCpu()
    {
        Assert.Equal("parallel", WkvForms.Auto(CPU, ScalarType.Float32).Name);
        var x = ScanInputs(1, 4, 16, 8, 1, CPU, ScalarType.Float32);
        Assert.Equal("parallel", SelectiveScanForms.Auto(x[0], x[2]).Name);
        Assert.DoesNotContain(WkvForms.Supporting(CPU, ScalarType.Float32), f => f.Name == "cuda");
        Assert.DoesNotContain(SelectiveScanForms.Supporting(CPU, ScalarType.Float32), f => f.Name == "cuda");
    }

    [Fact]
    public void PartialResultsAreSummedOverTheirFirstDimensionOnly()
    {
        var gradientPartials = arange(6, dtype: ScalarType.Float32).reshape(2, 3); // [B, C]
        Assert.Equal(new[] { 3f, 5f, 7f }, ScanKernels.SumOverFirstDimension(gradientPartials).data<float>().ToArray());
        var blockPartials = ones(4, 2, 16, 5); // [blocks, B, N, L]
        var summed = ScanKernels.SumOverFirstDimension(blockPartials);
        Assert.Equal(new long[] { 2, 16, 5 }, summed.shape);
        Assert.True(summed.eq(4).all().item<bool>());
    }

    [Fact]
    public void TheCudaFormsRefuseCpuTensorsByName()
    {
        var w = WkvInputs(1, 4, 3, 1.0, 1, CPU, ScalarType.Float32);
        var e = Assert.Throws<ArgumentException>(() => new WkvCuda().Forward(w[0], w[1], w[2], w[3]));
        Assert.Contains("time_decay is Float32 on cpu", e.Message);
        var x = ScanInputs(1, 4, 16, 8, 1, CPU, ScalarType.Float32);
        e = Assert.Throws<ArgumentException>(() => new SelectiveScanCuda().Forward(x[0], x[1], x[2], x[3], x[4]));
        Assert.Contains("u is Float32 on cpu", e.Message);
    }
}
