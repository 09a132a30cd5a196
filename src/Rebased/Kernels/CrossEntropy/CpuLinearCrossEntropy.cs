using Rebased.Native;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using System.Runtime.InteropServices;

namespace Rebased.Kernels.CrossEntropy;

/// <summary>
/// The output layer and its softmax cross-entropy, forward and backward in one pass over blocks of rows, fp32 on
/// the CPU: for logits z = h·Wᵀ, loss = Σ(logsumexp(z) − z[target]) and, with dz = scale·(softmax(z) − onehot),
/// dh = dz·W and dW += dzᵀ·h. A block's logits live only in a per-worker buffer (Rows × V floats); every worker
/// keeps its own dW until the end. Needs d and V to be multiples of 8 (the micro-kernel's vector width).
/// </summary>
public static unsafe class CpuLinearCrossEntropy
{
    /// <summary>Rows per block: a multiple of 4 (the micro-kernel's height).</summary>
    private const int Rows = 32;

    public static bool Supports(Tensor hidden, Tensor weight) =>
        hidden.device.type == DeviceType.CPU && hidden.dtype == ScalarType.Float32 && weight.dtype == ScalarType.Float32
        && hidden.dim() == 2 && weight.dim() == 2 && hidden.shape[1] == weight.shape[1]
        && hidden.shape[1] % 8 == 0 && weight.shape[0] % 8 == 0 && CpuGemm.Vectorised;

    /// <summary>
    /// Sum of the rows' losses (float64); writes dh = scale·∂loss/∂h into <paramref name="dHidden"/> [N, d] and adds
    /// scale·∂loss/∂W into <paramref name="dWeight"/> [V, d].
    /// </summary>
    public static double ForwardBackward(Tensor hidden, Tensor weight, Tensor targets, double scale, Tensor dHidden, Tensor dWeight)
    {
        if (!Supports(hidden, weight))
            throw new ArgumentException($"fused CPU output layer needs float32 CPU tensors h [N, d], W [V, d] with d and V multiples of 8; got h [{string.Join(", ", hidden.shape)}] {hidden.dtype}, W [{string.Join(", ", weight.shape)}] {weight.dtype}");
        using var scope = NewDisposeScope();
        int n = checked((int)hidden.shape[0]), d = (int)hidden.shape[1], vocab = checked((int)weight.shape[0]);
        var h = hidden.contiguous();
        var w = weight.contiguous();
        var wt = w.t().contiguous();
        var t = targets.to(ScalarType.Int64).contiguous();
        if (n > 0 && (t.min().item<long>() < 0 || t.max().item<long>() >= vocab))
            throw new ArgumentException($"targets must lie in the vocabulary [0, {vocab})");
        if (!dHidden.is_contiguous() || !dWeight.is_contiguous()) throw new ArgumentException("dHidden and dWeight must be contiguous");
        float* hp = Ptr(h), wp = Ptr(w), wtp = Ptr(wt), dhp = Ptr(dHidden), dwp = Ptr(dWeight);
        long* tp = (long*)DevicePointers.Of(t);
        int blocks = (n + Rows - 1) / Rows;
        // Each worker takes a fixed, contiguous range of blocks and the partial results are added in worker order,
        // so that a run repeats bit for bit (a first-come reduction would not).
        int workers = Math.Max(1, Math.Min(blocks, CpuWorkers.Count));
        var partials = new Partial[workers];
        try
        {
            Parallel.For(0, workers, CpuWorkers.Options(workers), worker =>
            {
                var partial = partials[worker] = new Partial(vocab, d);
                for (int block = blocks * worker / workers; block < blocks * (worker + 1) / workers; block++)
                    partial.Loss += Block(hp, wp, wtp, tp, dhp, partial.DWeight, block * Rows, Math.Min(Rows, n - block * Rows), d, vocab, (float)scale, partial);
            });
            var sum = new Span<float>(dwp, vocab * d);
            double loss = 0;
            foreach (var partial in partials)
            {
                loss += partial.Loss;
                TensorPrimitives.Add(sum, new ReadOnlySpan<float>(partial.DWeight, vocab * d), sum);
            }
            return loss;
        }
        finally
        {
            foreach (var partial in partials) partial?.Dispose();
        }
    }

    private static double Block(float* h, float* w, float* wt, long* targets, float* dh, float* dWeight, int row0, int rows,
        int d, int vocab, float scale, Partial scratch)
    {
        float* hBlock = scratch.Hidden;
        float* z = scratch.Logits;
        new Span<float>(hBlock, Rows * d).Clear();
        Buffer.MemoryCopy(h + (long)row0 * d, hBlock, (long)Rows * d * sizeof(float), (long)rows * d * sizeof(float));
        CpuGemm.Gemm(z, vocab, hBlock, d, 1, wt, vocab, Rows, vocab, d, vec: true, accumulate: false);

        double loss = 0;
        for (int i = 0; i < Rows; i++)
        {
            var row = new Span<float>(z + (long)i * vocab, vocab);
            if (i >= rows)
            {
                row.Clear();
                continue;
            }
            int target = (int)targets[row0 + i];
            float picked = row[target];
            float max = TensorPrimitives.Max(row);
            TensorPrimitives.Subtract(row, max, row);
            TensorPrimitives.Exp(row, row);
            float sum = TensorPrimitives.Sum(row);
            loss += Math.Log(sum) + max - picked;
            TensorPrimitives.Multiply(row, scale / sum, row);
            row[target] -= scale;
        }

        // dh = dz·W for the block's real rows, dW += dzᵀ·h (padded rows have dz = 0).
        float* dhBlock = scratch.DHidden;
        CpuGemm.Gemm(dhBlock, d, z, vocab, 1, w, d, Rows, d, vocab, vec: true, accumulate: false);
        Buffer.MemoryCopy(dhBlock, dh + (long)row0 * d, (long)rows * d * sizeof(float), (long)rows * d * sizeof(float));
        CpuGemm.Gemm(dWeight, d, z, 1, vocab, hBlock, d, vocab, d, Rows, vec: true);
        return loss;
    }

    private static float* Ptr(Tensor t) => (float*)DevicePointers.Of(t);

    /// <summary>One worker's buffers and partial results.</summary>
    private sealed class Partial : IDisposable
    {
        public Partial(int vocab, int d)
        {
            DWeight = Alloc((long)vocab * d);
            Logits = Alloc((long)Rows * vocab);
            Hidden = Alloc((long)Rows * d);
            DHidden = Alloc((long)Rows * d);
        }

        public float* DWeight { get; }
        public float* Logits { get; }
        public float* Hidden { get; }
        public float* DHidden { get; }
        public double Loss { get; set; }

        private static float* Alloc(long floats)
        {
            var p = (float*)NativeMemory.AlignedAlloc((nuint)(floats * sizeof(float)), 64);
            NativeMemory.Clear(p, (nuint)(floats * sizeof(float)));
            return p;
        }

        public void Dispose()
        {
            NativeMemory.AlignedFree(DWeight);
            NativeMemory.AlignedFree(Logits);
            NativeMemory.AlignedFree(Hidden);
            NativeMemory.AlignedFree(DHidden);
        }
    }
}
