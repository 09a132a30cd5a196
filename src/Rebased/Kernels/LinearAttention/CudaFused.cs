using Rebased.Native;

namespace Rebased.Kernels.LinearAttention;

/// <summary>
/// The fused form on CUDA: forward and backward kernels (CudaFused.cu) compiled at run time by NVRTC,
/// specialised per dtype, kernel, padded D and Dv block, launched on libtorch's default stream in the
/// primary context on the tensors' device memory. fp32 inputs run register-tiled IEEE fp32 kernels on the
/// CUDA cores, or, as the form fused_tf32x3, 3xTF32 tensor-core kernels (each operand split into a high and a
/// low TF32 part, three products per tile for fp32-level error); bf16/fp16 inputs run tensor-core (mma.sync)
/// kernels with fp32 accumulation. The normalisation
/// y = o / (z + eps) is fused, and the backward recomputes the score tiles from q, k, v, reading only y, z
/// and dy besides (dq, and dk when Dv is split over blocks, accumulate with fp32 atomics). Inputs that are the
/// head-split views of [B, T, H, W] projections are read in place, and the outputs come back in that layout.
/// </summary>
public sealed class CudaFused(bool tf32x3 = false) : ILinearAttention
{
    private const uint PrepThreads = 256;
    private const int Tile = 64;

    public string Name => tf32x3 ? "fused_tf32x3" : "fused";

    public bool Supports(Device device, ScalarType dtype) =>
        device.type == DeviceType.CUDA && (tf32x3 ? dtype == ScalarType.Float32 : dtype is ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16);

    public Tensor Forward(Tensor q, Tensor k, Tensor v, PolynomialKernel kernel, double scale, double eps)
    {
        CheckInputs(q, k, v);
        return tf32x3 ? Tf32x3Function.apply(q, k, v, kernel, scale, eps) : CudaFusedFunction.apply(q, k, v, kernel, scale, eps);
    }

    internal static void CheckInputs(Tensor q, Tensor k, Tensor v)
    {
        foreach (var (name, t) in new[] { ("q", q), ("k", k), ("v", v) })
        {
            if (t.device_type != DeviceType.CUDA)
                throw new ArgumentException($"fused CUDA linear attention needs CUDA tensors; {name} is on {t.device}");
            if (t.dtype != q.dtype || t.dtype is not (ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16))
                throw new ArgumentException($"fused CUDA linear attention needs q, k, v of one dtype among float32, bfloat16, float16; {name} is {t.dtype}");
            if (t.dim() != 4) throw new ArgumentException($"fused CUDA linear attention needs [B, H, T, *] tensors; {name} has shape [{string.Join(", ", t.shape)}]");
            if (t.device.index != q.device.index) throw new ArgumentException($"q and {name} are on different devices");
        }
        if (!q.shape.SequenceEqual(k.shape)) throw new ArgumentException($"q [{string.Join(", ", q.shape)}] and k [{string.Join(", ", k.shape)}] differ in shape");
        if (!q.shape[..3].SequenceEqual(v.shape[..3])) throw new ArgumentException($"q [{string.Join(", ", q.shape)}] and v [{string.Join(", ", v.shape)}] differ in B, H or T");
        if (q.shape[3] > 128) throw new ArgumentException($"fused CUDA linear attention supports D ≤ 128, got D = {q.shape[3]}");
        if (q.shape[2] > int.MaxValue / 2 || v.shape[3] > int.MaxValue / 2 || q.shape[0] * q.shape[1] > 65535)
            throw new ArgumentException($"fused CUDA linear attention: shape [{string.Join(", ", q.shape)}] / Dv {v.shape[3]} out of range (B·H ≤ 65535)");
    }

    /// <summary>
    /// Compile-time shape of one kernel variant. fp32 runs the register-tiled CUDA-core kernels (256 threads,
    /// Dv blocks of 8, 16, 32 or 64) or the 3xTF32 tensor-core kernels (128 threads, Dv blocks of a multiple of 8
    /// up to 64); 16-bit dtypes run the tensor-core kernels (128 threads, Dv blocks of a multiple of 16 up to 64).
    /// </summary>
    internal readonly record struct Variant(ScalarType Dtype, PolynomialKernel Kernel, int DP, int BV, bool Tf32x3)
    {
        public static Variant For(ScalarType dtype, PolynomialKernel kernel, int d, int dv, bool tf32x3 = false)
        {
            if (tf32x3 && dtype != ScalarType.Float32) throw new ArgumentException($"3xTF32 kernels take float32 inputs, got {dtype}");
            int dp = (d + 15) / 16 * 16;
            int bv = tf32x3 ? Math.Min(64, (dv + 7) / 8 * 8)
                : dtype == ScalarType.Float32 ? dv <= 8 ? 8 : dv <= 16 ? 16 : dv <= 32 ? 32 : 64
                : Math.Min(64, (dv + 15) / 16 * 16);
            return new(dtype, kernel, dp, bv, tf32x3);
        }

        public bool TensorCores => Dtype != ScalarType.Float32 || Tf32x3;

        /// <summary>16-bit inputs: the forward also writes an fp32 copy of y for the backward.</summary>
        public bool SixteenBit => Dtype != ScalarType.Float32;

        public uint Threads => TensorCores ? 128u : 256u;

        /// <summary>Query rows per forward block: 128 for 16-bit inputs (two 16-row MMA tiles per warp), else 64.</summary>
        public int ForwardRows => SixteenBit ? 128 : Tile;
        public string ForwardName => Tf32x3 ? "la_forward_tf32" : TensorCores ? "la_forward_mma" : "la_forward";
        public string BackwardName => Tf32x3 ? "la_backward_tf32" : TensorCores ? "la_backward_mma" : "la_backward";
        public string PrepName => TensorCores ? "la_backward_prep_mma" : "la_backward_prep";

        private int SQ => DP + 4;
        private int SV => BV + 4;
        private int SA => Tile + (BV < 16 ? BV : 16);

        /// <summary>Dynamic shared memory in bytes. The tensor-core kernels double-buffer the tiles they stream (keys and
        /// values in the forward, queries, dor and delta in the backward) so that the next tile's copy overlaps the current one's work.</summary>
        public int ForwardShared =>
            Tf32x3 ? 4 * Tile * (3 * (DP + 4) + 2 * (BV + 4))
            : TensorCores ? 2 * (ForwardRows * (DP + 8) + 2 * Tile * (DP + 8 + BV + 8))
            : 4 * Tile * (2 * SQ + SV + SA);

        public int BackwardShared =>
            Tf32x3 ? 4 * (2 * Tile + Tile * (3 * (DP + 4) + 3 * (BV + 4) + Tile + 4))
            : TensorCores ? 4 * 2 * Tile + 2 * Tile * (3 * (DP + 8) + 3 * (BV + 8) + Tile + 8)
            : 4 * (Tile * (2 * SQ + 2 * SV + 2 * SA) + Tile);

        public string[] Defines =>
        [
            $"ELEM_KIND={Dtype switch { ScalarType.Float32 => 0, ScalarType.BFloat16 => 1, _ => 2 }}",
            $"KERNEL={(Kernel == PolynomialKernel.Rebased ? 0 : 1)}",
            $"TF32X3={(Tf32x3 ? 1 : 0)}",
            $"DP={DP}",
            $"BV={BV}",
        ];
    }

    private const string SourceFile = "CudaFused.cu";

    /// <summary>
    /// Whether a [B, H, T, W] tensor is the head-split view of a dense [B, T, H, W] tensor (what the mixers pass:
    /// the projections' output viewed per head), which the kernels read through strides instead of a copy.
    /// </summary>
    internal static bool IsInterleaved(Tensor t)
    {
        long[] shape = t.shape, stride = t.stride();
        long[] dense = [shape[2] * shape[1] * shape[3], shape[3], shape[1] * shape[3], 1];
        for (int i = 0; i < 4; i++)
            if (shape[i] > 1 && stride[i] != dense[i]) return false;
        return true;
    }

    /// <summary>
    /// t in the kernels' layout: [B, T, H, W] dense viewed as [B, H, T, W] when interleaved, else contiguous
    /// [B, H, T, W]; copied only where it is not so already, or where its first element is not 16-byte aligned
    /// (the kernels' vector loads need that).
    /// </summary>
    private static Tensor InLayout(Tensor t, bool interleaved)
    {
        bool ready = interleaved ? IsInterleaved(t) : t.is_contiguous();
        if (ready && DevicePointers.Of(t) % 16 == 0) return t;
        return NewInLayout(t.shape, t.dtype, t.device, interleaved, zeroed: false).copy_(t);
    }

    private static bool Interleaved(Tensor q, Tensor k, Tensor v) => IsInterleaved(q) && IsInterleaved(k) && IsInterleaved(v);

    /// <summary>A new tensor of [B, H, T, W] shape in the kernels' layout.</summary>
    private static Tensor NewInLayout(long[] shape, ScalarType dtype, Device device, bool interleaved, bool zeroed)
    {
        long[] stored = interleaved ? [shape[0], shape[2], shape[1], shape[3]] : shape;
        var t = zeroed ? zeros(stored, dtype, device) : empty(stored, dtype, device);
        return interleaved ? t.transpose(1, 2) : t;
    }

    /// <summary>
    /// y = o / (z + eps) in the inputs' dtype, the y the backward reads (y itself for fp32, an fp32 copy for
    /// 16-bit inputs, so that the gradient through the normalisation cancels without 16-bit rounding) and z
    /// (fp32, [B, H, T]).
    /// </summary>
    internal static unsafe (Tensor Y, Tensor YSaved, Tensor Z) ForwardRaw(Tensor q, Tensor k, Tensor v, PolynomialKernel kernel, double scale, double eps,
        bool tf32x3 = false)
    {
        CheckInputs(q, k, v);
        using var scope = NewDisposeScope();
        bool interleaved = Interleaved(q, k, v);
        q = InLayout(q, interleaved); k = InLayout(k, interleaved); v = InLayout(v, interleaved);
        int bh = (int)(q.shape[0] * q.shape[1]), t = (int)q.shape[2], d = (int)q.shape[3], dv = (int)v.shape[3];
        int heads = (int)q.shape[1], layout = interleaved ? 1 : 0;
        var variant = Variant.For(q.dtype, kernel, d, dv, tf32x3);
        var y = NewInLayout(v.shape, v.dtype, v.device, interleaved, zeroed: false);
        var y32 = variant.SixteenBit ? NewInLayout(v.shape, ScalarType.Float32, v.device, interleaved, zeroed: false) : y;
        var z = empty(q.shape[..3], ScalarType.Float32, q.device);
        if (t > 0 && bh > 0 && dv > 0)
        {
            IntPtr qp = DevicePointers.Of(q), kp = DevicePointers.Of(k), vp = DevicePointers.Of(v), yp = DevicePointers.Of(y), y32p = DevicePointers.Of(y32), zp = DevicePointers.Of(z);
            float s = (float)scale, e = (float)eps;
            void** args = stackalloc void*[13];
            int n = 0;
            args[n++] = &qp; args[n++] = &kp; args[n++] = &vp; args[n++] = &yp;
            if (variant.SixteenBit) args[n++] = &y32p;
            args[n++] = &zp; args[n++] = &t; args[n++] = &d; args[n++] = &dv; args[n++] = &s; args[n++] = &e;
            args[n++] = &heads; args[n++] = &layout;
            uint tiles = (uint)((t + variant.ForwardRows - 1) / variant.ForwardRows), vBlocks = (uint)((dv + variant.BV - 1) / variant.BV);
            CudaModules.Launch(q, SourceFile, variant.Defines, variant.ForwardName, (tiles, vBlocks, (uint)bh), variant.Threads, (uint)variant.ForwardShared, args);
        }
        return (y.MoveToOuterDisposeScope(), y32.MoveToOuterDisposeScope(), z.MoveToOuterDisposeScope());
    }

    /// <summary>dq, dk, dv (in the inputs' dtype) from dy and the forward's saved y and z.</summary>
    internal static unsafe (Tensor Dq, Tensor Dk, Tensor Dv) BackwardRaw(Tensor q, Tensor k, Tensor v, Tensor y, Tensor z, Tensor dy,
        PolynomialKernel kernel, double scale, double eps, bool tf32x3 = false)
    {
        CheckInputs(q, k, v);
        using var scope = NewDisposeScope();
        bool interleaved = Interleaved(q, k, v);
        q = InLayout(q, interleaved); k = InLayout(k, interleaved); v = InLayout(v, interleaved); y = InLayout(y, interleaved); z = z.contiguous();
        if (y.dtype != ScalarType.Float32)
            throw new ArgumentException($"fused CUDA backward needs the forward's saved fp32 y, got {y.dtype}");
        dy = InLayout(dy.to(v.dtype), interleaved);
        int bh = (int)(q.shape[0] * q.shape[1]), t = (int)q.shape[2], d = (int)q.shape[3], dv = (int)v.shape[3];
        int heads = (int)q.shape[1], layout = interleaved ? 1 : 0;
        var variant = Variant.For(q.dtype, kernel, d, dv, tf32x3);
        uint tiles = (uint)((t + Tile - 1) / Tile), vBlocks = (uint)((dv + variant.BV - 1) / variant.BV);
        var dq = NewInLayout(q.shape, ScalarType.Float32, q.device, interleaved, zeroed: true);
        // The 16-bit backward writes dk in the inputs' dtype unless Dv is split over blocks, which sum it in fp32.
        bool dkSummed = vBlocks > 1 || !variant.SixteenBit;
        var dk = NewInLayout(k.shape, dkSummed ? ScalarType.Float32 : k.dtype, k.device, interleaved, zeroed: vBlocks > 1);
        var dvOut = NewInLayout(v.shape, v.dtype, v.device, interleaved, zeroed: false);
        if (t > 0 && bh > 0 && dv > 0)
        {
            // CUDA cores: rz = 1 / (z + eps) per row; tensor cores: dor = dy · rz in the inputs' dtype, in dy's layout.
            var scaled = variant.TensorCores
                ? NewInLayout(v.shape, v.dtype, v.device, interleaved, zeroed: false)
                : empty(z.shape, ScalarType.Float32, z.device);
            var delta = empty(z.shape, ScalarType.Float32, z.device);
            IntPtr yp = DevicePointers.Of(y), dyp = DevicePointers.Of(dy), zp = DevicePointers.Of(z), scaledp = DevicePointers.Of(scaled), deltap = DevicePointers.Of(delta);
            long rows = (long)bh * t;
            float e = (float)eps, s = (float)scale;
            void** prepArgs = stackalloc void*[] { &yp, &dyp, &zp, &scaledp, &deltap, &rows, &t, &dv, &e, &heads, &layout };
            CudaModules.Launch(q, SourceFile, variant.Defines, variant.PrepName, ((uint)((rows + 7) / 8), 1, 1), PrepThreads, 0, prepArgs);

            IntPtr qp = DevicePointers.Of(q), kp = DevicePointers.Of(k), vp = DevicePointers.Of(v), dqp = DevicePointers.Of(dq), dkp = DevicePointers.Of(dk), dvp = DevicePointers.Of(dvOut);
            IntPtr dkSum = dkSummed ? dkp : IntPtr.Zero, dkDirect = dkSummed ? IntPtr.Zero : dkp;
            void** args = stackalloc void*[16];
            int n = 0;
            args[n++] = &qp; args[n++] = &kp; args[n++] = &vp;
            if (!variant.TensorCores) args[n++] = &dyp;
            args[n++] = &scaledp; args[n++] = &deltap; args[n++] = &dqp;
            if (variant.SixteenBit) { args[n++] = &dkSum; args[n++] = &dkDirect; }
            else args[n++] = &dkp;
            args[n++] = &dvp;
            args[n++] = &t; args[n++] = &d; args[n++] = &dv; args[n++] = &s; args[n++] = &heads; args[n++] = &layout;
            CudaModules.Launch(q, SourceFile, variant.Defines, variant.BackwardName, (tiles, vBlocks, (uint)bh), variant.Threads, (uint)variant.BackwardShared, args);
        }
        else
        {
            dk.zero_();
            dvOut.zero_();
        }
        return (dq.to(q.dtype).MoveToOuterDisposeScope(), dk.to(q.dtype).MoveToOuterDisposeScope(), dvOut.MoveToOuterDisposeScope());
    }

    /// <summary>The autograd function of the CUDA kernels, the fp32 ones on the CUDA cores or in 3xTF32.</summary>
    private abstract class CudaFunction<T> : FusedAttentionFunction<T> where T : CudaFunction<T>, new()
    {
        protected abstract bool Tf32x3 { get; }

        protected override Tensor Prepared(Tensor input) => input;

        protected override (Tensor Y, Tensor YSaved, Tensor Z) Forward(Tensor q, Tensor k, Tensor v, PolynomialKernel kernel, double scale, double eps) =>
            ForwardRaw(q, k, v, kernel, scale, eps, Tf32x3);

        protected override (Tensor Dq, Tensor Dk, Tensor Dv) Backward(Tensor q, Tensor k, Tensor v, Tensor y, Tensor z, Tensor dy,
            PolynomialKernel kernel, double scale, double eps) => BackwardRaw(q, k, v, y, z, dy, kernel, scale, eps, Tf32x3);
    }

    private sealed class CudaFusedFunction : CudaFunction<CudaFusedFunction>
    {
        public override string Name => nameof(CudaFusedFunction);
        protected override bool Tf32x3 => false;
    }

    private sealed class Tf32x3Function : CudaFunction<Tf32x3Function>
    {
        public override string Name => nameof(Tf32x3Function);
        protected override bool Tf32x3 => true;
    }
}
