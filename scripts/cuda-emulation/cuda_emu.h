#pragma once
// Just enough of CUDA to run this project's .cu kernels on the CPU: one OS thread per CUDA thread, a barrier for
// __syncthreads, a two-barrier exchange per warp for the shuffles and the tf32 mma.sync, a mutex for atomics,
// blocks one after another (so __shared__ arrays can be plain statics). The kernels' PTX helpers (cp.async,
// cvt.rna.tf32, mma.sync) sit in #ifndef CUDA_EMULATION blocks, replaced here: cp.async by a plain copy, the
// m16n8k8 tf32 product by the PTX ISA's fragment layout summed in double. Slow, and only for small shapes; it
// checks indexing and synchronisation, not speed.
#define CUDA_EMULATION 1
#include <cmath>
#include <thread>
#include <barrier>
#include <mutex>
#include <vector>
#include <functional>
#include <memory>
#include <cstring>
#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static
struct dim3_ { unsigned x = 0, y = 0, z = 0; };
inline thread_local dim3_ threadIdx, blockIdx;
inline dim3_ blockDim, gridDim;
inline std::barrier<>* g_block;
struct WarpSync { std::unique_ptr<std::barrier<>> bar; float buf[32]; unsigned ua[32][4], ub[32][2]; const unsigned short* rows[32]; };
inline std::vector<WarpSync> g_warps;
inline std::mutex g_atomic;
inline void __syncthreads() { g_block->arrive_and_wait(); }
inline float __shfl_xor_sync(unsigned, float v, int off) {
    auto& w = g_warps[threadIdx.x / 32]; int l = threadIdx.x % 32;
    w.buf[l] = v; w.bar->arrive_and_wait(); float r = w.buf[l ^ off]; w.bar->arrive_and_wait(); return r;
}
inline float atomicAdd(float* p, float v) { std::lock_guard<std::mutex> g(g_atomic); float o = *p; *p += v; return o; }
template <class F> void launch(dim3_ grid, unsigned threads, F kernel) {
    gridDim = grid; blockDim = {threads, 1, 1};
    for (unsigned bz = 0; bz < grid.z; bz++) for (unsigned by = 0; by < grid.y; by++) for (unsigned bx = 0; bx < grid.x; bx++) {
        std::barrier<> block(threads); g_block = &block;
        g_warps.clear(); g_warps.resize((threads + 31) / 32);
        for (auto& w : g_warps) w.bar = std::make_unique<std::barrier<>>(32);
        std::vector<std::thread> ts;
        for (unsigned t = 0; t < threads; t++) ts.emplace_back([=] { threadIdx = {t, 0, 0}; blockIdx = {bx, by, bz}; kernel(); });
        for (auto& t : ts) t.join();
    }
}
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(8) float2 { float x, y; };
inline float4 make_float4(float a, float b, float c, float d) { return {a, b, c, d}; }
inline float2 make_float2(float a, float b) { return {a, b}; }
inline float __uint_as_float(unsigned u) { float f; std::memcpy(&f, &u, 4); return f; }
inline unsigned __float_as_uint(float f) { unsigned u; std::memcpy(&u, &f, 4); return u; }

// cp.async: the copy (or the zero fill) happens at once, so commit and wait have nothing to do.
inline void cp_async16(void* dst, const void* src, bool live) { if (live) std::memcpy(dst, src, 16); else std::memset(dst, 0, 16); }
inline void cp_async4(void* dst, const void* src, bool live) { if (live) std::memcpy(dst, src, 4); else std::memset(dst, 0, 4); }
inline void cp_async_commit() {}
template <int N> inline void cp_async_wait() {}

// cvt.rna.tf32.f32: round to 10 mantissa bits, ties away from zero (finite inputs).
inline unsigned to_tf32(float x) { return (__float_as_uint(x) + 0x1000u) & 0xFFFFE000u; }

// One m16n8kK mma.sync of the calling thread's warp (lane = 4 g + t): the lanes' A registers a[4] and B registers
// b0, b1 are exchanged, and a_at(registers, row, k), b_at(registers, k, col) read an element out of the lane and
// register that hold it. C/D: d0, d1 at (g, 2t, 2t + 1), d2, d3 at (g + 8, 2t, 2t + 1); sums in double.
template <int K, class AAt, class BAt>
inline void warp_mma(float (&d)[4], const unsigned (&a)[4], unsigned b0, unsigned b1, AAt a_at, BAt b_at) {
    auto& w = g_warps[threadIdx.x / 32]; int l = threadIdx.x % 32;
    for (int i = 0; i < 4; i++) w.ua[l][i] = a[i];
    w.ub[l][0] = b0; w.ub[l][1] = b1;
    w.bar->arrive_and_wait();
    int g = l / 4, t = l % 4;
    float out[4];
    for (int e = 0; e < 4; e++) {
        int row = g + (e >= 2 ? 8 : 0), col = 2 * t + (e & 1);
        double acc = d[e];
        for (int k = 0; k < K; k++) acc += a_at(w.ua, row, k) * b_at(w.ub, k, col);
        out[e] = (float)acc;
    }
    w.bar->arrive_and_wait();
    for (int e = 0; e < 4; e++) d[e] = out[e];
}

// mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32: A a0 (g, t), a1 (g + 8, t), a2 (g, t + 4), a3 (g + 8, t + 4);
// B b0 (k t, n g), b1 (k t + 4, n g). Operands are read as TF32 (the low 13 bits ignored).
inline double tf32_value(unsigned r) { return __uint_as_float(r & 0xFFFFE000u); }
inline void mma1688(float (&d)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
    warp_mma<8>(d, a, b0, b1,
        [](const unsigned (&ua)[32][4], int row, int k) { return tf32_value(ua[(row % 8) * 4 + k % 4][(row >= 8 ? 1 : 0) + (k >= 4 ? 2 : 0)]); },
        [](const unsigned (&ub)[32][2], int k, int col) { return tf32_value(ub[col * 4 + k % 4][k >= 4 ? 1 : 0]); });
}
#define __align__(n) alignas(n)
inline float* g_smem;

#if defined(ELEM_KIND) && ELEM_KIND != 0
// The 16-bit kernels (define ELEM_KIND, 1 = bf16 or 2 = fp16, before including this header): the conversions,
// ldmatrix and the m16n8k16 product. Two 16-bit values share a register, the first in the low half.
typedef unsigned short u16;
typedef u16 elem_t;
inline float to_f32(u16 x) {
    if (ELEM_KIND == 1) return __uint_as_float((unsigned)x << 16);
    _Float16 h; std::memcpy(&h, &x, 2); return (float)h;
}
inline u16 from_f32(float x) {  // round to nearest even (finite inputs)
    if (ELEM_KIND == 1) { unsigned u = __float_as_uint(x); return (u16)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16); }
    _Float16 h = (_Float16)x; u16 r; std::memcpy(&r, &h, 2); return r;
}
inline unsigned pack2(float lo, float hi) { return (unsigned)from_f32(lo) | ((unsigned)from_f32(hi) << 16); }
inline float half_of(unsigned r, int i) { return to_f32((u16)(i ? r >> 16 : r & 0xFFFFu)); }

// ldmatrix.x4: lanes 8i .. 8i + 7 give the rows of matrix i; lane l gets row l / 4, elements 2 (l % 4) and
// 2 (l % 4) + 1 of each matrix, or with .trans element l / 4 of rows 2 (l % 4) and 2 (l % 4) + 1.
inline void ldsm(unsigned (&r)[4], const u16* p, bool trans) {
    auto& w = g_warps[threadIdx.x / 32]; int l = threadIdx.x % 32;
    w.rows[l] = p;
    w.bar->arrive_and_wait();
    for (int i = 0; i < 4; i++) {
        const u16 *r0 = trans ? w.rows[8 * i + 2 * (l % 4)] : w.rows[8 * i + l / 4], *r1 = trans ? w.rows[8 * i + 2 * (l % 4) + 1] : r0;
        u16 lo = trans ? r0[l / 4] : r0[2 * (l % 4)], hi = trans ? r1[l / 4] : r0[2 * (l % 4) + 1];
        r[i] = (unsigned)lo | ((unsigned)hi << 16);
    }
    w.bar->arrive_and_wait();
}
inline void ldsm_x4(unsigned (&r)[4], const u16* p) { ldsm(r, p, false); }
inline void ldsm_x4_t(unsigned (&r)[4], const u16* p) { ldsm(r, p, true); }

// mma.sync.aligned.m16n8k16.row.col.f32.{bf16,f16}: A a0 (g, 2t..2t+1), a1 (g + 8, 2t..), a2 (g, 2t + 8..),
// a3 (g + 8, 2t + 8..); B b0 (k 2t..2t+1, n g), b1 (k 2t + 8.., n g); C/D as for m16n8k8.
inline void mma16816(float (&d)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
    warp_mma<16>(d, a, b0, b1,
        [](const unsigned (&ua)[32][4], int row, int k) { return (double)half_of(ua[(row % 8) * 4 + (k % 8) / 2][(row >= 8 ? 1 : 0) + (k >= 8 ? 2 : 0)], k % 2); },
        [](const unsigned (&ub)[32][2], int k, int col) { return (double)half_of(ub[col * 4 + (k % 8) / 2][k >= 8 ? 1 : 0], k % 2); });
}
#endif
