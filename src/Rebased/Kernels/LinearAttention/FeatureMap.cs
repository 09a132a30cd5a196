namespace Rebased.Kernels.LinearAttention;

/// <summary>
/// The feature map φ with φ(q)·φ(k) = f(scale · q·k): ReBased φ(x) = scale·vec(x⊗x) (D² features);
/// Based φ(x) = [1, √scale·x, scale·vec(x⊗x)/√2] (1 + D + D² features).
/// </summary>
public static class FeatureMap
{
    public static long Features(PolynomialKernel kernel, long d) => kernel switch
    {
        PolynomialKernel.Rebased => d * d,
        PolynomialKernel.Based => 1 + d + d * d,
        _ => throw new ArgumentOutOfRangeException(nameof(kernel)),
    };

    /// <summary>φ over the last dimension: [..., D] → [..., Features].</summary>
    public static Tensor Apply(Tensor x, PolynomialKernel kernel, double scale)
    {
        using var scope = NewDisposeScope();
        var square = (x.unsqueeze(-1) * x.unsqueeze(-2)).flatten(-2);
        var phi = kernel switch
        {
            PolynomialKernel.Rebased => square * scale,
            PolynomialKernel.Based => cat([ones_like(x[TensorIndex.Ellipsis, TensorIndex.Slice(0, 1)]), x * Math.Sqrt(scale), square * (scale / Math.Sqrt(2))], -1),
            _ => throw new ArgumentOutOfRangeException(nameof(kernel)),
        };
        return phi.MoveToOuterDisposeScope();
    }

    /// <summary>f(x) for x = scale·q·k: x² (ReBased) or 1 + x + x²/2 (Based).</summary>
    public static Tensor Weight(Tensor x, PolynomialKernel kernel) => kernel switch
    {
        PolynomialKernel.Rebased => x.square(),
        PolynomialKernel.Based => 1 + x + 0.5 * x.square(),
        _ => throw new ArgumentOutOfRangeException(nameof(kernel)),
    };
}
