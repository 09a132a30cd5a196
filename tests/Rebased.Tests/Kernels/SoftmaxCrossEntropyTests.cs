using Rebased.Kernels.CrossEntropy;

namespace Rebased.Tests.Kernels;

public class SoftmaxCrossEntropyTests
{
    public SoftmaxCrossEntropyTests() => TorchRuntime.EnsureLoaded();

    [Fact]
    public void NaiveFormMatchesAutogradInFloat64() => AssertMatchesAutograd(SoftmaxCrossEntropy.Naive, CPU);

    [Fact]
    public void ACorruptFormIsCaught()
    {
        var (_, gradient) = SoftmaxCrossEntropyCheck.Compare((z, t, s) => SoftmaxCrossEntropy.Naive(z, t, s * 1.001), CPU);
        Assert.True(gradient > 1e-4, $"gradient error {gradient}");
    }

    [CudaFact]
    public void FusedCudaKernelMatchesAutogradInFloat64() => AssertMatchesAutograd(SoftmaxCrossEntropy.Fused, CUDA);

    [Fact]
    public void FusedFormRefusesCpuTensors()
    {
        var e = Assert.Throws<ArgumentException>(() => SoftmaxCrossEntropy.Fused(zeros(2, 3), zeros(2, ScalarType.Int64), 1.0));
        Assert.Contains("CUDA", e.Message);
    }

    private static void AssertMatchesAutograd(Func<Tensor, Tensor, double, Tensor> form, Device device)
    {
        var (loss, gradient) = SoftmaxCrossEntropyCheck.Compare(form, device);
        Assert.InRange(loss, 0, 1e-6);
        Assert.InRange(gradient, 0, 1e-6);
    }
}
