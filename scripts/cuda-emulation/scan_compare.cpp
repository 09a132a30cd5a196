// The selective-scan kernels of two versions of ScanKernels.cu (scan_before.cu, scan_after.cu), run in the emulator
// on the same random inputs: relative differences of every output and gradient. Arguments: B D L.
#include "cuda_emu.h"
#include "relative_difference.h"
#include <cstdio>
#include <random>
#define wkv_forward before_wkv_forward
#define wkv_backward before_wkv_backward
#define selective_scan_forward before_ssf
#define selective_scan_backward before_ssb
namespace before {
#include "scan_before.cu"
}
#undef wkv_forward
#undef wkv_backward
#undef selective_scan_forward
#undef selective_scan_backward
#undef NSTATE
#define NSTATE NSTATE_TEST
#undef CHUNK
#undef SS_COPIES
#undef FULL_MASK
#undef NEG_BIG
#undef SS_THREADS
#undef CHANNELS_PER_BLOCK
namespace after {
#include "scan_after.cu"
}
int main(int argc, char** argv) {
    int B = atoi(argv[1]), D = atoi(argv[2]), L = atoi(argv[3]); const int N = NSTATE_TEST;
    std::mt19937 rng(7); std::normal_distribution<float> nd(0, 1);
    auto rnd = [&](size_t n, float s, float o) { V v(n); for (auto& x : v) x = o + s * nd(rng); return v; };
    V u = rnd((size_t)B*D*L, 1, 0), delta = rnd((size_t)B*D*L, 1, -1), A = rnd((size_t)D*N, 0.5, 0), Bm = rnd((size_t)B*N*L, 1, 0), Cm = rnd((size_t)B*N*L, 1, 0);
    for (auto& a : A) a = -std::fabs(a) - 0.1f;
    V Dv = rnd(D, 1, 0), z = rnd((size_t)B*D*L, 1, 0), bias = rnd(D, 0.5, 0), g = rnd((size_t)B*D*L, 1, 0);
    int chunks = (L + 31) / 32;
    for (int gated = 0; gated < 2; gated++) {
        const float* zp = gated ? z.data() : nullptr;
        V out0(u.size()), ug0(u.size()), hc0((size_t)B*D*chunks*N), out1 = out0, ug1 = ug0, hc1 = hc0;
        // Launch configuration of SelectiveScanCuda: CPB channels (32, or 16 for N = 32) × N states per block.
        int nc = N == 32 ? 16 : 32; unsigned nb = (D + nc - 1) / nc;
        launch({nb, (unsigned)B}, nc * N, [&] { before::before_ssf(u.data(), delta.data(), A.data(), Bm.data(), Cm.data(), Dv.data(), zp, bias.data(), 1, out0.data(), ug0.data(), hc0.data(), B, D, L); });
        launch({nb, (unsigned)B}, nc * N, [&] { after::selective_scan_forward(u.data(), delta.data(), A.data(), Bm.data(), Cm.data(), Dv.data(), zp, bias.data(), 1, out1.data(), ug1.data(), hc1.data(), B, D, L); });
        printf("N=%d gated=%d fwd: out %.2e ungated %.2e hc %.2e\n", N, gated, rel(out1, out0), gated ? rel(ug1, ug0) : 0.0, rel(hc1, hc0));
        auto back = [&](bool isNew, unsigned blocks, unsigned threads, V& du, V& dd, V& dz, V& dA, V& dD, V& db, V& dB, V& dC) {
            du.assign(u.size(), 0); dd = du; dz = du; dA.assign((size_t)B*D*N, 0); dD.assign((size_t)B*D, 0); db = dD;
            V dBp((size_t)blocks*B*N*L, 0), dCp = dBp;
            const V& hc = isNew ? hc1 : hc0; const V& ug = isNew ? ug1 : ug0;
            launch({blocks, (unsigned)B}, threads, [&] {
                if (isNew) after::selective_scan_backward(u.data(), delta.data(), A.data(), Bm.data(), Cm.data(), Dv.data(), zp, bias.data(), 1, ug.data(), hc.data(), g.data(), du.data(), dd.data(), gated ? dz.data() : nullptr, dA.data(), dD.data(), db.data(), dBp.data(), dCp.data(), B, D, L);
                else before::before_ssb(u.data(), delta.data(), A.data(), Bm.data(), Cm.data(), Dv.data(), zp, bias.data(), 1, ug.data(), hc.data(), g.data(), du.data(), dd.data(), gated ? dz.data() : nullptr, dA.data(), dD.data(), db.data(), dBp.data(), dCp.data(), B, D, L); });
            dB.assign((size_t)B*N*L, 0); dC = dB;
            for (unsigned k = 0; k < blocks; k++) for (size_t i = 0; i < dB.size(); i++) { dB[i] += dBp[k*dB.size()+i]; dC[i] += dCp[k*dB.size()+i]; }
        };
        V a[9], b[9];
        back(false, nb, nc * N, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]);
        back(true, nb, nc * N, b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]);
        const char* names[] = {"du", "ddelta", "dz", "dA", "dD", "dbias", "dB", "dC"};
        printf("   bwd:");
        for (int i = 0; i < 8; i++) if (gated || i != 2) printf(" %s %.2e", names[i], rel(b[i], a[i]));
        printf("\n");
    }
}
