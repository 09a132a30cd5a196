using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Rebased.Kernels;

/// <summary>
/// The small fp32 matrix-product micro-kernel of the C# CPU kernels: AVX-512 where the CPU has it (4 rows × 32
/// columns per step), AVX2/FMA (4 × 16) otherwise and for the last columns, and a scalar fallback. Every output is
/// the same chain of fused multiply-adds over k on every path, so the paths agree bit for bit.
/// </summary>
internal static unsafe class CpuGemm
{
    /// <summary>Whether the AVX2/FMA path runs on this machine.</summary>
    internal static bool Vectorised => Avx2.IsSupported && Fma.IsSupported;

    /// <summary>
    /// C[m×n] += L[m×kDim]·R[kDim×n] (or C = L·R when not accumulating). L's element (i, p) is at
    /// l[i·lRow + p·lCol] (so transposed operands need no copy); R and C are row-major with strides ldr and ldc.
    /// m is a multiple of 4, n of 8.
    /// </summary>
    internal static void Gemm(float* c, int ldc, float* l, int lRow, int lCol, float* r, int ldr, int m, int n, int kDim, bool vec, bool accumulate = true)
    {
        if (!vec) GemmScalar(c, ldc, l, lRow, lCol, r, ldr, m, n, kDim, accumulate);
        else if (Vector512.IsHardwareAccelerated && n >= 32) GemmAvx512(c, ldc, l, lRow, lCol, r, ldr, m, n, kDim, accumulate);
        else GemmAvx(c, ldc, l, lRow, lCol, r, ldr, m, n, kDim, accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void GemmAvx512(float* c, int ldc, float* l, int lRow, int lCol, float* r, int ldr, int m, int n, int kDim, bool accumulate)
    {
        int wide = n / 32 * 32;
        for (int i = 0; i < m; i += 4)
        {
            float* l0 = l + (long)i * lRow, l1 = l0 + lRow, l2 = l1 + lRow, l3 = l2 + lRow;
            float* c0 = c + (long)i * ldc, c1 = c0 + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
            for (int j = 0; j < wide; j += 32)
            {
                Vector512<float> a00 = default, a01 = default, a10 = default, a11 = default, a20 = default, a21 = default, a30 = default, a31 = default;
                if (accumulate)
                {
                    a00 = Vector512.Load(c0 + j); a01 = Vector512.Load(c0 + j + 16);
                    a10 = Vector512.Load(c1 + j); a11 = Vector512.Load(c1 + j + 16);
                    a20 = Vector512.Load(c2 + j); a21 = Vector512.Load(c2 + j + 16);
                    a30 = Vector512.Load(c3 + j); a31 = Vector512.Load(c3 + j + 16);
                }
                float* rp = r + j;
                long lo = 0;
                for (int p = 0; p < kDim; p++, rp += ldr, lo += lCol)
                {
                    var r0 = Vector512.Load(rp);
                    var r1 = Vector512.Load(rp + 16);
                    var b = Vector512.Create(l0[lo]);
                    a00 = Vector512.FusedMultiplyAdd(b, r0, a00); a01 = Vector512.FusedMultiplyAdd(b, r1, a01);
                    b = Vector512.Create(l1[lo]);
                    a10 = Vector512.FusedMultiplyAdd(b, r0, a10); a11 = Vector512.FusedMultiplyAdd(b, r1, a11);
                    b = Vector512.Create(l2[lo]);
                    a20 = Vector512.FusedMultiplyAdd(b, r0, a20); a21 = Vector512.FusedMultiplyAdd(b, r1, a21);
                    b = Vector512.Create(l3[lo]);
                    a30 = Vector512.FusedMultiplyAdd(b, r0, a30); a31 = Vector512.FusedMultiplyAdd(b, r1, a31);
                }
                a00.Store(c0 + j); a01.Store(c0 + j + 16);
                a10.Store(c1 + j); a11.Store(c1 + j + 16);
                a20.Store(c2 + j); a21.Store(c2 + j + 16);
                a30.Store(c3 + j); a31.Store(c3 + j + 16);
            }
        }
        if (wide < n) GemmAvx(c + wide, ldc, l, lRow, lCol, r + wide, ldr, m, n - wide, kDim, accumulate);
    }

    private static void GemmScalar(float* c, int ldc, float* l, int lRow, int lCol, float* r, int ldr, int m, int n, int kDim, bool accumulate)
    {
        for (int i = 0; i < m; i++)
        {
            float* cRow = c + (long)i * ldc;
            if (!accumulate) new Span<float>(cRow, n).Clear();
            for (int p = 0; p < kDim; p++)
            {
                float lip = l[(long)i * lRow + (long)p * lCol];
                float* rRow = r + (long)p * ldr;
                for (int j = 0; j < n; j++) cRow[j] += lip * rRow[j];
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void GemmAvx(float* c, int ldc, float* l, int lRow, int lCol, float* r, int ldr, int m, int n, int kDim, bool accumulate)
    {
        for (int i = 0; i < m; i += 4)
        {
            float* l0 = l + (long)i * lRow, l1 = l0 + lRow, l2 = l1 + lRow, l3 = l2 + lRow;
            float* c0 = c + (long)i * ldc, c1 = c0 + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
            int j = 0;
            for (; j + 16 <= n; j += 16)
            {
                Vector256<float> a00 = default, a01 = default, a10 = default, a11 = default, a20 = default, a21 = default, a30 = default, a31 = default;
                if (accumulate)
                {
                    a00 = Avx.LoadVector256(c0 + j); a01 = Avx.LoadVector256(c0 + j + 8);
                    a10 = Avx.LoadVector256(c1 + j); a11 = Avx.LoadVector256(c1 + j + 8);
                    a20 = Avx.LoadVector256(c2 + j); a21 = Avx.LoadVector256(c2 + j + 8);
                    a30 = Avx.LoadVector256(c3 + j); a31 = Avx.LoadVector256(c3 + j + 8);
                }
                float* rp = r + j;
                long lo = 0;
                for (int p = 0; p < kDim; p++, rp += ldr, lo += lCol)
                {
                    var r0 = Avx.LoadVector256(rp);
                    var r1 = Avx.LoadVector256(rp + 8);
                    var b = Vector256.Create(l0[lo]);
                    a00 = Fma.MultiplyAdd(b, r0, a00); a01 = Fma.MultiplyAdd(b, r1, a01);
                    b = Vector256.Create(l1[lo]);
                    a10 = Fma.MultiplyAdd(b, r0, a10); a11 = Fma.MultiplyAdd(b, r1, a11);
                    b = Vector256.Create(l2[lo]);
                    a20 = Fma.MultiplyAdd(b, r0, a20); a21 = Fma.MultiplyAdd(b, r1, a21);
                    b = Vector256.Create(l3[lo]);
                    a30 = Fma.MultiplyAdd(b, r0, a30); a31 = Fma.MultiplyAdd(b, r1, a31);
                }
                Avx.Store(c0 + j, a00); Avx.Store(c0 + j + 8, a01);
                Avx.Store(c1 + j, a10); Avx.Store(c1 + j + 8, a11);
                Avx.Store(c2 + j, a20); Avx.Store(c2 + j + 8, a21);
                Avx.Store(c3 + j, a30); Avx.Store(c3 + j + 8, a31);
            }
            if (j < n)
            {
                Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
                if (accumulate)
                {
                    a0 = Avx.LoadVector256(c0 + j); a1 = Avx.LoadVector256(c1 + j);
                    a2 = Avx.LoadVector256(c2 + j); a3 = Avx.LoadVector256(c3 + j);
                }
                float* rp = r + j;
                long lo = 0;
                for (int p = 0; p < kDim; p++, rp += ldr, lo += lCol)
                {
                    var r0 = Avx.LoadVector256(rp);
                    a0 = Fma.MultiplyAdd(Vector256.Create(l0[lo]), r0, a0);
                    a1 = Fma.MultiplyAdd(Vector256.Create(l1[lo]), r0, a1);
                    a2 = Fma.MultiplyAdd(Vector256.Create(l2[lo]), r0, a2);
                    a3 = Fma.MultiplyAdd(Vector256.Create(l3[lo]), r0, a3);
                }
                Avx.Store(c0 + j, a0); Avx.Store(c1 + j, a1); Avx.Store(c2 + j, a2); Avx.Store(c3 + j, a3);
            }
        }
    }
}
