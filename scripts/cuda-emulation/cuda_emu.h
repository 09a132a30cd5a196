#pragma once
// Just enough of CUDA to run this project's .cu kernels on the CPU: one OS thread per CUDA thread, a barrier for
// __syncthreads, a two-barrier exchange per warp for the shuffles, a mutex for atomics, blocks one after another
// (so __shared__ arrays can be plain statics). Slow, and only for small shapes; it checks indexing and
// synchronisation, not speed.
#include <cmath>
#include <thread>
#include <barrier>
#include <mutex>
#include <vector>
#include <functional>
#include <memory>
#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static
struct dim3_ { unsigned x = 0, y = 0, z = 0; };
inline thread_local dim3_ threadIdx, blockIdx;
inline dim3_ blockDim, gridDim;
inline std::barrier<>* g_block;
struct WarpSync { std::unique_ptr<std::barrier<>> bar; float buf[32]; };
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
    for (unsigned by = 0; by < grid.y; by++) for (unsigned bx = 0; bx < grid.x; bx++) {
        std::barrier<> block(threads); g_block = &block;
        g_warps.clear(); g_warps.resize((threads + 31) / 32);
        for (auto& w : g_warps) w.bar = std::make_unique<std::barrier<>>(32);
        std::vector<std::thread> ts;
        for (unsigned t = 0; t < threads; t++) ts.emplace_back([=] { threadIdx = {t, 0, 0}; blockIdx = {bx, by, 0}; kernel(); });
        for (auto& t : ts) t.join();
    }
}
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(8) float2 { float x, y; };
inline float4 make_float4(float a, float b, float c, float d) { return {a, b, c, d}; }
#define __align__(n) alignas(n)
inline float* g_smem;
