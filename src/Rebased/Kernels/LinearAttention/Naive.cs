namespace Rebased.Kernels.LinearAttention;

/// <summary>The reference form: the masked T×T quadratic form in plain TorchSharp ops (O(T²) memory).</summary>
public sealed class Naive : ILinearAttention
{
    public string Name => "naive";

    public bool Supports(Device device, ScalarType dtype) => true;

    public Tensor Forward(Tensor q, Tensor k, Tensor v, PolynomialKernel kernel, double scale, double eps)
    {
        using var scope = NewDisposeScope();
        // 16-bit inputs are computed in float32: in bf16 the backward's terms g·(v_s − y_t) cancel after rounding
        // (relative errors of 0.1 in dq at T = 64, D = 32), which is the arithmetic's error, not the definition's.
        var outputType = v.dtype;
        if (outputType is ScalarType.BFloat16 or ScalarType.Float16)
            (q, k, v) = (q.to(ScalarType.Float32), k.to(ScalarType.Float32), v.to(ScalarType.Float32));
        var x = matmul(q * scale, k.transpose(-2, -1));
        var a = kernel switch
        {
            PolynomialKernel.Rebased => x.square(),
            PolynomialKernel.Based => 1 + x + 0.5 * x.square(),
            _ => throw new ArgumentOutOfRangeException(nameof(kernel)),
        };
        long t = q.shape[^2];
        a = a.masked_fill(ones(t, t, ScalarType.Bool, q.device).triu(1), 0);
        var y = matmul(a.to(v.dtype), v) / (a.sum(-1, keepdim: true).to(v.dtype) + eps);
        return y.to(outputType).MoveToOuterDisposeScope();
    }
}
