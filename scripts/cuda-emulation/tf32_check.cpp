// The 3xTF32 linear-attention kernels of CudaFused.cu (la_forward_tf32, la_backward_prep_mma, la_backward_tf32;
// la_tf32.cu is the source with dynamic shared memory mapped to a host buffer) run in the emulator against a
// float64 reference of causal polynomial linear attention: y_i = sum_{j<=i} f(q_i.k_j) v_j / (sum f + eps), with
// ReBased f = (scale s)^2, Based f = 1 + scale s + (scale s)^2 / 2, and its gradients for a random dy.
// Arguments: B H T D Dv interleaved(0|1); compile with -DKERNEL=0|1 -DDP=.. -DBV=.. as CudaFused.cs would choose.
// Prints max |ours - reference| / max |reference| per tensor; exits 1 above 1e-5 (dq, dk judged only where T > 1:
// at T = 1 they are zero analytically and only rounding is left).
#include "cuda_emu.h"
#include <cstdio>
#include <random>
#include <cstdlib>
#include <algorithm>
#define ELEM_KIND 0
#define TF32X3 1
#include "la_tf32.cu"

int main(int argc, char** argv) {
    int B = atoi(argv[1]), H = atoi(argv[2]), T = atoi(argv[3]), D = atoi(argv[4]), Dv = atoi(argv[5]), inter = atoi(argv[6]);
    int BH = B * H;
    std::mt19937 rng(T * 131 + Dv);
    std::normal_distribution<float> nd(0, 1);
    auto rnd = [&](size_t n) { std::vector<float> v(n); for (auto& x : v) x = nd(rng); return v; };
    auto q = rnd((size_t)BH * T * D), k = rnd((size_t)BH * T * D), v = rnd((size_t)BH * T * Dv), dy = rnd((size_t)BH * T * Dv);
    const float scale = 1.0f / std::sqrt((float)D), eps = 1e-6f;
    // Element (b, h, t, c) of a [B, H, T, W] tensor stored [B, H, T, W] or, interleaved, [B, T, H, W].
    auto at = [&](int bh, int t, int c, int W) { int b = bh / H, h = bh % H; return inter ? (((size_t)b * T + t) * H + h) * W + c : ((size_t)bh * T + t) * W + c; };

    std::vector<float> y(v.size()), z((size_t)BH * T), dor(v.size()), delta(z.size()), dq(q.size(), 0.0f), dk(k.size(), 0.0f), dv(v.size());
    std::vector<float> smem(60000);
    g_smem = smem.data();
    unsigned tiles = (T + 63) / 64, vb = (Dv + BV - 1) / BV;
    launch({tiles, vb, (unsigned)BH}, MT, [&] { la_forward_tf32(q.data(), k.data(), v.data(), y.data(), z.data(), T, D, Dv, scale, eps, H, inter); });
    long long rows = (long long)BH * T;
    launch({(unsigned)((rows + 7) / 8), 1, 1}, 256, [&] { la_backward_prep_mma(y.data(), dy.data(), z.data(), dor.data(), delta.data(), rows, T, Dv, eps, H, inter); });
    launch({tiles, vb, (unsigned)BH}, MT, [&] { la_backward_tf32(q.data(), k.data(), v.data(), dor.data(), delta.data(), dq.data(), dk.data(), dv.data(), T, D, Dv, scale, H, inter); });

    std::vector<double> ry(v.size()), rz(z.size()), rdq(q.size()), rdk(k.size()), rdv(v.size());
    for (int bh = 0; bh < BH; bh++) {
        std::vector<double> a((size_t)T * T, 0.0), da((size_t)T * T, 0.0);
        for (int i = 0; i < T; i++)
            for (int j = 0; j <= i; j++) {
                double s = 0; for (int c = 0; c < D; c++) s += (double)q[at(bh, i, c, D)] * k[at(bh, j, c, D)];
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
                double n = 0; for (int j = 0; j <= i; j++) n += a[(size_t)i * T + j] * v[at(bh, j, c, Dv)];
                ry[at(bh, i, c, Dv)] = n / (Z + eps);
                dorr[(size_t)i * Dv + c] = dy[at(bh, i, c, Dv)] / (Z + eps);
                d -= dorr[(size_t)i * Dv + c] * ry[at(bh, i, c, Dv)];
            }
            delt[i] = d;
        }
        for (int i = 0; i < T; i++)
            for (int j = 0; j <= i; j++) {
                double g = delt[i]; for (int c = 0; c < Dv; c++) g += dorr[(size_t)i * Dv + c] * v[at(bh, j, c, Dv)];
                double ds = g * da[(size_t)i * T + j];
                for (int c = 0; c < D; c++) { rdq[at(bh, i, c, D)] += ds * k[at(bh, j, c, D)]; rdk[at(bh, j, c, D)] += ds * q[at(bh, i, c, D)]; }
                for (int c = 0; c < Dv; c++) rdv[at(bh, j, c, Dv)] += a[(size_t)i * T + j] * dorr[(size_t)i * Dv + c];
            }
    }
    auto err = [](const std::vector<float>& o, const std::vector<double>& r) {
        double m = 0, e = 0;
        for (size_t i = 0; i < r.size(); i++) { m = std::max(m, std::fabs(r[i])); e = std::max(e, std::fabs(o[i] - r[i])); if (std::isnan(o[i])) return 1.0; }
        return e / (m + 1e-300);
    };
    double ey = err(y, ry), ez = err(z, rz), eq = err(dq, rdq), ek = err(dk, rdk), ev = err(dv, rdv);
    bool ok = ey <= 1e-5 && ez <= 1e-5 && ev <= 1e-5 && (T == 1 || (eq <= 1e-5 && ek <= 1e-5));
    printf("KERNEL=%d DP=%d BV=%d B=%d H=%d T=%d D=%d Dv=%d interleaved=%d: y %.2e z %.2e dq %.2e dk %.2e dv %.2e %s\n",
           KERNEL, DP, BV, B, H, T, D, Dv, inter, ey, ez, eq, ek, ev, ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
