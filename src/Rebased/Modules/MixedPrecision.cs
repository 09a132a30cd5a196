using Rebased.Configs;
using TorchSharp.Modules;

namespace Rebased.Modules;

/// <summary>
/// Autocast-style mixed precision. Inside <see cref="Use"/> with bfloat16, the model's matrix products (its Linear
/// layers, attention scores and values, the fused linear attention on CUDA and the output layer) take bfloat16
/// operands, accumulate in fp32 inside the kernels and hand fp32 results on; parameters, optimizer state,
/// LayerNorms, scans, the softmax and the loss stay fp32, as under torch.autocast(dtype=torch.bfloat16) for these
/// operations. Autograd records the casts, so the backward's products run in bfloat16 too. The default, fp32
/// everywhere, is the reference's numerics.
/// </summary>
public static class MixedPrecision
{
    private static readonly AsyncLocal<ScalarType?> Active = new();

    /// <summary>The operand type of matrix products in this context, or null for fp32 everywhere.</summary>
    public static ScalarType? ProductType => Active.Value;

    /// <summary>Runs the enclosed model code with matrix products in the named precision (fp32 or bf16).</summary>
    public static IDisposable Use(string precision)
    {
        var previous = Active.Value;
        Active.Value = precision switch
        {
            PrecisionNames.Float32 => null,
            PrecisionNames.BFloat16 => ScalarType.BFloat16,
            _ => throw new ArgumentException($"precision '{precision}': expected {string.Join(" or ", PrecisionNames.Names)}"),
        };
        return new Restore(previous);
    }

    public static Tensor Linear(Linear layer, Tensor x) => Linear(x, layer.weight!, layer.bias);

    /// <summary>x·Wᵀ + b, as nn.functional.linear.</summary>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias = null) =>
        ProductType is { } t && x.dtype == ScalarType.Float32
            ? nn.functional.linear(x.to(t), weight.to(t), bias?.to(t)).to(ScalarType.Float32)
            : nn.functional.linear(x, weight, bias);

    public static Tensor Matmul(Tensor a, Tensor b) =>
        ProductType is { } t && a.dtype == ScalarType.Float32 && b.dtype == ScalarType.Float32
            ? a.to(t).matmul(b.to(t)).to(ScalarType.Float32)
            : a.matmul(b);

    /// <summary>c + a·b with the product in the active precision (the accumulation into c stays in c's type).</summary>
    public static Tensor AddMatmul_(Tensor c, Tensor a, Tensor b) =>
        ProductType is { } t && a.dtype == ScalarType.Float32 && b.dtype == ScalarType.Float32
            ? c.add_(a.to(t).matmul(b.to(t)))
            : c.addmm_(a, b);

    private sealed class Restore(ScalarType? previous) : IDisposable
    {
        public void Dispose() => Active.Value = previous;
    }
}
