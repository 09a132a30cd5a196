using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Rebased.Kernels.LinearAttention;

/// <summary>
/// The tiled forward and backward of causal polynomial linear attention on CPU, fp32, on raw row-major
/// [BH, T, D] / [BH, T, Dv] buffers. Work is split over (batch·head, groups of query tiles); every
/// query-tile × key-tile block of the score matrix is recomputed where it is needed and lives only in a
/// tile×tile scratch buffer, so memory is O(T·(D + Dv)) per worker.
/// </summary>
internal static unsafe class CpuFusedKernel
{
    /// <summary>Largest score block: rows and columns of one block are a multiple of 16 (whole vectors, whole micro-kernel rows) up to this.</summary>
    internal const int MaxTile = 64;

    /// <summary>Whether the AVX2/FMA paths run; false selects the scalar fallback everywhere.</summary>
    internal static bool Vectorised(bool allowVectors) => allowVectors && CpuGemm.Vectorised;

    internal readonly record struct Shape(int BH, int T, int D, int Dv)
    {
        /// <summary>Rows and columns of a score block: short sequences get one block just large enough, so that padding does not dominate.</summary>
        public int Tile => Math.Min(MaxTile, (T + 15) / 16 * 16);
        public int Tiles => (T + Tile - 1) / Tile;
        public int Tp => Tiles * Tile;
        public int DP => (D + 7) & ~7;
        public int DvP => (Dv + 7) & ~7;
    }

    /// <summary>y = o / (z + eps) and z for every row; q, k: [BH, T, D], v, y: [BH, T, Dv], z: [BH, T].</summary>
    public static void Forward(float* q, float* k, float* v, float* y, float* z, Shape shape,
        PolynomialKernel kernel, float scale, float eps, bool allowVectors = true)
    {
        if (shape.BH == 0 || shape.T == 0) return;
        bool vec = Vectorised(allowVectors);
        int workers = CpuWorkers.Count;
        var (groups, items) = WorkItems(shape, workers);
        Parallel.For(0, items, CpuWorkers.Options(workers), item =>
        {
            int bh = item / groups, group = item % groups;
            ForwardItem(q + (long)bh * shape.T * shape.D, k + (long)bh * shape.T * shape.D, v + (long)bh * shape.T * shape.Dv,
                y + (long)bh * shape.T * shape.Dv, z + (long)bh * shape.T, shape, group, groups, kernel, scale, eps, vec);
        });
    }

    /// <summary>
    /// Gradients of q, k, v from the output gradient dy, given the forward's y and z (the normalisation is
    /// differentiated here: do = dy/(z+eps), dz = −dy·y/(z+eps)). dk and dv must be zero on entry.
    /// </summary>
    public static void Backward(float* q, float* k, float* v, float* y, float* z, float* dy,
        float* dq, float* dk, float* dv, Shape shape, PolynomialKernel kernel, float scale, float eps, bool allowVectors = true)
    {
        if (shape.BH == 0 || shape.T == 0) return;
        bool vec = Vectorised(allowVectors);
        int workers = CpuWorkers.Count;
        var (groups, items) = WorkItems(shape, workers);
        var headLocks = new object[shape.BH];
        for (int i = 0; i < headLocks.Length; i++) headLocks[i] = new object();
        Parallel.For(0, items, CpuWorkers.Options(workers), item =>
        {
            int bh = item / groups, group = item % groups;
            long qk = (long)bh * shape.T * shape.D, vo = (long)bh * shape.T * shape.Dv;
            BackwardItem(q + qk, k + qk, v + vo, y + vo, z + (long)bh * shape.T, dy + vo, dq + qk, dk + qk, dv + vo,
                headLocks[bh], shape, group, groups, kernel, scale, eps, vec);
        });
    }

    /// <summary>Query tiles of one head are dealt round-robin to groups so that the causal triangle balances.</summary>
    private static (int Groups, int Items) WorkItems(Shape shape, int workers)
    {
        int groups = Math.Clamp((2 * workers + shape.BH - 1) / shape.BH, 1, shape.Tiles);
        return (groups, shape.BH * groups);
    }

    private static int LastTile(Shape shape, int group, int groups) =>
        group + (shape.Tiles - 1 - group) / groups * groups;

    private static void ForwardItem(float* q, float* k, float* v, float* y, float* z, Shape s, int group, int groups,
        PolynomialKernel kernel, float scale, float eps, bool vec)
    {
        if (group >= s.Tiles) return;
        int keys = (LastTile(s, group, groups) + 1) * s.Tile;
        using var arena = ThreadScratch.Begin();
        var kt = arena.Take((long)s.DP * keys);
        var vp = arena.Take((long)keys * s.DvP);
        var qs = arena.Take((long)s.Tile * s.DP);
        var o = arena.Take((long)s.Tile * s.DvP);
        var a = arena.Take((long)s.Tile * s.Tile);
        var zRow = stackalloc float[s.Tile];
        PackTransposedTiles(k, s.T, s.D, s.DP, kt.P, keys, s.Tile);
        PackRows(v, s.T, s.Dv, vp.P, s.DvP, keys, 1f);

        for (int qi = group; qi < s.Tiles; qi += groups)
        {
            int t0 = qi * s.Tile;
            PackRows(q + (long)t0 * s.D, s.T - t0, s.D, qs.P, s.DP, s.Tile, scale);
            o.Clear();
            new Span<float>(zRow, s.Tile).Clear();
            for (int kj = 0; kj <= qi; kj++)
            {
                CpuGemm.Gemm(a.P, s.Tile, qs.P, s.DP, 1, kt.P + (long)kj * s.Tile * s.DP, s.Tile, s.Tile, s.Tile, s.D, vec, accumulate: false);
                Weights(a.P, null, s.Tile, kernel, kj == qi, vec);
                RowSums(a.P, zRow, s.Tile, vec);
                CpuGemm.Gemm(o.P, s.DvP, a.P, s.Tile, 1, vp.P + (long)kj * s.Tile * s.DvP, s.DvP, s.Tile, s.DvP, s.Tile, vec);
            }
            int rows = Math.Min(s.Tile, s.T - t0);
            for (int i = 0; i < rows; i++)
            {
                float inv = 1f / (zRow[i] + eps);
                float* src = o.P + (long)i * s.DvP, dst = y + (long)(t0 + i) * s.Dv;
                for (int c = 0; c < s.Dv; c++) dst[c] = src[c] * inv;
                z[t0 + i] = zRow[i];
            }
        }
    }

    private static void BackwardItem(float* q, float* k, float* v, float* y, float* z, float* dy,
        float* dq, float* dk, float* dv, object headLock, Shape s, int group, int groups,
        PolynomialKernel kernel, float scale, float eps, bool vec)
    {
        if (group >= s.Tiles) return;
        int keys = (LastTile(s, group, groups) + 1) * s.Tile;
        using var arena = ThreadScratch.Begin();
        var kt = arena.Take((long)s.DP * keys);
        var kp = arena.Take((long)keys * s.DP);
        var vt = arena.Take((long)s.DvP * keys);
        var qs = arena.Take((long)s.Tile * s.DP);
        var g = arena.Take((long)s.Tile * s.DvP);
        var dqTile = arena.Take((long)s.Tile * s.DP);
        var dkAcc = arena.Take((long)keys * s.DP);
        var dvAcc = arena.Take((long)keys * s.DvP);
        var a = arena.Take((long)s.Tile * s.Tile);
        var dp = arena.Take((long)s.Tile * s.Tile);
        var dzRow = stackalloc float[s.Tile];
        PackTransposedTiles(k, s.T, s.D, s.DP, kt.P, keys, s.Tile);
        PackRows(k, s.T, s.D, kp.P, s.DP, keys, 1f);
        PackTransposedTiles(v, s.T, s.Dv, s.DvP, vt.P, keys, s.Tile);

        for (int qi = group; qi < s.Tiles; qi += groups)
        {
            int t0 = qi * s.Tile, rows = Math.Min(s.Tile, s.T - t0);
            PackRows(q + (long)t0 * s.D, s.T - t0, s.D, qs.P, s.DP, s.Tile, scale);
            g.Clear();
            new Span<float>(dzRow, s.Tile).Clear();
            for (int i = 0; i < rows; i++)
            {
                long t = t0 + i;
                float inv = 1f / (z[t] + eps), dot = 0f;
                float* dyRow = dy + t * s.Dv, yRow = y + t * s.Dv, gRow = g.P + (long)i * s.DvP;
                for (int c = 0; c < s.Dv; c++)
                {
                    gRow[c] = dyRow[c] * inv;
                    dot += dyRow[c] * yRow[c];
                }
                dzRow[i] = -dot * inv;
            }
            dqTile.Clear();
            for (int kj = 0; kj <= qi; kj++)
            {
                CpuGemm.Gemm(a.P, s.Tile, qs.P, s.DP, 1, kt.P + (long)kj * s.Tile * s.DP, s.Tile, s.Tile, s.Tile, s.D, vec, accumulate: false);
                for (int i = 0; i < s.Tile; i++) new Span<float>(dp.P + i * s.Tile, s.Tile).Fill(dzRow[i]);
                CpuGemm.Gemm(dp.P, s.Tile, g.P, s.DvP, 1, vt.P + (long)kj * s.Tile * s.DvP, s.Tile, s.Tile, s.Tile, s.Dv, vec);
                Weights(a.P, dp.P, s.Tile, kernel, kj == qi, vec);
                CpuGemm.Gemm(dqTile.P, s.DP, dp.P, s.Tile, 1, kp.P + (long)kj * s.Tile * s.DP, s.DP, s.Tile, s.DP, s.Tile, vec);
                CpuGemm.Gemm(dkAcc.P + (long)kj * s.Tile * s.DP, s.DP, dp.P, 1, s.Tile, qs.P, s.DP, s.Tile, s.DP, s.Tile, vec);
                CpuGemm.Gemm(dvAcc.P + (long)kj * s.Tile * s.DvP, s.DvP, a.P, 1, s.Tile, g.P, s.DvP, s.Tile, s.DvP, s.Tile, vec);
            }
            for (int i = 0; i < rows; i++)
            {
                float* src = dqTile.P + (long)i * s.DP, dst = dq + (long)(t0 + i) * s.D;
                for (int c = 0; c < s.D; c++) dst[c] = src[c] * scale;
            }
        }

        int realKeys = Math.Min(keys, s.T);
        lock (headLock)
        {
            for (int j = 0; j < realKeys; j++)
            {
                float* dkSrc = dkAcc.P + (long)j * s.DP, dkDst = dk + (long)j * s.D;
                for (int c = 0; c < s.D; c++) dkDst[c] += dkSrc[c];
                float* dvSrc = dvAcc.P + (long)j * s.DvP, dvDst = dv + (long)j * s.Dv;
                for (int c = 0; c < s.Dv; c++) dvDst[c] += dvSrc[c];
            }
        }
    }

    /// <summary>
    /// In place on a tile×tile block of x = scale·q·k: a ← f(x); when <paramref name="grad"/> is given it holds
    /// dL/da on entry and dL/dx = f'(x)·dL/da on exit. The diagonal block is masked to keys j ≤ query i.
    /// </summary>
    private static void Weights(float* x, float* grad, int tile, PolynomialKernel kernel, bool diagonal, bool vec)
    {
        bool based = kernel == PolynomialKernel.Based;
        int n = tile * tile, e = 0;
        if (vec)
        {
            var one = Vector256.Create(1f);
            var half = Vector256.Create(0.5f);
            var two = Vector256.Create(2f);
            for (; e < n; e += 8)
            {
                var xv = Avx.LoadVector256(x + e);
                if (grad != null)
                {
                    var gv = Avx.LoadVector256(grad + e);
                    var slope = based ? Avx.Add(one, xv) : Avx.Multiply(two, xv);
                    Avx.Store(grad + e, Avx.Multiply(slope, gv));
                }
                var av = based ? Fma.MultiplyAdd(Avx.Multiply(half, xv), xv, Avx.Add(one, xv)) : Avx.Multiply(xv, xv);
                Avx.Store(x + e, av);
            }
        }
        for (; e < n; e++)
        {
            float xs = x[e];
            if (grad != null) grad[e] *= based ? 1f + xs : 2f * xs;
            x[e] = based ? 1f + xs + 0.5f * xs * xs : xs * xs;
        }
        if (!diagonal) return;
        for (int i = 0; i < tile - 1; i++)
        {
            new Span<float>(x + i * tile + i + 1, tile - 1 - i).Clear();
            if (grad != null) new Span<float>(grad + i * tile + i + 1, tile - 1 - i).Clear();
        }
    }

    private static void RowSums(float* a, float* sums, int tile, bool vec)
    {
        for (int i = 0; i < tile; i++)
        {
            float* row = a + i * tile;
            if (vec)
            {
                var acc = Avx.LoadVector256(row);
                for (int j = 8; j < tile; j += 8) acc = Avx.Add(acc, Avx.LoadVector256(row + j));
                sums[i] += Vector256.Sum(acc);
            }
            else
            {
                float sum = 0f;
                for (int j = 0; j < tile; j++) sum += row[j];
                sums[i] += sum;
            }
        }
    }

    /// <summary>dst[t, c] = factor·src[t, c] for t &lt; min(rows, srcRows), c &lt; width; zero elsewhere (dst is rows × ld).</summary>
    private static void PackRows(float* src, int srcRows, int width, float* dst, int ld, int rows, float factor)
    {
        int real = Math.Min(rows, srcRows);
        for (int t = 0; t < rows; t++)
        {
            float* d = dst + (long)t * ld;
            if (t < real)
            {
                float* sRow = src + (long)t * width;
                for (int c = 0; c < width; c++) d[c] = factor * sRow[c];
                for (int c = width; c < ld; c++) d[c] = 0f;
            }
            else new Span<float>(d, ld).Clear();
        }
    }

    /// <summary>
    /// The transpose of src [rows, width] in key tiles: tile j holds a paddedWidth × tile block with element (c, t)
    /// at dst[(j·paddedWidth + c)·tile + t − j·tile]. A row stride of one tile (not of the whole sequence) keeps
    /// the rows a micro-kernel walks in different L1 sets. Rows ≥ srcRows stay zero (dst is zeroed by Scratch).
    /// </summary>
    private static void PackTransposedTiles(float* src, int srcRows, int width, int paddedWidth, float* dst, int rows, int tile)
    {
        int real = Math.Min(rows, srcRows);
        for (int t = 0; t < real; t++)
        {
            float* sRow = src + (long)t * width;
            float* block = dst + (long)(t / tile) * paddedWidth * tile + t % tile;
            for (int c = 0; c < width; c++) block[(long)c * tile] = sRow[c];
        }
    }

    /// <summary>A zero-initialised, 64-byte aligned native float buffer, taken from a <see cref="ThreadScratch"/>.</summary>
    private readonly struct Scratch(float* p, long length)
    {
        public readonly float* P = p;

        public void Clear() => NativeMemory.Clear(P, (nuint)(length * sizeof(float)));
    }

    /// <summary>
    /// The scratch memory of one thread, reused by the work items that run on it: a small model's call has thousands
    /// of (head, tile group) items of a few microseconds each, for which allocating and freeing native buffers per
    /// item would cost as much as the arithmetic. A block above <see cref="RetainedFloats"/> is freed after the item.
    /// </summary>
    private sealed class ThreadScratch : IDisposable
    {
        private const long RetainedFloats = 4L << 20;
        [ThreadStatic] private static ThreadScratch? _current;
        private readonly List<(IntPtr Block, long Floats)> _blocks = [];
        private long _floats;
        private int _block;
        private long _offset;
        private bool _active;

        public static ThreadScratch Begin()
        {
            var arena = _current ??= new ThreadScratch();
            if (arena._active) throw new InvalidOperationException("scratch arena already in use on this thread");
            arena._active = true;
            arena._block = 0;
            arena._offset = 0;
            return arena;
        }

        /// <summary>A zeroed buffer of <paramref name="floats"/> floats, 64-byte aligned, valid until <see cref="Dispose"/>.</summary>
        public Scratch Take(long floats)
        {
            floats = Math.Max(1, floats);
            long rounded = (floats + 15) & ~15L;
            while (_block < _blocks.Count && _offset + rounded > _blocks[_block].Floats)
            {
                _block++;
                _offset = 0;
            }
            if (_block == _blocks.Count)
            {
                long size = Math.Max(rounded, 1L << 16);
                _blocks.Add(((IntPtr)NativeMemory.AlignedAlloc((nuint)(size * sizeof(float)), 64), size));
                _floats += size;
            }
            var scratch = new Scratch((float*)_blocks[_block].Block + _offset, floats);
            _offset += rounded;
            scratch.Clear();
            return scratch;
        }

        public void Dispose()
        {
            _active = false;
            if (_floats <= RetainedFloats) return;
            foreach (var (block, _) in _blocks) NativeMemory.AlignedFree((void*)block);
            _blocks.Clear();
            _floats = 0;
        }
    }
}
