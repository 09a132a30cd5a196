namespace Rebased.Kernels.LinearAttention;

/// <summary>
/// The fused form on CPU, fp32: tiled, vectorised (AVX2/FMA with a scalar fallback), multi-threaded forward
/// and backward in C# (<see cref="CpuFusedKernel"/>), plugged into autograd as a custom function. Saves only
/// q, k, v, y and z for the backward, which recomputes the score tiles.
/// </summary>
public sealed class CpuFused : ILinearAttention
{
    public string Name => "fused";

    public bool Supports(Device device, ScalarType dtype) => device.type == DeviceType.CPU && dtype == ScalarType.Float32;

    public Tensor Forward(Tensor q, Tensor k, Tensor v, PolynomialKernel kernel, double scale, double eps)
    {
        CheckInputs(q, k, v);
        return CpuFusedFunction.apply(q, k, v, kernel, scale, eps);
    }

    /// <summary>The forward without autograd, with the scalar path selectable (for tests of the fallback).</summary>
    internal static (Tensor Y, Tensor Z) ForwardRaw(Tensor q, Tensor k, Tensor v, PolynomialKernel kernel, double scale, double eps, bool allowVectors = true)
    {
        CheckInputs(q, k, v);
        using var scope = NewDisposeScope();
        q = q.contiguous(); k = k.contiguous(); v = v.contiguous();
        var shape = ShapeOf(q, v);
        var y = empty(v.shape, ScalarType.Float32);
        var z = empty(q.shape[..^1], ScalarType.Float32);
        unsafe
        {
            CpuFusedKernel.Forward(Ptr(q), Ptr(k), Ptr(v), Ptr(y), Ptr(z), shape, kernel, (float)scale, (float)eps, allowVectors);
        }
        return (y.MoveToOuterDisposeScope(), z.MoveToOuterDisposeScope());
    }

    /// <summary>dq, dk, dv from dy and the forward's y and z, with the scalar path selectable.</summary>
    internal static (Tensor Dq, Tensor Dk, Tensor Dv) BackwardRaw(Tensor q, Tensor k, Tensor v, Tensor y, Tensor z, Tensor dy,
        PolynomialKernel kernel, double scale, double eps, bool allowVectors = true)
    {
        using var scope = NewDisposeScope();
        q = q.contiguous(); k = k.contiguous(); v = v.contiguous(); y = y.contiguous(); z = z.contiguous();
        dy = dy.to(ScalarType.Float32).contiguous();
        var shape = ShapeOf(q, v);
        var dq = empty(q.shape, ScalarType.Float32);
        var dk = zeros(k.shape, ScalarType.Float32);
        var dv = zeros(v.shape, ScalarType.Float32);
        unsafe
        {
            CpuFusedKernel.Backward(Ptr(q), Ptr(k), Ptr(v), Ptr(y), Ptr(z), Ptr(dy), Ptr(dq), Ptr(dk), Ptr(dv),
                shape, kernel, (float)scale, (float)eps, allowVectors);
        }
        return (dq.MoveToOuterDisposeScope(), dk.MoveToOuterDisposeScope(), dv.MoveToOuterDisposeScope());
    }

    private static void CheckInputs(Tensor q, Tensor k, Tensor v)
    {
        foreach (var (name, t) in new[] { ("q", q), ("k", k), ("v", v) })
        {
            if (t.device_type != DeviceType.CPU || t.dtype != ScalarType.Float32)
                throw new ArgumentException($"fused CPU linear attention needs float32 CPU tensors; {name} is {t.device_type} {t.dtype}");
            if (t.dim() != 4) throw new ArgumentException($"fused CPU linear attention needs [B, H, T, *] tensors; {name} has shape [{string.Join(", ", t.shape)}]");
        }
        if (!q.shape.SequenceEqual(k.shape)) throw new ArgumentException($"q [{string.Join(", ", q.shape)}] and k [{string.Join(", ", k.shape)}] differ in shape");
        if (!q.shape[..3].SequenceEqual(v.shape[..3])) throw new ArgumentException($"q [{string.Join(", ", q.shape)}] and v [{string.Join(", ", v.shape)}] differ in B, H or T");
        if (q.shape[3] > 128) throw new ArgumentException($"fused CPU linear attention supports D ≤ 128, got D = {q.shape[3]}");
    }

    private static CpuFusedKernel.Shape ShapeOf(Tensor q, Tensor v) =>
        new(checked((int)(q.shape[0] * q.shape[1])), checked((int)q.shape[2]), (int)q.shape[3], checked((int)v.shape[3]));

    private static unsafe float* Ptr(Tensor t) => (float*)t.storage<float>().data_ptr() + t.storage_offset();

    private sealed class CpuFusedFunction : FusedAttentionFunction<CpuFusedFunction>
    {
        public override string Name => nameof(CpuFusedFunction);

        protected override (Tensor Y, Tensor YSaved, Tensor Z) Forward(Tensor q, Tensor k, Tensor v, PolynomialKernel kernel, double scale, double eps)
        {
            var (y, z) = ForwardRaw(q, k, v, kernel, scale, eps);
            return (y, y, z);
        }

        protected override (Tensor Dq, Tensor Dk, Tensor Dv) Backward(Tensor q, Tensor k, Tensor v, Tensor y, Tensor z, Tensor dy,
            PolynomialKernel kernel, double scale, double eps) => BackwardRaw(q, k, v, y, z, dy, kernel, scale, eps);
    }
}
