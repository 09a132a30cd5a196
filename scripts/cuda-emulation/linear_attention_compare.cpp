// The fp32 linear-attention kernels of two versions of CudaFused.cu (la_before.cu, la_after.cu; dynamic shared memory
// mapped to a host buffer), run in the emulator on the same random inputs: relative differences of y, z, dq, dk, dv.
// Arguments: B H T D Dv interleaved(0|1); compile with -DKERNEL=0|1 -DDP=.. -DBV=.. as CudaFused.cs would choose.
#include "cuda_emu.h"
#include "relative_difference.h"
#include <cstdio>
#include <random>
#include <cstring>
#include <cstdlib>
#define ELEM_KIND 0
#define la_forward before_la_forward
#define la_backward before_la_backward
#define la_backward_prep before_la_backward_prep
namespace before {
#include "la_before.cu"
}
#undef la_forward
#undef la_backward
#undef la_backward_prep
#undef NT
#undef BQ
#undef BK
#undef TX
#undef TY
#undef TM
#undef TN
#undef SN
#undef DN
#undef SQ
#undef SV
#undef SA
#undef MIN_BLOCKS
namespace after {
#include "la_after.cu"
}
int main(int argc, char** argv) {
    int B = atoi(argv[1]), H = atoi(argv[2]), T = atoi(argv[3]), D = atoi(argv[4]), Dv = atoi(argv[5]), inter = atoi(argv[6]);
    int BH = B * H; std::mt19937 rng(3); std::normal_distribution<float> nd(0, 1);
    auto rnd = [&](size_t n) { V v(n); for (auto& x : v) x = nd(rng); return v; };
    V q = rnd((size_t)BH*T*D), k = rnd((size_t)BH*T*D), v = rnd((size_t)BH*T*Dv), dy = rnd((size_t)BH*T*Dv);
    float scale = 1.0f / std::sqrt((float)D), eps = 1e-5f;
    int tiles = (T + 63) / 64, vb = (Dv + BV - 1) / BV;
    std::vector<float> smem(40000);
    g_smem = smem.data();
    auto run = [&](bool isNew, V& y, V& z, V& dq, V& dk, V& dv) {
        y.assign(v.size(), 0); z.assign((size_t)BH*T, 0); dq.assign(q.size(), 0); dk.assign(k.size(), 0); dv.assign(v.size(), 0);
        V rz(z.size()), delta(z.size());
        launch({(unsigned)tiles, (unsigned)vb, (unsigned)BH}, 256, [&] { if (isNew) after::la_forward(q.data(), k.data(), v.data(), y.data(), z.data(), T, D, Dv, scale, eps, H, inter); else before::before_la_forward(q.data(), k.data(), v.data(), y.data(), z.data(), T, D, Dv, scale, eps, H, inter); });
        long long rows = (long long)BH * T;
        launch({(unsigned)((rows + 7) / 8), 1, 1}, 256, [&] { if (isNew) after::la_backward_prep(y.data(), dy.data(), z.data(), rz.data(), delta.data(), rows, T, Dv, eps, H, inter); else before::before_la_backward_prep(y.data(), dy.data(), z.data(), rz.data(), delta.data(), rows, T, Dv, eps, H, inter); });
        launch({(unsigned)tiles, (unsigned)vb, (unsigned)BH}, 256, [&] { if (isNew) after::la_backward(q.data(), k.data(), v.data(), dy.data(), rz.data(), delta.data(), dq.data(), dk.data(), dv.data(), T, D, Dv, scale, H, inter); else before::before_la_backward(q.data(), k.data(), v.data(), dy.data(), rz.data(), delta.data(), dq.data(), dk.data(), dv.data(), T, D, Dv, scale, H, inter); });
    };
    V a[5], b[5];
    run(false, a[0], a[1], a[2], a[3], a[4]);
    run(true, b[0], b[1], b[2], b[3], b[4]);
    printf("DP=%d BV=%d D=%d Dv=%d T=%d interleaved=%d: y %.2e z %.2e dq %.2e dk %.2e dv %.2e (rms dq %.3e)\n", DP, BV, D, Dv, T, inter, rel(b[0], a[0]), rel(b[1], a[1]), rel(b[2], a[2]), rel(b[3], a[3]), rel(b[4], a[4]), [&]{ double s = 0; for (float x : a[2]) s += (double)x * x; return std::sqrt(s / a[2].size()); }());
}
