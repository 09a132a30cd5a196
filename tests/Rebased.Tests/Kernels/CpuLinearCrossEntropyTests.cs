using Rebased.Kernels;
using Rebased.Kernels.CrossEntropy;

namespace Rebased.Tests.Kernels;

public class CpuLinearCrossEntropyTests
{
    public CpuLinearCrossEntropyTests() => TorchRuntime.EnsureLoaded();

    [Theory]
    [InlineData(67, 40, 1000)]
    [InlineData(32, 8, 8)]
    [InlineData(1, 32, 8192)]
    [InlineData(300, 128, 512)]
    public void MatchesAutogradThroughLinearAndCrossEntropyInFloat64(int rows, int d, int vocab)
    {
        using var generator = new Generator(20240214);
        var h = randn(new long[] { rows, d }, ScalarType.Float64, generator: generator);
        var w = randn(new long[] { vocab, d }, ScalarType.Float64, generator: generator) * 0.3;
        var targets = randint(0, vocab, new long[] { rows }, generator: generator);
        const double scale = 0.37;

        var hLeaf = h.clone().requires_grad_();
        var wLeaf = w.clone().requires_grad_();
        var referenceLoss = nn.functional.cross_entropy(nn.functional.linear(hLeaf, wLeaf), targets, reduction: nn.Reduction.Sum);
        (referenceLoss * scale).backward();

        var dHidden = empty(rows, d);
        var dWeight = full(vocab, d, 0.5f);
        double loss = CpuLinearCrossEntropy.ForwardBackward(h.to(ScalarType.Float32), w.to(ScalarType.Float32), targets, scale, dHidden, dWeight);

        Assert.Equal(referenceLoss.item<double>(), loss, referenceLoss.item<double>() * 1e-6);
        Assert.True(TensorErrors.Relative(dHidden, hLeaf.grad!) < 1e-5, $"dh {TensorErrors.Relative(dHidden, hLeaf.grad!)}");
        Assert.True(TensorErrors.Relative(dWeight - 0.5, wLeaf.grad!) < 1e-5, $"dW {TensorErrors.Relative(dWeight - 0.5, wLeaf.grad!)} (accumulated onto what was there)");
    }

    [Fact]
    public void RefusesShapesItDoesNotCover()
    {
        Assert.False(CpuLinearCrossEntropy.Supports(zeros(4, 12), zeros(16, 12)));
        Assert.False(CpuLinearCrossEntropy.Supports(zeros(4, 16), zeros(12, 16)));
        Assert.True(CpuLinearCrossEntropy.Supports(zeros(4, 16), zeros(24, 16)));
        var e = Assert.Throws<ArgumentException>(() => CpuLinearCrossEntropy.ForwardBackward(zeros(2, 8), zeros(8, 8),
            tensor(new long[] { 0, 8 }), 1.0, empty(2, 8), zeros(8, 8)));
        Assert.Contains("vocabulary", e.Message);
    }
}
