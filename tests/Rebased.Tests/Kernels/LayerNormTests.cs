using Rebased.Kernels.Normalization;
using Rebased.Models;
using Rebased.Modules;

namespace Rebased.Tests.Kernels;

public class LayerNormTests
{
    public LayerNormTests() => TorchRuntime.EnsureLoaded();

    [Fact]
    public void DispatchOnTheCpuIsLibtorchsLayerNorm()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(11);
        var x = randn(new long[] { 3, 5, 48 }, generator: generator) * 2 + 3;
        var w = randn(new long[] { 48 }, generator: generator);
        var b = randn(new long[] { 48 }, generator: generator);
        Assert.False(LayerNormForms.FusedSupports(x, w, b));
        Assert.True(LayerNormForms.Apply(x, w, b, 1e-5).equal(nn.functional.layer_norm(x, new long[] { 48 }, w, b, 1e-5)).all().item<bool>());
        Assert.True(LayerNormForms.Apply(x, null, null, 1e-3).equal(nn.functional.layer_norm(x, new long[] { 48 }, null, null, 1e-3)).all().item<bool>());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ModuleHasNnLayerNormsParametersAndOutput(bool affine)
    {
        using var scope = NewDisposeScope();
        using var ours = new FusedLayerNorm(24, 1e-4, elementwiseAffine: affine);
        using var theirs = nn.LayerNorm(24, 1e-4, elementwise_affine: affine);
        var ourParameters = ours.named_parameters().ToList();
        var theirParameters = theirs.named_parameters().ToList();
        Assert.Equal(theirParameters.Select(p => p.name), ourParameters.Select(p => p.name));
        foreach (var ((_, a), (_, b)) in ourParameters.Zip(theirParameters))
        {
            Assert.Equal(b.shape, a.shape);
            Assert.True(a.equal(b).all().item<bool>());
        }
        Assert.Equal(theirs.state_dict().Keys, ours.state_dict().Keys);

        using (no_grad())
            foreach (var ((_, a), (_, b)) in ourParameters.Zip(theirParameters))
                a.copy_(b.copy_(randn_like(b)));
        var x = randn(2, 7, 24);
        Assert.True(ours.forward(x).equal(theirs.forward(x)).all().item<bool>());
    }

    [Fact]
    public void ModuleRejectsAnInputOfAnotherWidth()
    {
        using var norm = new FusedLayerNorm(24, elementwiseAffine: false);
        Assert.Throws<ArgumentException>(() => norm.forward(zeros(2, 25)));
    }

    [Fact]
    public void NaiveFormMatchesAutogradInFloat64() => AssertMatchesAutograd(LayerNormForms.Naive, CPU, tolerance: 1e-6, inputTolerance: 1e-5);

    [Fact]
    public void ACorruptFormIsCaught()
    {
        var (y, _, _, _) = LayerNormCheck.Compare((x, w, b, eps) => LayerNormForms.Naive(x, w, b, eps * 100), CPU);
        Assert.True(y > 1e-5, $"output error {y}");
    }

    [Fact]
    public void FusedFormRefusesCpuTensors()
    {
        var e = Assert.Throws<ArgumentException>(() => LayerNormForms.Fused(zeros(2, 3), null, null, 1e-5));
        Assert.Contains("CUDA", e.Message);
    }

    [CudaFact]
    public void FusedCudaKernelsMatchAutogradInFloat64() => AssertMatchesAutograd(LayerNormForms.Fused, CUDA, tolerance: 1e-5, inputTolerance: 1e-5);

    [CudaFact]
    public void DispatchTakesTheFusedKernelsForFloat32CudaInputs()
    {
        using var scope = NewDisposeScope();
        var x = randn(new long[] { 6, 200 }, device: CUDA);
        var w = ones(200, device: CUDA);
        Assert.True(LayerNormForms.FusedSupports(x, w, null));
        Assert.False(LayerNormForms.FusedSupports(x.to(ScalarType.Float64), null, null));
        Assert.False(LayerNormForms.FusedSupports(randn(2, LayerNormForms.MaxFusedWidth + 1, device: CUDA), null, null));
        Assert.False(LayerNormForms.FusedSupports(x, ones(200), null));
    }

    /// <summary>The output and the weight and bias gradients within <paramref name="tolerance"/>, the input gradient within <paramref name="inputTolerance"/>.</summary>
    private static void AssertMatchesAutograd(Func<Tensor, Tensor?, Tensor?, double, Tensor> form, Device device, double tolerance, double inputTolerance)
    {
        var (y, dx, dweight, dbias) = LayerNormCheck.Compare(form, device);
        Assert.InRange(y, 0, tolerance);
        Assert.InRange(dx, 0, inputTolerance);
        Assert.InRange(dweight, 0, tolerance);
        Assert.InRange(dbias, 0, tolerance);
    }
}
