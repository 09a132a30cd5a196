// Causal polynomial linear attention, forward and backward. fp32: IEEE fp32 on the CUDA cores with register
// tiling (la_forward, la_backward_prep, la_backward), or 3xTF32 on tensor cores (*_tf32); 16-bit: tensor cores
// (*_mma). A module holds its variant's kernels only.
// Compiled at run time by NVRTC with these macros:
//   ELEM_KIND  0 = float, 1 = bf16, 2 = fp16 (storage type of q, k, v, y, dy, dv)
//   KERNEL     0 = ReBased f(x) = x^2, 1 = Based f(x) = 1 + x + x^2/2
//   DP         D padded to a multiple of 16 (<= 128)
//   TF32X3     fp32 only: 1 = the 3xTF32 tensor-core kernels (*_tf32), 0 = the CUDA-core kernels
//   BV         output columns per block: 8, 16, 32 or 64 (CUDA cores), a multiple of 8 (3xTF32) or 16 (16-bit) up to 64
// Layout: q, k, dq, dk (fp32) of width D and v, y, dy, dv of width Dv either [BH, T, W] (interleaved = 0) or
// [B, T, H, W] (interleaved = 1: the projections' own layout, read through strides instead of copied);
// z, rz, delta [BH, T].
// CUDA-core tiles: 64 query rows x 64 keys, 256 threads as a TY x TX grid.

typedef unsigned short u16;
typedef unsigned long long u64;

#if ELEM_KIND == 0
typedef float elem_t;
__device__ __forceinline__ float to_f32(float x) { return x; }
__device__ __forceinline__ float from_f32(float x) { return x; }
#elif !defined(CUDA_EMULATION)  // scripts/cuda-emulation/cuda_emu.h has CPU versions of the 16-bit conversions
typedef u16 elem_t;
#if ELEM_KIND == 1
__device__ __forceinline__ float to_f32(u16 x) { return __uint_as_float(((unsigned)x) << 16); }
__device__ __forceinline__ u16 from_f32(float x) {
    u16 r;
    asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(r) : "f"(x));
    return r;
}
#else
__device__ __forceinline__ float to_f32(u16 x) {
    float r;
    asm("cvt.f32.f16 %0, %1;" : "=f"(r) : "h"(x));
    return r;
}
__device__ __forceinline__ u16 from_f32(float x) {
    u16 r;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(r) : "f"(x));
    return r;
}
#endif
#endif

__device__ __forceinline__ u64 head_offset(u64 bh, int T, int W, int heads, int interleaved) {
    return interleaved ? (bh / heads) * (u64)T * heads * W + (bh % heads) * (u64)W : bh * (u64)T * W;
}

__device__ __forceinline__ int row_stride(int W, int heads, int interleaved) { return interleaved ? heads * W : W; }

#define TENSOR_CORES (ELEM_KIND != 0 || TF32X3)

#if !TENSOR_CORES
// ---------------------------------------------------------------------------------------------------------
// fp32 inputs on the CUDA cores.
// ---------------------------------------------------------------------------------------------------------
#define NT 256
#define BQ 64
#define BK 64
#define TX (BV < 16 ? BV : 16)
#define TY (NT / TX)
#define TM (BQ / TY)
#define TN (BV / TX)
#define SN (BK / TX)
#define DN (DP / TX)
#define SQ (DP + 4)
#define SV (BV + 4)
#define SA (BK + TX)  // rows TX banks apart: the weight-tile stores of a warp's two (TX = 16) or four (TX = 8) rows do not collide
#define MIN_BLOCKS (DP <= 32 ? 2 : 1)

__device__ __forceinline__ float weight(float x) {
#if KERNEL == 0
    return x * x;
#else
    return fmaf(x, fmaf(0.5f, x, 1.0f), 1.0f);
#endif
}

__device__ __forceinline__ float weight_grad(float x) {
#if KERNEL == 0
    return 2.0f * x;
#else
    return 1.0f + x;
#endif
}

__device__ __forceinline__ float4 load4(const float* p) { return *reinterpret_cast<const float4*>(p); }

// This thread's share of a 64-row x W-column tile (W a multiple of 4) of a row-major [T, ld] matrix, held in
// registers between the global loads (fetch) and the shared-memory stores (store), so that the loads of the
// next tile are in flight while the current one is computed. Rows >= T and columns >= ncols read as zero.
template <int W>
struct Stage {
    static constexpr int Q4 = W / 4;
    static constexpr int N = (64 * Q4 + NT - 1) / NT;
    float4 r[N];

    __device__ __forceinline__ void fetch(const elem_t* src, int row0, int col0, int T, int ld, int ncols, bool vec, float mul, const float* rowmul) {
#pragma unroll
        for (int n = 0; n < N; n++) {
            int e = threadIdx.x + n * NT;
            float4 val = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
            int row = row0 + e / Q4, col = col0 + (e % Q4) * 4;
            if ((64 * Q4) % NT == 0 || e < 64 * Q4) {
                if (row < T) {
                    const elem_t* p = src + (u64)row * ld + col;
                    if (vec && col + 3 < ncols) {
                        val = load4(p);
                    } else {
                        if (col < ncols) val.x = to_f32(p[0]);
                        if (col + 1 < ncols) val.y = to_f32(p[1]);
                        if (col + 2 < ncols) val.z = to_f32(p[2]);
                        if (col + 3 < ncols) val.w = to_f32(p[3]);
                    }
                    float m = rowmul ? mul * rowmul[row] : mul;
                    val.x *= m; val.y *= m; val.z *= m; val.w *= m;
                }
            }
            r[n] = val;
        }
    }

    __device__ __forceinline__ void store(float* dst, int stride) const {
#pragma unroll
        for (int n = 0; n < N; n++) {
            int e = threadIdx.x + n * NT;
            if ((64 * Q4) % NT == 0 || e < 64 * Q4)
                *reinterpret_cast<float4*>(dst + (e / Q4) * stride + (e % Q4) * 4) = r[n];
        }
    }
};

// N consecutive floats from shared memory, in 16- or 8-byte loads where N allows (p aligned to match).
template <int N>
__device__ __forceinline__ void load_consecutive(float (&r)[N], const float* p) {
    if constexpr (N % 4 == 0) {
#pragma unroll
        for (int i = 0; i < N; i += 4) {
            float4 v = *reinterpret_cast<const float4*>(p + i);
            r[i] = v.x; r[i + 1] = v.y; r[i + 2] = v.z; r[i + 3] = v.w;
        }
    } else if constexpr (N % 2 == 0) {
#pragma unroll
        for (int i = 0; i < N; i += 2) {
            float2 v = *reinterpret_cast<const float2*>(p + i);
            r[i] = v.x; r[i + 1] = v.y;
        }
    } else {
#pragma unroll
        for (int i = 0; i < N; i++) r[i] = p[i];
    }
}

// acc[i][j] += sum_d A[rowA(i)][d] * B[rowB(j)][d], rowA(i) = ty + TY*i, rowB(j) = tx + TX*j; depth multiple of 4.
template <int NI, int NJ>
__device__ __forceinline__ void tile_abt(float (&acc)[NI][NJ], const float* A, int strideA, const float* B, int strideB, int depth, int ty, int tx) {
    for (int d = 0; d < depth; d += 4) {
        float4 a[NI], b[NJ];
#pragma unroll
        for (int i = 0; i < NI; i++) a[i] = *reinterpret_cast<const float4*>(A + (ty + TY * i) * strideA + d);
#pragma unroll
        for (int j = 0; j < NJ; j++) b[j] = *reinterpret_cast<const float4*>(B + (tx + TX * j) * strideB + d);
#pragma unroll
        for (int i = 0; i < NI; i++)
#pragma unroll
            for (int j = 0; j < NJ; j++) {
                acc[i][j] = fmaf(a[i].x, b[j].x, acc[i][j]);
                acc[i][j] = fmaf(a[i].y, b[j].y, acc[i][j]);
                acc[i][j] = fmaf(a[i].z, b[j].z, acc[i][j]);
                acc[i][j] = fmaf(a[i].w, b[j].w, acc[i][j]);
            }
    }
}

// acc[i][n] += sum_j P[ty + TY*i][j] * M[j][col0 + n], 64 terms; P has stride SA, M stride strideM.
template <int NI, int NN>
__device__ __forceinline__ void tile_pm(float (&acc)[NI][NN], const float* P, const float* M, int strideM, int col0, int ty) {
#pragma unroll 4
    for (int j = 0; j < BK; j += 4) {
        float4 p[NI];
#pragma unroll
        for (int i = 0; i < NI; i++) p[i] = *reinterpret_cast<const float4*>(P + (ty + TY * i) * SA + j);
#pragma unroll
        for (int jj = 0; jj < 4; jj++) {
            float m[NN];
            load_consecutive<NN>(m, M + (j + jj) * strideM + col0);
#pragma unroll
            for (int i = 0; i < NI; i++) {
                float pv = jj == 0 ? p[i].x : jj == 1 ? p[i].y : jj == 2 ? p[i].z : p[i].w;
#pragma unroll
                for (int n = 0; n < NN; n++) acc[i][n] = fmaf(pv, m[n], acc[i][n]);
            }
        }
    }
}

// grid (query tiles, Dv blocks, BH). y = o / (z + eps); z stored by the first Dv block.
extern "C" __global__ void __launch_bounds__(NT, MIN_BLOCKS) la_forward(
    const elem_t* __restrict__ q, const elem_t* __restrict__ k, const elem_t* __restrict__ v,
    elem_t* __restrict__ y, float* __restrict__ z, int T, int D, int Dv, float scale, float eps, int heads, int interleaved) {
    extern __shared__ __align__(16) float smem[];
    float* Qs = smem;             // [64][SQ]
    float* Ks = Qs + 64 * SQ;     // [64][SQ]
    float* Vs = Ks + 64 * SQ;     // [64][SV]
    float* As = Vs + 64 * SV;     // [64][SA]

    const int tiles = (T + BQ - 1) / BQ;
    const int qt = tiles - 1 - blockIdx.x;  // longest rows first
    const int col0 = blockIdx.y * BV;
    const u64 bh = blockIdx.z;
    const int ldq = row_stride(D, heads, interleaved), ldv = row_stride(Dv, heads, interleaved);
    q += head_offset(bh, T, D, heads, interleaved); k += head_offset(bh, T, D, heads, interleaved);
    v += head_offset(bh, T, Dv, heads, interleaved); y += head_offset(bh, T, Dv, heads, interleaved); z += bh * T;
    const int tx = threadIdx.x % TX, ty = threadIdx.x / TX;
    const int row0 = qt * BQ;

    const bool vq = (D % 4) == 0, vv = (Dv % 4) == 0;
    {
        Stage<DP> sq;
        sq.fetch(q, row0, 0, T, ldq, D, vq, scale, nullptr);
        sq.store(Qs, SQ);
    }

    float o[TM][TN], zs[TM];
#pragma unroll
    for (int i = 0; i < TM; i++) {
        zs[i] = 0.0f;
#pragma unroll
        for (int n = 0; n < TN; n++) o[i][n] = 0.0f;
    }

    Stage<DP> sk;
    Stage<BV> sv;
    sk.fetch(k, 0, 0, T, ldq, D, vq, 1.0f, nullptr);
    sv.fetch(v, 0, col0, T, ldv, Dv, vv, 1.0f, nullptr);
    for (int kt = 0; kt <= qt; kt++) {
        __syncthreads();
        sk.store(Ks, SQ);
        sv.store(Vs, SV);
        __syncthreads();
        if (kt < qt) {
            sk.fetch(k, (kt + 1) * BK, 0, T, ldq, D, vq, 1.0f, nullptr);
            sv.fetch(v, (kt + 1) * BK, col0, T, ldv, Dv, vv, 1.0f, nullptr);
        }
        float s[TM][SN];
#pragma unroll
        for (int i = 0; i < TM; i++)
#pragma unroll
            for (int j = 0; j < SN; j++) s[i][j] = 0.0f;
        tile_abt<TM, SN>(s, Qs, SQ, Ks, SQ, DP, ty, tx);
        const bool diagonal = kt == qt;
#pragma unroll
        for (int i = 0; i < TM; i++)
#pragma unroll
            for (int j = 0; j < SN; j++) {
                int r = ty + TY * i, c = tx + TX * j;
                float a = weight(s[i][j]);
                if (diagonal && c > r) a = 0.0f;
                zs[i] += a;
                As[r * SA + c] = a;
            }
        __syncthreads();
        tile_pm<TM, TN>(o, As, Vs, SV, tx * TN, ty);
    }

#pragma unroll
    for (int i = 0; i < TM; i++) {
#pragma unroll
        for (int off = TX / 2; off > 0; off /= 2) zs[i] += __shfl_xor_sync(0xffffffffu, zs[i], off);
        int row = row0 + ty + TY * i;
        if (row < T) {
            float r = 1.0f / (zs[i] + eps);
#pragma unroll
            for (int n = 0; n < TN; n++) {
                int col = col0 + tx * TN + n;
                if (col < Dv) y[(u64)row * ldv + col] = from_f32(o[i][n] * r);
            }
            if (blockIdx.y == 0 && tx == 0) z[row] = zs[i];
        }
    }
}

// One warp per row: rz = 1 / (z + eps), delta = -rz * (dy . y), the gradient reaching z.
extern "C" __global__ void la_backward_prep(
    const elem_t* __restrict__ y, const elem_t* __restrict__ dy, const float* __restrict__ z,
    float* __restrict__ rz, float* __restrict__ delta, long long rows, int T, int Dv, float eps, int heads, int interleaved) {
    long long row = (long long)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    int lane = threadIdx.x % 32;
    if (row >= rows) return;
    float sum = 0.0f;
    const u64 at = head_offset(row / T, T, Dv, heads, interleaved) + (u64)(row % T) * row_stride(Dv, heads, interleaved);
    for (int c = lane; c < Dv; c += 32) sum += to_f32(dy[at + c]) * to_f32(y[at + c]);
#pragma unroll
    for (int off = 16; off > 0; off /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, off);
    if (lane == 0) {
        float r = 1.0f / (z[row] + eps);
        rz[row] = r;
        delta[row] = -r * sum;
    }
}

// grid (key tiles, Dv blocks, BH). Each block owns 64 keys and one Dv block: dv for those keys directly,
// dk (plain store with one Dv block, atomics otherwise) and dq (atomics) as fp32.
// The Dv blocks split dP = sum over blocks, and the gradients are linear in dP; the z term goes with block 0.
extern "C" __global__ void __launch_bounds__(NT, MIN_BLOCKS) la_backward(
    const elem_t* __restrict__ q, const elem_t* __restrict__ k, const elem_t* __restrict__ v,
    const elem_t* __restrict__ dy, const float* __restrict__ rz, const float* __restrict__ delta,
    float* __restrict__ dq, float* __restrict__ dk, elem_t* __restrict__ dv,
    int T, int D, int Dv, float scale, int heads, int interleaved) {
    extern __shared__ __align__(16) float smem[];
    float* Ks = smem;             // [64][SQ] keys
    float* Vs = Ks + 64 * SQ;     // [64][SV] values of the keys
    float* Qs = Vs + 64 * SV;     // [64][SQ] scaled queries
    float* Os = Qs + 64 * SQ;     // [64][SV] dy * rz of the queries
    float* As = Os + 64 * SV;     // [64 keys][SA] weights
    float* Xs = As + 64 * SA;     // [64 keys][SA] d(loss)/dx
    float* Zs = Xs + 64 * SA;     // [64] delta of the queries

    const int tiles = (T + BK - 1) / BK;
    const int kt = blockIdx.x;
    const int col0 = blockIdx.y * BV;
    const bool first_block = blockIdx.y == 0;
    const bool split = gridDim.y > 1;
    const u64 bh = blockIdx.z;
    const int ldq = row_stride(D, heads, interleaved), ldv = row_stride(Dv, heads, interleaved);
    const u64 qk_offset = head_offset(bh, T, D, heads, interleaved), v_offset = head_offset(bh, T, Dv, heads, interleaved);
    q += qk_offset; k += qk_offset; dq += qk_offset; dk += qk_offset;
    v += v_offset; dy += v_offset; dv += v_offset;
    rz += bh * T; delta += bh * T;
    const int tx = threadIdx.x % TX, ty = threadIdx.x / TX;
    const int key0 = kt * BK;

    const bool vq = (D % 4) == 0, vv = (Dv % 4) == 0;
    {
        Stage<DP> sk;
        Stage<BV> sv;
        sk.fetch(k, key0, 0, T, ldq, D, vq, 1.0f, nullptr);
        sv.fetch(v, key0, col0, T, ldv, Dv, vv, 1.0f, nullptr);
        sk.store(Ks, SQ);
        sv.store(Vs, SV);
    }

    float gv[TM][TN], gk[TM][DN];
#pragma unroll
    for (int i = 0; i < TM; i++) {
#pragma unroll
        for (int n = 0; n < TN; n++) gv[i][n] = 0.0f;
#pragma unroll
        for (int n = 0; n < DN; n++) gk[i][n] = 0.0f;
    }

    Stage<DP> sq;
    Stage<BV> sdo;
    sq.fetch(q, kt * BQ, 0, T, ldq, D, vq, scale, nullptr);
    sdo.fetch(dy, kt * BQ, col0, T, ldv, Dv, vv, 1.0f, rz);
    for (int qt = kt; qt < tiles; qt++) {
        const int row0 = qt * BQ;
        __syncthreads();
        if (threadIdx.x < 64) {
            int row = row0 + threadIdx.x;
            Zs[threadIdx.x] = row < T && first_block ? delta[row] : 0.0f;
        }
        sq.store(Qs, SQ);
        sdo.store(Os, SV);
        __syncthreads();
        if (qt + 1 < tiles) {
            sq.fetch(q, row0 + BQ, 0, T, ldq, D, vq, scale, nullptr);
            sdo.fetch(dy, row0 + BQ, col0, T, ldv, Dv, vv, 1.0f, rz);
        }

        float s[TM][SN], p[TM][SN];
#pragma unroll
        for (int i = 0; i < TM; i++)
#pragma unroll
            for (int j = 0; j < SN; j++) { s[i][j] = 0.0f; p[i][j] = 0.0f; }
        tile_abt<TM, SN>(s, Ks, SQ, Qs, SQ, DP, ty, tx);  // s[key][query]
        tile_abt<TM, SN>(p, Vs, SV, Os, SV, BV, ty, tx);  // dP[key][query] over this Dv block
        float zq[SN];
#pragma unroll
        for (int j = 0; j < SN; j++) zq[j] = Zs[tx + TX * j];
        const bool edge = qt == kt || row0 + BQ > T;
#pragma unroll
        for (int i = 0; i < TM; i++)
#pragma unroll
            for (int j = 0; j < SN; j++) {
                int kr = ty + TY * i, qc = tx + TX * j;
                bool live = !edge || (row0 + qc >= key0 + kr && row0 + qc < T);
                float x = s[i][j];
                As[kr * SA + qc] = live ? weight(x) : 0.0f;
                Xs[kr * SA + qc] = live ? weight_grad(x) * (p[i][j] + zq[j]) : 0.0f;
            }
        __syncthreads();

        tile_pm<TM, TN>(gv, As, Os, SV, tx * TN, ty);   // dv[key][n] += a * do
        tile_pm<TM, DN>(gk, Xs, Qs, SQ, tx * DN, ty);   // dk[key][d] += dx * scale q

        // dq[query][d] += scale * sum_key dx[key][query] k[key][d], queries ty*TM .. + TM
        float gq[TM][DN];
#pragma unroll
        for (int i = 0; i < TM; i++)
#pragma unroll
            for (int n = 0; n < DN; n++) gq[i][n] = 0.0f;
#pragma unroll 4
        for (int j = 0; j < BK; j++) {
            float xv[TM], kv[DN];
            load_consecutive<TM>(xv, Xs + j * SA + ty * TM);
            load_consecutive<DN>(kv, Ks + j * SQ + tx * DN);
#pragma unroll
            for (int i = 0; i < TM; i++)
#pragma unroll
                for (int n = 0; n < DN; n++) gq[i][n] = fmaf(xv[i], kv[n], gq[i][n]);
        }
#pragma unroll
        for (int i = 0; i < TM; i++) {
            int row = row0 + ty * TM + i;
            if (row >= T) continue;
#pragma unroll
            for (int n = 0; n < DN; n++) {
                int col = tx * DN + n;
                if (col < D) atomicAdd(dq + (u64)row * ldq + col, gq[i][n] * scale);
            }
        }
    }

#pragma unroll
    for (int i = 0; i < TM; i++) {
        int key = key0 + ty + TY * i;
        if (key >= T) continue;
#pragma unroll
        for (int n = 0; n < TN; n++) {
            int col = col0 + tx * TN + n;
            if (col < Dv) dv[(u64)key * ldv + col] = from_f32(gv[i][n]);
        }
#pragma unroll
        for (int n = 0; n < DN; n++) {
            int col = tx * DN + n;
            if (col >= D) continue;
            if (split) atomicAdd(dk + (u64)key * ldq + col, gk[i][n]);
            else dk[(u64)key * ldq + col] = gk[i][n];
        }
    }
}

#else
// ---------------------------------------------------------------------------------------------------------
// Tensor-core kernels (every dtype): 4 warps per block, 64 x 64 tiles, the next tile copied with cp.async while
// the current one is computed. The weight is taken of the unscaled score s = q.k: ReBased a = s^2 (scale^2
// folded into eps and z), Based a = 1 + c1 s + c2 s^2. Fragment naming follows the PTX ISA: lane = 4 g + t;
// C/D element c0,c1 at (row g, cols 2t, 2t+1), c2,c3 at (row g + 8, same cols).
// ---------------------------------------------------------------------------------------------------------
#define MT 128

#ifndef CUDA_EMULATION  // PTX helpers; scripts/cuda-emulation/cuda_emu.h has CPU versions of these
__device__ __forceinline__ unsigned smem_addr(const void* p) {
    unsigned r;
    asm("{ .reg .u64 a; cvta.to.shared.u64 a, %1; cvt.u32.u64 %0, a; }" : "=r"(r) : "l"(p));
    return r;
}

// cp.async copies global memory to shared memory without passing through registers, so the next tile's
// loads are in flight while the current tile is computed; src_bytes = 0 zero-fills (src must still be mapped).
__device__ __forceinline__ void cp_async16(void* dst, const void* src, bool live) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" :: "r"(smem_addr(dst)), "l"(src), "r"(live ? 16 : 0));
}

__device__ __forceinline__ void cp_async4(void* dst, const void* src, bool live) {
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;" :: "r"(smem_addr(dst)), "l"(src), "r"(live ? 4 : 0));
}

__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;"); }

// Waits until at most N of this thread's committed groups are still in flight.
template <int N>
__device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;" :: "n"(N)); }
#endif

__device__ __forceinline__ float weight_s(float s, float c1, float c2) {
#if KERNEL == 0
    return s * s;
#else
    return fmaf(s, fmaf(c2, s, c1), 1.0f);
#endif
}

// ReBased: 2 scale^2 s (= scale f'(scale s)); Based: scale + scale^2 s.
__device__ __forceinline__ float weight_grad_s(float s, float g1, float g2) {
#if KERNEL == 0
    return g1 * s;
#else
    return fmaf(g2, s, g1);
#endif
}

// The weight of the unscaled score times this is the weight of the scaled one: scale^2 for ReBased, 1 for Based.
__device__ __forceinline__ float weight_factor(float scale) {
#if KERNEL == 0
    return scale * scale;
#else
    return 1.0f;
#endif
}

// delta of the query rows [row0, row0 + 64) into Zs, asynchronously; zero outside the first Dv block, which alone
// adds the delta term.
__device__ __forceinline__ void load_delta_tile(float* Zs, const float* delta, int row0, int T, bool first_block) {
    if (threadIdx.x < 64) {
        int row = row0 + threadIdx.x;
        bool live = row < T && first_block;
        cp_async4(Zs + threadIdx.x, live ? delta + row : delta, live);
    }
}

// z of a lane's two rows (g and g + 8 of its MMA tile), written once: by lane t = 0 of the first Dv block.
__device__ __forceinline__ void store_z(float* z, int rlo, int rhi, float zlo, float zhi, int t, int T) {
    if (blockIdx.y == 0 && t == 0) {
        if (rlo < T) z[rlo] = zlo;
        if (rhi < T) z[rhi] = zhi;
    }
}

// One warp per row: dor = dy / (z + eps) in the inputs' type as the tensor cores see it (the backward's operand,
// in dy's layout) and delta = -(dor . y) with y in fp32 (y32), so that dP + delta = dor . (v_j - y) cancels
// consistently.
extern "C" __global__ void la_backward_prep_mma(
    const float* __restrict__ y32, const elem_t* __restrict__ dy, const float* __restrict__ z,
    elem_t* __restrict__ dor, float* __restrict__ delta, long long rows, int T, int Dv, float eps, int heads, int interleaved) {
    long long row = (long long)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    int lane = threadIdx.x % 32;
    if (row >= rows) return;
    float r = 1.0f / (z[row] + eps);
    float sum = 0.0f;
    const u64 at = head_offset(row / T, T, Dv, heads, interleaved) + (u64)(row % T) * row_stride(Dv, heads, interleaved);
    for (int c = lane; c < Dv; c += 32) {
        elem_t o = from_f32(to_f32(dy[at + c]) * r);
        dor[at + c] = o;
        sum += to_f32(o) * y32[at + c];
    }
#pragma unroll
    for (int off = 16; off > 0; off /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, off);
    if (lane == 0) delta[row] = -sum;
}

#if TF32X3
// ---------------------------------------------------------------------------------------------------------
// fp32 inputs on tensor cores, 3xTF32 (mma.sync m16n8k8 .tf32, fp32 accumulation): each operand x is split into
// a TF32 high part h = rna(x) and a TF32 low part l = rna(x - h), and a product is l.h' + h.l' + h.h' (l.l' lies
// below fp32's resolution), which keeps fp32's accuracy at tensor-core rates. Tiles stay fp32 in shared memory
// with rows padded by 4 floats: a row stride of 4 mod 8 words makes both fragment patterns below conflict-free.
// m16n8k8 fragments: A a0 (g, t), a1 (g + 8, t), a2 (g, t + 4), a3 (g + 8, t + 4); B b0 (k t, n g), b1 (k t + 4,
// n g). A C tile becomes the A operand of the next product with its k index permuted, k = t standing for
// column 2t and k = t + 4 for column 2t + 1 (a = c0, c2, c1, c3); that product's B operand reads its rows in
// the same order (b0 from row 2t, b1 from row 2t + 1).
// ---------------------------------------------------------------------------------------------------------
#define TQ (DP + 4)
#define TV (BV + 4)
#define TXS (64 + 4)

#ifndef CUDA_EMULATION
__device__ __forceinline__ unsigned to_tf32(float x) {
    unsigned r;
    asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(x));
    return r;
}

__device__ __forceinline__ void mma1688(float (&d)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
    asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
#endif

// The high and low TF32 parts of an A fragment.
struct SplitA { unsigned hi[4], lo[4]; };

__device__ __forceinline__ SplitA split_a(float a0, float a1, float a2, float a3) {
    SplitA r;
    const float a[4] = { a0, a1, a2, a3 };
#pragma unroll
    for (int i = 0; i < 4; i++) {
        r.hi[i] = to_tf32(a[i]);
        r.lo[i] = to_tf32(a[i] - __uint_as_float(r.hi[i]));
    }
    return r;
}

// d += A B in 3xTF32, the small terms first.
__device__ __forceinline__ void mma3(float (&d)[4], const SplitA& a, float b0, float b1) {
    unsigned h0 = to_tf32(b0), h1 = to_tf32(b1);
    unsigned l0 = to_tf32(b0 - __uint_as_float(h0)), l1 = to_tf32(b1 - __uint_as_float(h1));
    mma1688(d, a.lo, h0, h1);
    mma1688(d, a.hi, l0, l1);
    mma1688(d, a.hi, h0, h1);
}

// rows [row0, row0 + 64) x cols [col0, col0 + W) of a row-major [T, ld] fp32 matrix into dst (row stride P),
// zero-padded, with cp.async: 16-byte runs where ncols (and so ld) is a multiple of 4, else 4-byte ones.
template <int W, int P>
__device__ __forceinline__ void load_tile32(float* dst, const float* src, int row0, int col0, int T, int ld, int ncols, bool vec) {
    constexpr int C4 = W / 4;
    for (int e = threadIdx.x; e < 64 * C4; e += MT) {
        int r = e / C4, c = (e % C4) * 4;
        int row = row0 + r, col = col0 + c;
        float* d = dst + r * P + c;
        if (vec) {
            bool live = row < T && col < ncols;
            cp_async16(d, live ? src + (u64)row * ld + col : src, live);
        } else {
#pragma unroll
            for (int i = 0; i < 4; i++) {
                bool live = row < T && col + i < ncols;
                cp_async4(d + i, live ? src + (u64)row * ld + col + i : src, live);
            }
        }
    }
}

// grid (query tiles, Dv blocks, BH); warp w owns query rows 16 w .. 16 w + 15 of the tile; z is summed in fp32
// over the weights before their split.
extern "C" __global__ void __launch_bounds__(MT) la_forward_tf32(
    const float* __restrict__ q, const float* __restrict__ k, const float* __restrict__ v,
    float* __restrict__ y, float* __restrict__ z, int T, int D, int Dv, float scale, float eps, int heads, int interleaved) {
    extern __shared__ __align__(16) float smem[];
    float* Qs = smem;                // [64][TQ]
    float* Ks = Qs + 64 * TQ;        // [2][64][TQ], double-buffered
    float* Vs = Ks + 2 * 64 * TQ;    // [2][64][TV]
    const int tiles = (T + 63) / 64;
    const int qt = tiles - 1 - blockIdx.x;
    const int col0 = blockIdx.y * BV;
    const u64 bh = blockIdx.z;
    const int ldq = row_stride(D, heads, interleaved), ldv = row_stride(Dv, heads, interleaved);
    q += head_offset(bh, T, D, heads, interleaved); k += head_offset(bh, T, D, heads, interleaved);
    v += head_offset(bh, T, Dv, heads, interleaved); y += head_offset(bh, T, Dv, heads, interleaved);
    z += bh * T;
    const int lane = threadIdx.x % 32, w = threadIdx.x / 32, g = lane / 4, t = lane % 4;
    const int row0 = qt * 64;
    const bool vq = D % 4 == 0, vv = Dv % 4 == 0;

    load_tile32<DP, TQ>(Qs, q, row0, 0, T, ldq, D, vq);
    cp_async_commit();
    load_tile32<DP, TQ>(Ks, k, 0, 0, T, ldq, D, vq);
    load_tile32<BV, TV>(Vs, v, 0, col0, T, ldv, Dv, vv);
    cp_async_commit();

    const float* Qw = Qs + w * 16 * TQ;
    float o[BV / 8][4];
#pragma unroll
    for (int n = 0; n < BV / 8; n++) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;
    float zlo = 0.0f, zhi = 0.0f;
    const int rlo = row0 + w * 16 + g, rhi = rlo + 8;
    const float c1 = scale, c2 = 0.5f * scale * scale;

    for (int kt = 0; kt <= qt; kt++) {
        const float* Kb = Ks + (kt & 1) * 64 * TQ;
        const float* Vb = Vs + (kt & 1) * 64 * TV;
        if (kt < qt) {
            load_tile32<DP, TQ>(Ks + (~kt & 1) * 64 * TQ, k, (kt + 1) * 64, 0, T, ldq, D, vq);
            load_tile32<BV, TV>(Vs + (~kt & 1) * 64 * TV, v, (kt + 1) * 64, col0, T, ldv, Dv, vv);
        }
        cp_async_commit();
        cp_async_wait<1>();
        __syncthreads();
        float s[8][4];
#pragma unroll
        for (int n = 0; n < 8; n++) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
#pragma unroll
        for (int kk = 0; kk < DP / 8; kk++) {
            const float* qr = Qw + g * TQ + kk * 8 + t;
            SplitA a = split_a(qr[0], qr[8 * TQ], qr[4], qr[8 * TQ + 4]);
#pragma unroll
            for (int n = 0; n < 8; n++) {
                const float* kr = Kb + (n * 8 + g) * TQ + kk * 8 + t;
                mma3(s[n], a, kr[0], kr[4]);
            }
        }
#pragma unroll
        for (int n = 0; n < 8; n++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                int key = kt * 64 + n * 8 + 2 * t + (e & 1);
                s[n][e] = kt == qt && key > (e < 2 ? rlo : rhi) ? 0.0f : weight_s(s[n][e], c1, c2);
            }
#pragma unroll
        for (int j = 0; j < 8; j++) {
            zlo += s[j][0] + s[j][1];
            zhi += s[j][2] + s[j][3];
            SplitA a = split_a(s[j][0], s[j][2], s[j][1], s[j][3]);
            const float* vr = Vb + (j * 8 + 2 * t) * TV + g;
#pragma unroll
            for (int m = 0; m < BV / 8; m++) mma3(o[m], a, vr[m * 8], vr[TV + m * 8]);
        }
        __syncthreads();
    }
    // The four lanes of a row group hold partial sums of its weights.
#pragma unroll
    for (int off = 1; off < 4; off *= 2) {
        zlo += __shfl_xor_sync(0xffffffffu, zlo, off);
        zhi += __shfl_xor_sync(0xffffffffu, zhi, off);
    }
    const float zmul = weight_factor(scale);
    zlo *= zmul; zhi *= zmul;
    const float ilo = zmul / (zlo + eps), ihi = zmul / (zhi + eps);
#pragma unroll
    for (int m = 0; m < BV / 8; m++)
#pragma unroll
        for (int e = 0; e < 4; e++) {
            int row = e < 2 ? rlo : rhi, col = col0 + m * 8 + 2 * t + (e & 1);
            if (row < T && col < Dv) y[(u64)row * ldv + col] = o[m][e] * (e < 2 ? ilo : ihi);
        }
    store_z(z, rlo, rhi, zlo, zhi, t, T);
}

// The query side of one backward step: q and dor rows [row0, row0 + 64) and their delta (zero outside the
// first Dv block, which alone adds the delta term).
__device__ __forceinline__ void load_query_tile32(float* Qs, float* Os, float* Zs, const float* q, const float* dor, const float* delta,
    int row0, int col0, int T, int ldq, int ldv, int D, int Dv, bool vq, bool vv, bool first_block) {
    load_tile32<DP, TQ>(Qs, q, row0, 0, T, ldq, D, vq);
    load_tile32<BV, TV>(Os, dor, row0, col0, T, ldv, Dv, vv);
    load_delta_tile(Zs, delta, row0, T, first_block);
}

// grid (key tiles, Dv blocks, BH); warp w owns keys 16 w .. 16 w + 15 of the tile for S^T, dP^T, dv, dk, and
// queries 16 w .. 16 w + 15 of each query tile for dq (through dX^T in shared memory).
extern "C" __global__ void __launch_bounds__(MT) la_backward_tf32(
    const float* __restrict__ q, const float* __restrict__ k, const float* __restrict__ v,
    const float* __restrict__ dor, const float* __restrict__ delta,
    float* __restrict__ dq, float* __restrict__ dk, float* __restrict__ dv,
    int T, int D, int Dv, float scale, int heads, int interleaved) {
    extern __shared__ __align__(16) float smem[];
    float* Zs = smem;                // [2][64] delta of the queries, double-buffered as Qs and Os
    float* Ks = smem + 128;          // [64][TQ]
    float* Vs = Ks + 64 * TQ;        // [64][TV]
    float* Xs = Vs + 64 * TV;        // [64 keys][TXS] dX^T
    float* Qs = Xs + 64 * TXS;        // [2][64][TQ]
    float* Os = Qs + 2 * 64 * TQ;    // [2][64][TV] dor

    const int tiles = (T + 63) / 64;
    const int kt = blockIdx.x;
    const int col0 = blockIdx.y * BV;
    const bool first_block = blockIdx.y == 0, split = gridDim.y > 1;
    const u64 bh = blockIdx.z;
    const int ldq = row_stride(D, heads, interleaved), ldv = row_stride(Dv, heads, interleaved);
    const u64 qk_offset = head_offset(bh, T, D, heads, interleaved), v_offset = head_offset(bh, T, Dv, heads, interleaved);
    q += qk_offset; k += qk_offset; dq += qk_offset; dk += qk_offset;
    v += v_offset; dor += v_offset; dv += v_offset;
    delta += bh * T;
    const int lane = threadIdx.x % 32, w = threadIdx.x / 32, g = lane / 4, t = lane % 4;
    const int key0 = kt * 64;
    const bool vq = D % 4 == 0, vv = Dv % 4 == 0;
    const int klo = key0 + w * 16 + g, khi = klo + 8;
    const float c1 = scale, c2 = 0.5f * scale * scale;
#if KERNEL == 0
    const float g1 = 2.0f * scale * scale, g2 = 0.0f;
#else
    const float g1 = scale, g2 = scale * scale;
#endif
    const float vmul = weight_factor(scale);

    load_tile32<DP, TQ>(Ks, k, key0, 0, T, ldq, D, vq);
    load_tile32<BV, TV>(Vs, v, key0, col0, T, ldv, Dv, vv);
    cp_async_commit();
    load_query_tile32(Qs, Os, Zs, q, dor, delta, key0, col0, T, ldq, ldv, D, Dv, vq, vv, first_block);
    cp_async_commit();
    const float* Kw = Ks + w * 16 * TQ;
    const float* Vw = Vs + w * 16 * TV;

    float gv[BV / 8][4], gk[DP / 8][4];
#pragma unroll
    for (int n = 0; n < BV / 8; n++) gv[n][0] = gv[n][1] = gv[n][2] = gv[n][3] = 0.0f;
#pragma unroll
    for (int n = 0; n < DP / 8; n++) gk[n][0] = gk[n][1] = gk[n][2] = gk[n][3] = 0.0f;

    for (int qt = kt; qt < tiles; qt++) {
        const int row0 = qt * 64, buf = (qt - kt) & 1;
        const float* Qb = Qs + buf * 64 * TQ;
        const float* Ob = Os + buf * 64 * TV;
        const float* Zb = Zs + buf * 64;
        if (qt + 1 < tiles)
            load_query_tile32(Qs + (buf ^ 1) * 64 * TQ, Os + (buf ^ 1) * 64 * TV, Zs + (buf ^ 1) * 64, q, dor, delta,
                              row0 + 64, col0, T, ldq, ldv, D, Dv, vq, vv, first_block);
        cp_async_commit();
        cp_async_wait<1>();
        __syncthreads();

        // S^T = K Q^T and dP^T = V dor^T for this warp's 16 keys and the tile's 64 queries
        float s[8][4], p[8][4];
#pragma unroll
        for (int n = 0; n < 8; n++) { s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f; p[n][0] = p[n][1] = p[n][2] = p[n][3] = 0.0f; }
#pragma unroll
        for (int kk = 0; kk < DP / 8; kk++) {
            const float* kr = Kw + g * TQ + kk * 8 + t;
            SplitA a = split_a(kr[0], kr[8 * TQ], kr[4], kr[8 * TQ + 4]);
#pragma unroll
            for (int n = 0; n < 8; n++) {
                const float* qr = Qb + (n * 8 + g) * TQ + kk * 8 + t;
                mma3(s[n], a, qr[0], qr[4]);
            }
        }
#pragma unroll
        for (int kk = 0; kk < BV / 8; kk++) {
            const float* vr = Vw + g * TV + kk * 8 + t;
            SplitA a = split_a(vr[0], vr[8 * TV], vr[4], vr[8 * TV + 4]);
#pragma unroll
            for (int n = 0; n < 8; n++) {
                const float* orow = Ob + (n * 8 + g) * TV + kk * 8 + t;
                mma3(p[n], a, orow[0], orow[4]);
            }
        }
        // a = weight of the unscaled score (scale^2 of ReBased applied to dv at the end);
        // dx = d(loss)/ds = gscale(s) (dP + delta), the scale of x = scale s included.
#pragma unroll
        for (int n = 0; n < 8; n++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                int query = row0 + n * 8 + 2 * t + (e & 1), key = e < 2 ? klo : khi;
                bool live = query >= key && query < T;
                float sv = s[n][e];
                s[n][e] = live ? weight_s(sv, c1, c2) : 0.0f;
                p[n][e] = live ? weight_grad_s(sv, g1, g2) * (p[n][e] + Zb[n * 8 + 2 * t + (e & 1)]) : 0.0f;
            }
        // dX^T to shared memory for the dq product
#pragma unroll
        for (int n = 0; n < 8; n++) {
            int qc = n * 8 + 2 * t;
            *reinterpret_cast<float2*>(Xs + (w * 16 + g) * TXS + qc) = make_float2(p[n][0], p[n][1]);
            *reinterpret_cast<float2*>(Xs + (w * 16 + g + 8) * TXS + qc) = make_float2(p[n][2], p[n][3]);
        }
        // dv += S^T dor, dk += dX^T q over the tile's queries, eight at a time
#pragma unroll
        for (int j = 0; j < 8; j++) {
            SplitA a = split_a(s[j][0], s[j][2], s[j][1], s[j][3]);
            SplitA x = split_a(p[j][0], p[j][2], p[j][1], p[j][3]);
            const float* orow = Ob + (j * 8 + 2 * t) * TV + g;
#pragma unroll
            for (int m = 0; m < BV / 8; m++) mma3(gv[m], a, orow[m * 8], orow[TV + m * 8]);
            const float* qr = Qb + (j * 8 + 2 * t) * TQ + g;
#pragma unroll
            for (int m = 0; m < DP / 8; m++) mma3(gk[m], x, qr[m * 8], qr[TQ + m * 8]);
        }
        __syncthreads();
        // dq[query][d] += sum_key dX^T[key][query] k[key][d], queries 16 w .. 16 w + 15 of this tile; keys in the
        // permuted order (k = t: key 2t, k = t + 4: key 2t + 1 of each group of eight)
        float gq[DP / 8][4];
#pragma unroll
        for (int n = 0; n < DP / 8; n++) gq[n][0] = gq[n][1] = gq[n][2] = gq[n][3] = 0.0f;
#pragma unroll
        for (int kk = 0; kk < 8; kk++) {
            const float* xr = Xs + (kk * 8 + 2 * t) * TXS + w * 16 + g;
            SplitA a = split_a(xr[0], xr[8], xr[TXS], xr[TXS + 8]);
            const float* kr = Ks + (kk * 8 + 2 * t) * TQ + g;
#pragma unroll
            for (int m = 0; m < DP / 8; m++) mma3(gq[m], a, kr[m * 8], kr[TQ + m * 8]);
        }
        const int qlo = row0 + w * 16 + g, qhi = qlo + 8;
#pragma unroll
        for (int m = 0; m < DP / 8; m++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                int row = e < 2 ? qlo : qhi, col = m * 8 + 2 * t + (e & 1);
                if (row < T && col < D) atomicAdd(dq + (u64)row * ldq + col, gq[m][e]);
            }
    }

#pragma unroll
    for (int m = 0; m < BV / 8; m++)
#pragma unroll
        for (int e = 0; e < 4; e++) {
            int key = e < 2 ? klo : khi, col = col0 + m * 8 + 2 * t + (e & 1);
            if (key < T && col < Dv) dv[(u64)key * ldv + col] = gv[m][e] * vmul;
        }
#pragma unroll
    for (int m = 0; m < DP / 8; m++)
#pragma unroll
        for (int e = 0; e < 4; e++) {
            int key = e < 2 ? klo : khi, col = m * 8 + 2 * t + (e & 1);
            if (key >= T || col >= D) continue;
            if (split) atomicAdd(dk + (u64)key * ldq + col, gk[m][e]);
            else dk[(u64)key * ldq + col] = gk[m][e];
        }
}

#else
// ---------------------------------------------------------------------------------------------------------
// 16-bit inputs (mma.sync m16n8k16, fp32 accumulation). Shared tiles hold 16-bit values with rows padded by 8
// elements (16 bytes) against bank conflicts; the A fragment of a 16 x 16 tile is the C layout of two adjacent
// 16 x 8 tiles.
// ---------------------------------------------------------------------------------------------------------
#define PQ (DP + 8)
#define PV (BV + 8)
#define PX (64 + 8)
#if ELEM_KIND == 1
#define ONES2 0x3F803F80u
#else
#define ONES2 0x3C003C00u
#endif

#ifndef CUDA_EMULATION
__device__ __forceinline__ void ldsm_x4(unsigned (&r)[4], const u16* p) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(smem_addr(p)));
}

__device__ __forceinline__ void ldsm_x4_t(unsigned (&r)[4], const u16* p) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(smem_addr(p)));
}

__device__ __forceinline__ void mma16816(float (&d)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
#if ELEM_KIND == 1
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
#else
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
#endif
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Two floats as a 16-bit pair, the first in the low half.
__device__ __forceinline__ unsigned pack2(float lo, float hi) {
    unsigned r;
#if ELEM_KIND == 1
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
#else
    asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
#endif
    return r;
}
#endif

// Lane addresses for ldmatrix.x4 (l = lane):
// A operand of a 16 x 16 tile stored [m][k] at (m0, k0):            row m0 + (l & 15),                   col k0 + (l >> 4) * 8
// A operand stored transposed [k][m]:                              row k0 + (l & 7) + (l >> 4) * 8,     col m0 + ((l >> 3) & 1) * 8   (.trans)
// B operands of two 16 x 8 tiles (n0, n0 + 8) stored [n][k]:        row n0 + (l & 7) + (l >> 4) * 8,     col k0 + ((l >> 3) & 1) * 8
// B operands of two 16 x 8 tiles stored [k][n]:                     row k0 + (l & 7) + ((l >> 3) & 1) * 8, col n0 + (l >> 4) * 8      (.trans)
// In both B cases r0, r1 are (b0, b1) of tile n0 and r2, r3 those of tile n0 + 8.

// The widest run of elements (8, 2 or 1) in which a matrix of ncols columns can be copied: with ncols (and so
// the row stride) a multiple of it, every run is aligned to its size and wholly inside or outside the columns.
__device__ __forceinline__ int copy_run(int ncols) { return ncols % 8 == 0 ? 8 : ncols % 2 == 0 ? 2 : 1; }

// rows [row0, row0 + ROWS) x cols [col0, col0 + W) of a row-major [T, ld] matrix as 16-bit values into dst
// (row stride P), zero-padded; asynchronous (cp.async, completed by cp_async_wait) in runs of 8 or 2
// elements, element by element through registers for odd widths.
template <int W, int P, int ROWS = 64>
__device__ __forceinline__ void load_tile16(u16* dst, const elem_t* src, int row0, int col0, int T, int ld, int ncols, int run) {
    constexpr int C8 = W / 8;
    for (int e = threadIdx.x; e < ROWS * C8; e += MT) {
        int r = e / C8, c = (e % C8) * 8;
        int row = row0 + r, col = col0 + c;
        u16* d = dst + r * P + c;
        if (run == 8) {
            bool live = row < T && col < ncols;
            cp_async16(d, live ? src + (u64)row * ld + col : src, live);
        } else if (run == 2) {
#pragma unroll
            for (int i = 0; i < 8; i += 2) {
                bool live = row < T && col + i < ncols;
                cp_async4(d + i, live ? src + (u64)row * ld + col + i : src, live);
            }
        } else {
#pragma unroll
            for (int i = 0; i < 8; i++) d[i] = row < T && col + i < ncols ? src[(u64)row * ld + col + i] : (u16)0;
        }
    }
}

// grid (query tiles of FQ rows, Dv blocks, BH); warp w owns query rows 32 w .. 32 w + 31 of the tile as two
// 16-row MMA tiles, which share every K and V fragment read from shared memory (half the shared-memory reads
// per query row of one 16-row tile per warp). z is summed by the tensor cores over the same 16-bit weights that
// multiply v, so y is exactly a weighted mean of v. y32 (fp32 copy of y) is kept for the backward.
#define FQ 128
extern "C" __global__ void __launch_bounds__(MT) la_forward_mma(
    const elem_t* __restrict__ q, const elem_t* __restrict__ k, const elem_t* __restrict__ v,
    elem_t* __restrict__ y, float* __restrict__ y32, float* __restrict__ z, int T, int D, int Dv, float scale, float eps, int heads, int interleaved) {
    extern __shared__ __align__(16) float smem[];
    u16* Qs = reinterpret_cast<u16*>(smem);        // [FQ][PQ]
    u16* Ks = Qs + FQ * PQ;                        // [2][64][PQ], double-buffered
    u16* Vs = Ks + 2 * 64 * PQ;                    // [2][64][PV]
    const int qt = (T + FQ - 1) / FQ - 1 - blockIdx.x;
    const int col0 = blockIdx.y * BV;
    const u64 bh = blockIdx.z;
    const int ldq = row_stride(D, heads, interleaved), ldv = row_stride(Dv, heads, interleaved);
    q += head_offset(bh, T, D, heads, interleaved); k += head_offset(bh, T, D, heads, interleaved);
    v += head_offset(bh, T, Dv, heads, interleaved); y += head_offset(bh, T, Dv, heads, interleaved);
    y32 += head_offset(bh, T, Dv, heads, interleaved); z += bh * T;
    const int lane = threadIdx.x % 32, w = threadIdx.x / 32, g = lane / 4, t = lane % 4;
    const int row0 = qt * FQ, warp_row0 = row0 + w * 32;
    const int key_tiles = ((row0 + FQ < T ? row0 + FQ : T) + 63) / 64;
    const int vq = copy_run(D), vv = copy_run(Dv);

    load_tile16<DP, PQ, FQ>(Qs, q, row0, 0, T, ldq, D, vq);
    cp_async_commit();
    load_tile16<DP, PQ>(Ks, k, 0, 0, T, ldq, D, vq);
    load_tile16<BV, PV>(Vs, v, 0, col0, T, ldv, Dv, vv);
    cp_async_commit();
    cp_async_wait<1>();
    __syncthreads();
    unsigned qa[2][DP / 16][4];
#pragma unroll
    for (int m = 0; m < 2; m++)
#pragma unroll
        for (int kk = 0; kk < DP / 16; kk++) ldsm_x4(qa[m][kk], Qs + (w * 32 + m * 16 + (lane & 15)) * PQ + kk * 16 + (lane >> 4) * 8);

    float o[2][BV / 8][4];
    float zacc[2][4];
#pragma unroll
    for (int m = 0; m < 2; m++) {
#pragma unroll
        for (int n = 0; n < BV / 8; n++) o[m][n][0] = o[m][n][1] = o[m][n][2] = o[m][n][3] = 0.0f;
        zacc[m][0] = zacc[m][1] = zacc[m][2] = zacc[m][3] = 0.0f;
    }
    const float c1 = scale, c2 = 0.5f * scale * scale;

    for (int kt = 0; kt < key_tiles; kt++) {
        const u16* Kb = Ks + (kt & 1) * 64 * PQ;
        const u16* Vb = Vs + (kt & 1) * 64 * PV;
        if (kt + 1 < key_tiles) {
            load_tile16<DP, PQ>(Ks + (~kt & 1) * 64 * PQ, k, (kt + 1) * 64, 0, T, ldq, D, vq);
            load_tile16<BV, PV>(Vs + (~kt & 1) * 64 * PV, v, (kt + 1) * 64, col0, T, ldv, Dv, vv);
        }
        cp_async_commit();
        cp_async_wait<1>();
        __syncthreads();
        // Key tiles wholly after the warp's rows add nothing; those that reach past its first row are masked.
        if (kt * 64 <= warp_row0 + 31) {
            float s[2][8][4];
#pragma unroll
            for (int m = 0; m < 2; m++)
#pragma unroll
                for (int n = 0; n < 8; n++) s[m][n][0] = s[m][n][1] = s[m][n][2] = s[m][n][3] = 0.0f;
#pragma unroll
            for (int np = 0; np < 4; np++)
#pragma unroll
                for (int kk = 0; kk < DP / 16; kk++) {
                    unsigned b[4];
                    ldsm_x4(b, Kb + (np * 16 + (lane & 7) + (lane >> 4) * 8) * PQ + kk * 16 + ((lane >> 3) & 1) * 8);
#pragma unroll
                    for (int m = 0; m < 2; m++) {
                        mma16816(s[m][2 * np], qa[m][kk], b[0], b[1]);
                        mma16816(s[m][2 * np + 1], qa[m][kk], b[2], b[3]);
                    }
                }
            if (kt * 64 + 63 > warp_row0) {
#pragma unroll
                for (int m = 0; m < 2; m++)
#pragma unroll
                    for (int n = 0; n < 8; n++)
#pragma unroll
                        for (int e = 0; e < 4; e++) {
                            int key = kt * 64 + n * 8 + 2 * t + (e & 1), row = warp_row0 + m * 16 + g + (e < 2 ? 0 : 8);
                            s[m][n][e] = key > row ? 0.0f : weight_s(s[m][n][e], c1, c2);
                        }
            } else {
#pragma unroll
                for (int m = 0; m < 2; m++)
#pragma unroll
                    for (int n = 0; n < 8; n++)
#pragma unroll
                        for (int e = 0; e < 4; e++) s[m][n][e] = weight_s(s[m][n][e], c1, c2);
            }
#pragma unroll
            for (int j = 0; j < 4; j++) {
                unsigned a[2][4];
#pragma unroll
                for (int m = 0; m < 2; m++) {
                    a[m][0] = pack2(s[m][2 * j][0], s[m][2 * j][1]);
                    a[m][1] = pack2(s[m][2 * j][2], s[m][2 * j][3]);
                    a[m][2] = pack2(s[m][2 * j + 1][0], s[m][2 * j + 1][1]);
                    a[m][3] = pack2(s[m][2 * j + 1][2], s[m][2 * j + 1][3]);
                    mma16816(zacc[m], a[m], ONES2, ONES2);
                }
#pragma unroll
                for (int np = 0; np < BV / 16; np++) {
                    unsigned b[4];
                    ldsm_x4_t(b, Vb + (j * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * PV + np * 16 + (lane >> 4) * 8);
#pragma unroll
                    for (int m = 0; m < 2; m++) {
                        mma16816(o[m][2 * np], a[m], b[0], b[1]);
                        mma16816(o[m][2 * np + 1], a[m], b[2], b[3]);
                    }
                }
            }
        }
        __syncthreads();
    }
    const float zmul = weight_factor(scale);
#pragma unroll
    for (int m = 0; m < 2; m++) {
        const int rlo = warp_row0 + m * 16 + g, rhi = rlo + 8;
        const float zlo = zacc[m][0] * zmul, zhi = zacc[m][2] * zmul;
        const float ilo = 1.0f / (zlo + eps), ihi = 1.0f / (zhi + eps);
#pragma unroll
        for (int n = 0; n < BV / 8; n++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                int row = e < 2 ? rlo : rhi, col = col0 + n * 8 + 2 * t + (e & 1);
                if (row < T && col < Dv) {
                    float val = o[m][n][e] * zmul * (e < 2 ? ilo : ihi);
                    y[(u64)row * ldv + col] = from_f32(val);
                    y32[(u64)row * ldv + col] = val;
                }
            }
        store_z(z, rlo, rhi, zlo, zhi, t, T);
    }
}

// The query side of one backward step: q and dor rows [row0, row0 + 64) and their delta (zero outside the
// first Dv block, which alone adds the delta term), asynchronously where the widths allow it.
__device__ __forceinline__ void load_query_tile(u16* Qs, u16* Os, float* Zs, const elem_t* q, const elem_t* dor, const float* delta,
    int row0, int col0, int T, int ldq, int ldv, int D, int Dv, int vq, int vv, bool first_block) {
    load_tile16<DP, PQ>(Qs, q, row0, 0, T, ldq, D, vq);
    load_tile16<BV, PV>(Os, dor, row0, col0, T, ldv, Dv, vv);
    load_delta_tile(Zs, delta, row0, T, first_block);
}

// grid (key tiles, Dv blocks, BH); warp w owns keys 16 w .. 16 w + 15 of the tile for S^T, dP^T, dv, dk,
// and queries 16 w .. 16 w + 15 of each query tile for dq (through dX^T in shared memory). dk is written in the
// inputs' type when one block holds all of Dv, else summed over the blocks in fp32 (dk_sum, zero-filled).
extern "C" __global__ void __launch_bounds__(MT) la_backward_mma(
    const elem_t* __restrict__ q, const elem_t* __restrict__ k, const elem_t* __restrict__ v,
    const elem_t* __restrict__ dor, const float* __restrict__ delta,
    float* __restrict__ dq, float* __restrict__ dk_sum, elem_t* __restrict__ dk, elem_t* __restrict__ dv,
    int T, int D, int Dv, float scale, int heads, int interleaved) {
    extern __shared__ __align__(16) float smem[];
    float* Zs = smem;                              // [2][64] delta of the queries, double-buffered as Qs and Os
    u16* Ks = reinterpret_cast<u16*>(smem + 128);  // [64][PQ]
    u16* Vs = Ks + 64 * PQ;                        // [64][PV]
    u16* Xs = Vs + 64 * PV;                        // [64 keys][PX] dX^T
    u16* Qs = Xs + 64 * PX;                        // [2][64][PQ]
    u16* Os = Qs + 2 * 64 * PQ;                    // [2][64][PV] dor

    const int tiles = (T + 63) / 64;
    const int kt = blockIdx.x;
    const int col0 = blockIdx.y * BV;
    const bool first_block = blockIdx.y == 0, split = gridDim.y > 1;
    const u64 bh = blockIdx.z;
    const int ldq = row_stride(D, heads, interleaved), ldv = row_stride(Dv, heads, interleaved);
    const u64 qk_offset = head_offset(bh, T, D, heads, interleaved), v_offset = head_offset(bh, T, Dv, heads, interleaved);
    q += qk_offset; k += qk_offset; dq += qk_offset;
    if (split) dk_sum += qk_offset; else dk += qk_offset;
    v += v_offset; dor += v_offset; dv += v_offset;
    delta += bh * T;
    const int lane = threadIdx.x % 32, w = threadIdx.x / 32, g = lane / 4, t = lane % 4;
    const int key0 = kt * 64;
    const int vq = copy_run(D), vv = copy_run(Dv);
    const int klo = key0 + w * 16 + g, khi = klo + 8;
    const float c1 = scale, c2 = 0.5f * scale * scale;
#if KERNEL == 0
    const float g1 = 2.0f * scale * scale, g2 = 0.0f;
#else
    const float g1 = scale, g2 = scale * scale;
#endif
    const float vmul = weight_factor(scale);

    load_tile16<DP, PQ>(Ks, k, key0, 0, T, ldq, D, vq);
    load_tile16<BV, PV>(Vs, v, key0, col0, T, ldv, Dv, vv);
    cp_async_commit();
    load_query_tile(Qs, Os, Zs, q, dor, delta, key0, col0, T, ldq, ldv, D, Dv, vq, vv, first_block);
    cp_async_commit();
    cp_async_wait<1>();
    __syncthreads();
    unsigned ka[DP / 16][4], va[BV / 16][4];
#pragma unroll
    for (int kk = 0; kk < DP / 16; kk++) ldsm_x4(ka[kk], Ks + (w * 16 + (lane & 15)) * PQ + kk * 16 + (lane >> 4) * 8);
#pragma unroll
    for (int kk = 0; kk < BV / 16; kk++) ldsm_x4(va[kk], Vs + (w * 16 + (lane & 15)) * PV + kk * 16 + (lane >> 4) * 8);

    float gv[BV / 8][4], gk[DP / 8][4];
#pragma unroll
    for (int n = 0; n < BV / 8; n++) gv[n][0] = gv[n][1] = gv[n][2] = gv[n][3] = 0.0f;
#pragma unroll
    for (int n = 0; n < DP / 8; n++) gk[n][0] = gk[n][1] = gk[n][2] = gk[n][3] = 0.0f;

    for (int qt = kt; qt < tiles; qt++) {
        const int row0 = qt * 64, buf = (qt - kt) & 1;
        const u16* Qb = Qs + buf * 64 * PQ;
        const u16* Ob = Os + buf * 64 * PV;
        const float* Zb = Zs + buf * 64;
        if (qt + 1 < tiles)
            load_query_tile(Qs + (buf ^ 1) * 64 * PQ, Os + (buf ^ 1) * 64 * PV, Zs + (buf ^ 1) * 64, q, dor, delta,
                            row0 + 64, col0, T, ldq, ldv, D, Dv, vq, vv, first_block);
        cp_async_commit();
        cp_async_wait<1>();
        __syncthreads();

        float s[8][4], p[8][4];
#pragma unroll
        for (int n = 0; n < 8; n++) { s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f; p[n][0] = p[n][1] = p[n][2] = p[n][3] = 0.0f; }
#pragma unroll
        for (int np = 0; np < 4; np++) {
#pragma unroll
            for (int kk = 0; kk < DP / 16; kk++) {
                unsigned b[4];
                ldsm_x4(b, Qb + (np * 16 + (lane & 7) + (lane >> 4) * 8) * PQ + kk * 16 + ((lane >> 3) & 1) * 8);
                mma16816(s[2 * np], ka[kk], b[0], b[1]);
                mma16816(s[2 * np + 1], ka[kk], b[2], b[3]);
            }
#pragma unroll
            for (int kk = 0; kk < BV / 16; kk++) {
                unsigned b[4];
                ldsm_x4(b, Ob + (np * 16 + (lane & 7) + (lane >> 4) * 8) * PV + kk * 16 + ((lane >> 3) & 1) * 8);
                mma16816(p[2 * np], va[kk], b[0], b[1]);
                mma16816(p[2 * np + 1], va[kk], b[2], b[3]);
            }
        }
        // a = weight of the unscaled score (scale^2 of ReBased applied to dv at the end);
        // dx = d(loss)/ds = gscale(s) (dP + delta), the scale of x = scale s included.
        float zq[8][2];
#pragma unroll
        for (int n = 0; n < 8; n++) { zq[n][0] = Zb[n * 8 + 2 * t]; zq[n][1] = Zb[n * 8 + 2 * t + 1]; }
        if (qt == kt || row0 + 64 > T) {
#pragma unroll
            for (int n = 0; n < 8; n++)
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    int query = row0 + n * 8 + 2 * t + (e & 1), key = e < 2 ? klo : khi;
                    bool live = query >= key && query < T;
                    float sv = s[n][e];
                    s[n][e] = live ? weight_s(sv, c1, c2) : 0.0f;
                    p[n][e] = live ? weight_grad_s(sv, g1, g2) * (p[n][e] + zq[n][e & 1]) : 0.0f;
                }
        } else {
#pragma unroll
            for (int n = 0; n < 8; n++)
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    float sv = s[n][e];
                    s[n][e] = weight_s(sv, c1, c2);
                    p[n][e] = weight_grad_s(sv, g1, g2) * (p[n][e] + zq[n][e & 1]);
                }
        }
        // dX^T to shared memory for the dq product
#pragma unroll
        for (int n = 0; n < 8; n++) {
            int qc = n * 8 + 2 * t;
            *reinterpret_cast<unsigned*>(Xs + (w * 16 + g) * PX + qc) = pack2(p[n][0], p[n][1]);
            *reinterpret_cast<unsigned*>(Xs + (w * 16 + g + 8) * PX + qc) = pack2(p[n][2], p[n][3]);
        }
#pragma unroll
        for (int j = 0; j < 4; j++) {
            unsigned a[4] = { pack2(s[2 * j][0], s[2 * j][1]), pack2(s[2 * j][2], s[2 * j][3]),
                              pack2(s[2 * j + 1][0], s[2 * j + 1][1]), pack2(s[2 * j + 1][2], s[2 * j + 1][3]) };
            unsigned x[4] = { pack2(p[2 * j][0], p[2 * j][1]), pack2(p[2 * j][2], p[2 * j][3]),
                              pack2(p[2 * j + 1][0], p[2 * j + 1][1]), pack2(p[2 * j + 1][2], p[2 * j + 1][3]) };
#pragma unroll
            for (int np = 0; np < BV / 16; np++) {
                unsigned b[4];
                ldsm_x4_t(b, Ob + (j * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * PV + np * 16 + (lane >> 4) * 8);
                mma16816(gv[2 * np], a, b[0], b[1]);
                mma16816(gv[2 * np + 1], a, b[2], b[3]);
            }
#pragma unroll
            for (int np = 0; np < DP / 16; np++) {
                unsigned b[4];
                ldsm_x4_t(b, Qb + (j * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * PQ + np * 16 + (lane >> 4) * 8);
                mma16816(gk[2 * np], x, b[0], b[1]);
                mma16816(gk[2 * np + 1], x, b[2], b[3]);
            }
        }
        __syncthreads();
        // dq[query][d] += sum_key dX^T[key][query] k[key][d], queries 16 w .. 16 w + 15 of this tile
        float gq[DP / 8][4];
#pragma unroll
        for (int n = 0; n < DP / 8; n++) gq[n][0] = gq[n][1] = gq[n][2] = gq[n][3] = 0.0f;
#pragma unroll
        for (int j = 0; j < 4; j++) {
            unsigned a[4];
            ldsm_x4_t(a, Xs + (j * 16 + (lane & 7) + (lane >> 4) * 8) * PX + w * 16 + ((lane >> 3) & 1) * 8);
#pragma unroll
            for (int np = 0; np < DP / 16; np++) {
                unsigned b[4];
                ldsm_x4_t(b, Ks + (j * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * PQ + np * 16 + (lane >> 4) * 8);
                mma16816(gq[2 * np], a, b[0], b[1]);
                mma16816(gq[2 * np + 1], a, b[2], b[3]);
            }
        }
        const int qlo = row0 + w * 16 + g, qhi = qlo + 8;
#pragma unroll
        for (int n = 0; n < DP / 8; n++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                int row = e < 2 ? qlo : qhi, col = n * 8 + 2 * t + (e & 1);
                if (row < T && col < D) atomicAdd(dq + (u64)row * ldq + col, gq[n][e]);
            }
    }

#pragma unroll
    for (int n = 0; n < BV / 8; n++)
#pragma unroll
        for (int e = 0; e < 4; e++) {
            int key = e < 2 ? klo : khi, col = col0 + n * 8 + 2 * t + (e & 1);
            if (key < T && col < Dv) dv[(u64)key * ldv + col] = from_f32(gv[n][e] * vmul);
        }
#pragma unroll
    for (int n = 0; n < DP / 8; n++)
#pragma unroll
        for (int e = 0; e < 4; e++) {
            int key = e < 2 ? klo : khi, col = n * 8 + 2 * t + (e & 1);
            if (key >= T || col >= D) continue;
            if (split) atomicAdd(dk_sum + (u64)key * ldq + col, gk[n][e]);
            else dk[(u64)key * ldq + col] = from_f32(gk[n][e]);
        }
}
#endif
#endif
