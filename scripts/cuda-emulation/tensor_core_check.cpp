// The tensor-core linear-attention kernels of CudaFused.cu (la.cu: the source with dynamic shared memory mapped to
// a host buffer) run in the emulator against a float64 reference of causal polynomial linear attention:
// y_i = sum_{j<=i} f(q_i.k_j) v_j / (sum f + eps), ReBased f = (scale s)^2, Based f = 1 + scale s + (scale s)^2 / 2,
// and its gradients for a random dy; the 16-bit kernels' reference takes the same 16-bit inputs.
// Compile with -DELEM_KIND=0 -DTF32X3=1 (3xTF32: la_forward_tf32, la_backward_tf32) or -DELEM_KIND=1|2 (bf16, fp16:
// la_forward_mma, la_backward_mma), and -DKERNEL=0|1 -DDP=.. -DBV=.. as CudaFused.cs would choose.
// Arguments: B H T D Dv interleaved(0|1). Prints max |ours - reference| / max |reference| per tensor; exits 1 above
// 1e-5 (fp32), 2e-3 (fp16) or 1e-2 (bf16); dq and dk are judged only where T > 1 (at T = 1 they are zero
// analytically and only rounding is left).
#include "cuda_emu.h"
#include <cstdio>
#include <random>
#include <cstdlib>
#include <algorithm>
#include "la.cu"
#if ELEM_KIND == 0
using store_t = float;
static float to_store(float x) { return x; }
static float load(float x) { return x; }
#else
using store_t = u16;
static u16 to_store(float x) { return from_f32(x); }
static float load(u16 x) { return to_f32(x); }
static float load(float x) { return x; }
#endif

int main(int argc, char** argv) {
    int B = atoi(argv[1]), H = atoi(argv[2]), T = atoi(argv[3]), D = atoi(argv[4]), Dv = atoi(argv[5]), inter = atoi(argv[6]);
    int BH = B * H;
    std::mt19937 rng(T * 131 + Dv);
    std::normal_distribution<float> nd(0, 1);
    auto rnd = [&](size_t n) { std::vector<store_t> v(n); for (auto& x : v) x = to_store(nd(rng)); return v; };
    auto q = rnd((size_t)BH * T * D), k = rnd((size_t)BH * T * D), v = rnd((size_t)BH * T * Dv), dy = rnd((size_t)BH * T * Dv);
    const float scale = 1.0f / std::sqrt((float)D), eps = 1e-6f;
    // Element (b, h, t, c) of a [B, H, T, W] tensor stored [B, H, T, W] or, interleaved, [B, T, H, W].
    auto at = [&](int bh, int t, int c, int W) { int b = bh / H, h = bh % H; return inter ? (((size_t)b * T + t) * H + h) * W + c : ((size_t)bh * T + t) * W + c; };

    std::vector<store_t> y(v.size()), dor(v.size()), dv(v.size());
    std::vector<float> y32(v.size()), z((size_t)BH * T), delta(z.size()), dq(q.size(), 0.0f), dk(k.size(), 0.0f);
    std::vector<float> smem(60000);
    g_smem = smem.data();
    unsigned tiles = (T + 63) / 64, vb = (Dv + BV - 1) / BV;
    long long rows = (long long)BH * T;
#if ELEM_KIND == 0
    launch({tiles, vb, (unsigned)BH}, MT, [&] { la_forward_tf32(q.data(), k.data(), v.data(), y.data(), z.data(), T, D, Dv, scale, eps, H, inter); });
    y32 = y;
    launch({(unsigned)((rows + 7) / 8), 1, 1}, 256, [&] { la_backward_prep_mma(y32.data(), dy.data(), z.data(), dor.data(), delta.data(), rows, T, Dv, eps, H, inter); });
    launch({tiles, vb, (unsigned)BH}, MT, [&] { la_backward_tf32(q.data(), k.data(), v.data(), dor.data(), delta.data(), dq.data(), dk.data(), dv.data(), T, D, Dv, scale, H, inter); });
#else
    launch({(unsigned)((T + FQ - 1) / FQ), vb, (unsigned)BH}, MT, [&] { la_forward_mma(q.data(), k.data(), v.data(), y.data(), y32.data(), z.data(), T, D, Dv, scale, eps, H, inter); });
    launch({(unsigned)((rows + 7) / 8), 1, 1}, 256, [&] { la_backward_prep_mma(y32.data(), dy.data(), z.data(), dor.data(), delta.data(), rows, T, Dv, eps, H, inter); });
    // One block for all of Dv writes dk in the 16-bit type; split blocks sum it in fp32.
    std::vector<u16> dk16(k.size());
    launch({tiles, vb, (unsigned)BH}, MT, [&] { la_backward_mma(q.data(), k.data(), v.data(), dor.data(), delta.data(), dq.data(),
        vb > 1 ? dk.data() : nullptr, vb > 1 ? nullptr : dk16.data(), dv.data(), T, D, Dv, scale, H, inter); });
    if (vb == 1) for (size_t i = 0; i < dk.size(); i++) dk[i] = to_f32(dk16[i]);
#endif

    std::vector<double> ry(v.size()), rz(z.size()), rdq(q.size()), rdk(k.size()), rdv(v.size());
    for (int bh = 0; bh < BH; bh++) {
        std::vector<double> a((size_t)T * T, 0.0), da((size_t)T * T, 0.0);
        for (int i = 0; i < T; i++)
            for (int j = 0; j <= i; j++) {
                double s = 0; for (int c = 0; c < D; c++) s += (double)load(q[at(bh, i, c, D)]) * load(k[at(bh, j, c, D)]);
                double x = scale * s;
                a[(size_t)i * T + j] = KERNEL == 0 ? x * x : 1 + x + x * x / 2;
                da[(size_t)i * T + j] = KERNEL == 0 ? 2.0 * scale * x : scale + scale * x;
            }
        std::vector<double> ro(Dv), delt(T), dorr((size_t)T * Dv);
        for (int i = 0; i < T; i++) {
            double Z = 0; for (int j = 0; j <= i; j++) Z += a[(size_t)i * T + j];
            rz[(size_t)bh * T + i] = Z;
            double d = 0;
            for (int c = 0; c < Dv; c++) {
                double n = 0; for (int j = 0; j <= i; j++) n += a[(size_t)i * T + j] * load(v[at(bh, j, c, Dv)]);
                ry[at(bh, i, c, Dv)] = n / (Z + eps);
                dorr[(size_t)i * Dv + c] = load(dy[at(bh, i, c, Dv)]) / (Z + eps);
                d -= dorr[(size_t)i * Dv + c] * ry[at(bh, i, c, Dv)];
            }
            delt[i] = d;
        }
        for (int i = 0; i < T; i++)
            for (int j = 0; j <= i; j++) {
                double g = delt[i]; for (int c = 0; c < Dv; c++) g += dorr[(size_t)i * Dv + c] * load(v[at(bh, j, c, Dv)]);
                double ds = g * da[(size_t)i * T + j];
                for (int c = 0; c < D; c++) { rdq[at(bh, i, c, D)] += ds * load(k[at(bh, j, c, D)]); rdk[at(bh, j, c, D)] += ds * load(q[at(bh, i, c, D)]); }
                for (int c = 0; c < Dv; c++) rdv[at(bh, j, c, Dv)] += a[(size_t)i * T + j] * dorr[(size_t)i * Dv + c];
            }
    }
    auto err = [](const auto& o, const std::vector<double>& r) {
        double m = 0, e = 0;
        for (size_t i = 0; i < r.size(); i++) { double x = load(o[i]); m = std::max(m, std::fabs(r[i])); e = std::max(e, std::fabs(x - r[i])); if (std::isnan(x)) return 1.0; }
        return e / (m + 1e-300);
    };
    const double tol = ELEM_KIND == 0 ? 1e-5 : ELEM_KIND == 2 ? 2e-3 : 1e-2;
    double ey = err(y, ry), ez = err(z, rz), eq = err(dq, rdq), ek = err(dk, rdk), ev = err(dv, rdv);
    bool ok = ey <= tol && ez <= tol && ev <= tol && (T == 1 || (eq <= tol && ek <= tol));
    printf("%s KERNEL=%d DP=%d BV=%d B=%d H=%d T=%d D=%d Dv=%d interleaved=%d: y %.2e z %.2e dq %.2e dk %.2e dv %.2e %s\n",
           ELEM_KIND == 0 ? "tf32x3" : ELEM_KIND == 1 ? "bf16" : "fp16", KERNEL, DP, BV, B, H, T, D, Dv, inter, ey, ez, eq, ek, ev, ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
