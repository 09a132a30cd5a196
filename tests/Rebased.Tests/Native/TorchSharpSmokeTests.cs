namespace Rebased.Tests.Native;

public class TorchSharpSmokeTests
{
    public TorchSharpSmokeTests() => TorchRuntime.EnsureLoaded();

    [Fact]
    public void MatmulMatchesHandComputedValues()
    {
        using var a = tensor(new float[] { 1, 2, 3, 4 }).reshape(2, 2);
        using var b = tensor(new float[] { 5, 6, 7, 8 }).reshape(2, 2);
        using var c = matmul(a, b);
        Assert.Equal(new float[] { 19, 22, 43, 50 }, c.data<float>().ToArray());
    }

    [Fact]
    public void AutogradGradientOfCubicSum()
    {
        // d/dx Σ x³ = 3x²
        using var x = tensor(new double[] { -1.5, 0.5, 2.0 }, requires_grad: true);
        using var y = x.pow(3).sum();
        y.backward();
        Assert.Equal(new[] { 6.75, 0.75, 12.0 }, x.grad!.data<double>().ToArray());
    }
}
