// Fused CUDA scans in fp32, compiled at run time by NVRTC. Macro: NSTATE, the selective scan's state size
// (a power of two <= 32; one lane per state, groups of NSTATE lanes share a channel).
//
// WKV (RWKV-4), one thread per (batch, channel), sequential over T. k, v, y, lnd, gy, gk, gv: [B, T, C];
// w = exp(time_decay), u = time_first: [C]. The forward keeps the past as (a, b)·e^p with p the running
// maximum of the log weights, and also writes lnd_t = log of the denominator of y_t, so that the backward's
// factors e^{k_i − (t−1−i)w − lnd_t} are all ≤ 1 and never overflow.
//
// Selective scan (Mamba), one thread per (batch, channel, state), sequential over L, blocks of CPB channels of
// one batch. u, delta, z, y: [B, D, L]; A: [D, N]; Bm, Cm: [B, N, L]. Both kernels walk L in chunks of CHUNK
// positions: the block first stages the chunk's inputs in shared memory with coalesced loads (Δ's bias and
// softplus computed there once per channel and position, not once per state), then runs the recurrence from
// shared memory, and writes its per-position results back with coalesced stores. Sums over the states are
// taken NSTATE positions at a time by a butterfly that leaves lane n with the sum for position n (NSTATE − 1
// shuffles where a plain reduction per position takes NSTATE·log2(NSTATE)). The forward writes the state at the
// start of every chunk (hc: [B, D, ceil(L/CHUNK), N]); the backward walks the chunks in reverse, recomputes the
// chunk's states into registers from that checkpoint, then runs the adjoint recurrence
// λ_t = gy_t·C_t + exp(Δ_{t+1}A)·λ_{t+1} backwards through the chunk.

#ifdef __clang__
#define __global__ __attribute__((global))
#define __device__ __attribute__((device))
#define __shared__ __attribute__((shared))
#define __forceinline__ __attribute__((always_inline)) inline
#define __launch_bounds__(n) __attribute__((launch_bounds(n)))
struct uint3_ { unsigned x, y, z; };
extern const __device__ uint3_ threadIdx;
extern const __device__ uint3_ blockIdx;
extern const __device__ uint3_ blockDim;
extern "C" __device__ float expf(float);
extern "C" __device__ float logf(float);
extern "C" __device__ float log1pf(float);
extern "C" __device__ float fmaxf(float, float);
__device__ float __shfl_xor_sync(unsigned mask, float v, int lane);
__device__ void __syncthreads();
__device__ float atomicAdd(float* p, float v);
#endif

#define NEG_BIG (-1.0e38f)

extern "C" __global__ void wkv_forward(const float* __restrict__ w, const float* __restrict__ u,
    const float* __restrict__ k, const float* __restrict__ v, float* __restrict__ y, float* __restrict__ lnd,
    int batch, int steps, int channels)
{
    long long index = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (index >= (long long)batch * channels) return;
    int c = (int)(index % channels);
    long long base = (index / channels) * (long long)steps * channels + c;
    float wc = w[c], uc = u[c];
    float a = 0.f, b = 0.f, p = NEG_BIG;
#pragma unroll 4
    for (int t = 0; t < steps; t++)
    {
        long long at = base + (long long)t * channels;
        float kt = k[at], vt = v[at];
        float current = uc + kt;
        float m = fmaxf(p, current);
        float e1 = expf(p - m), e2 = expf(current - m);
        float den = e1 * b + e2;
        y[at] = (e1 * a + e2 * vt) / den;
        lnd[at] = m + logf(den);

        float decayed = p - wc;
        float next = fmaxf(decayed, kt);
        e1 = expf(decayed - next);
        e2 = expf(kt - next);
        a = e1 * a + e2 * vt;
        b = e1 * b + e2;
        p = next;
    }
}

// gw_part, gu_part: [B, C] partial sums over T (the caller sums over B).
extern "C" __global__ void wkv_backward(const float* __restrict__ w, const float* __restrict__ u,
    const float* __restrict__ k, const float* __restrict__ v, const float* __restrict__ y,
    const float* __restrict__ lnd, const float* __restrict__ gy, float* __restrict__ gk, float* __restrict__ gv,
    float* __restrict__ gw_part, float* __restrict__ gu_part, int batch, int steps, int channels)
{
    long long index = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (index >= (long long)batch * channels) return;
    int c = (int)(index % channels);
    long long base = (index / channels) * (long long)steps * channels + c;
    float wc = w[c], uc = u[c];
    // Future sums for position i, over t > i, all scaled by e^{sigma}:
    //   P = Σ e^{−(t−1−i)w − lnd_t} g_t,       Q = Σ e^{−(t−1−i)w − lnd_t} g_t y_t,
    //   P1 = Σ (t−1−i)·(same terms as P),       Q1 = Σ (t−1−i)·(same terms as Q).
    float sigma = NEG_BIG, P = 0.f, Q = 0.f, P1 = 0.f, Q1 = 0.f;
    float gu_acc = 0.f, gw_acc = 0.f;
#pragma unroll 4
    for (int t = steps - 1; t >= 0; t--)
    {
        long long at = base + (long long)t * channels;
        float kt = k[at], vt = v[at], yt = y[at], gt = gy[at], zt = -lnd[at];
        float ek = expf(kt + sigma);
        float dk = ek * (vt * P - Q);
        float dv = ek * P;
        gw_acc -= ek * (vt * P1 - Q1);

        float direct = expf(uc + kt + zt) * gt;
        float dkDirect = direct * (vt - yt);
        gk[at] = dk + dkDirect;
        gv[at] = dv + direct;
        gu_acc += dkDirect;

        float next = fmaxf(zt, sigma - wc);
        float e1 = expf(sigma - wc - next), e2 = expf(zt - next);
        P1 = e1 * (P1 + P);
        Q1 = e1 * (Q1 + Q);
        P = e1 * P + e2 * gt;
        Q = e1 * Q + e2 * gt * yt;
        sigma = next;
    }
    gw_part[index] = gw_acc;
    gu_part[index] = gu_acc;
}

#ifndef NSTATE
#define NSTATE 16
#endif
#define CHUNK 32
#define CPB (NSTATE == 32 ? 16 : 32)
#define SS_THREADS (CPB * NSTATE)
#define SS_COPIES (NSTATE == 32 ? 2 : 4)
#define TILE (CPB * CHUNK)
#define TILE_ITERS ((TILE + SS_THREADS - 1) / SS_THREADS)
#define PAD_T (CHUNK + 1)
#define PAD_N (NSTATE + 1)
#define FULL_MASK 0xffffffffu

// Sum over the lanes of a warp that hold the same state (channels differ).
__device__ __forceinline__ float sum_over_warp_channels(float x)
{
#pragma unroll
    for (int offset = NSTATE; offset < 32; offset <<= 1) x += __shfl_xor_sync(FULL_MASK, x, offset);
    return x;
}

// v[j], j < NSTATE, in each lane n of a group of NSTATE lanes; returns to lane n the sum over the group of v[n].
// Each round halves the values a lane holds: it keeps the half its lane bit selects and adds its partner's copy.
__device__ __forceinline__ float sum_over_states_scatter(float (&v)[NSTATE], int n)
{
#pragma unroll
    for (int half = NSTATE / 2; half >= 1; half >>= 1)
    {
        bool upper = (n & half) != 0;
#pragma unroll
        for (int j = 0; j < half; j++)
        {
            float send = upper ? v[j] : v[j + half];
            float keep = upper ? v[j + half] : v[j];
            v[j] = keep + __shfl_xor_sync(FULL_MASK, send, half);
        }
    }
    return v[0];
}

__device__ __forceinline__ float step_size(float delta, float bias, int softplus)
{
    float x = delta + bias;
    return softplus && x <= 20.f ? log1pf(expf(x)) : x;
}

__device__ __forceinline__ float sigmoid(float x) { return 1.f / (1.f + expf(-x)); }

// Element e of a chunk tile: channel c = e / CHUNK of the block, position i = e % CHUNK of the chunk (a warp
// covers one channel's CHUNK consecutive positions, so global accesses along L coalesce).
struct TileIndex
{
    int c, i;
    bool valid;
    long long at;
    __device__ __forceinline__ TileIndex(int e, int d0, int b, int t0, int length, int channels, int steps)
    {
        c = e / CHUNK;
        i = e % CHUNK;
        int d = d0 + c;
        valid = e < TILE && d < channels && i < length;
        at = ((long long)b * channels + (valid ? d : 0)) * steps + t0 + i;
    }
};

// This thread's place in the selective-scan grid: state n of channel d = d0 + c of batch b (dc: d clamped to the
// last channel, for the loads of threads past it), with its A[d][n] and D skip.
struct Lane
{
    int n, c, d0, d, b, dc;
    bool active;
    float a, skip;
    __device__ __forceinline__ Lane(const float* __restrict__ A, const float* __restrict__ Dv, int channels)
    {
        n = threadIdx.x % NSTATE;
        c = threadIdx.x / NSTATE;
        d0 = blockIdx.x * CPB;
        d = d0 + c;
        b = blockIdx.y;
        active = d < channels;
        dc = active ? d : channels - 1;
        a = A[dc * NSTATE + n];
        skip = Dv ? Dv[dc] : 0.f;
    }
};

// B and C of the chunk, [CHUNK][PAD_N], zero past the end of the sequence.
__device__ __forceinline__ void stage_bc(float (*sB)[PAD_N], float (*sC)[PAD_N], const float* __restrict__ Bm,
    const float* __restrict__ Cm, int b, int t0, int length, int steps)
{
    for (int e = threadIdx.x; e < NSTATE * CHUNK; e += SS_THREADS)
    {
        int n = e / CHUNK, i = e % CHUNK;
        long long at = ((long long)b * NSTATE + n) * steps + t0 + i;
        sB[i][n] = i < length ? Bm[at] : 0.f;
        sC[i][n] = i < length ? Cm[at] : 0.f;
    }
}

// y (gated when z is given) and, when z is given, the ungated y for the backward.
extern "C" __global__ void __launch_bounds__(SS_THREADS) selective_scan_forward(
    const float* __restrict__ u, const float* __restrict__ delta, const float* __restrict__ A,
    const float* __restrict__ Bm, const float* __restrict__ Cm, const float* __restrict__ Dv,
    const float* __restrict__ z, const float* __restrict__ bias, int softplus,
    float* __restrict__ out, float* __restrict__ ungated, float* __restrict__ hc, int batch, int channels, int steps)
{
    __shared__ float sU[CPB][PAD_T], sDt[CPB][PAD_T], sY[CPB][PAD_T];
    __shared__ float sB[CHUNK][PAD_N], sC[CHUNK][PAD_N];
    const Lane lane(A, Dv, channels);
    const int n = lane.n, c = lane.c, d0 = lane.d0, d = lane.d, b = lane.b;
    const bool active = lane.active;
    const float a = lane.a, skip = lane.skip;
    int chunks = (steps + CHUNK - 1) / CHUNK;
    float h = 0.f;
    for (int chunk = 0; chunk < chunks; chunk++)
    {
        int t0 = chunk * CHUNK;
        int length = steps - t0 < CHUNK ? steps - t0 : CHUNK;
        if (active) hc[(((long long)b * channels + d) * chunks + chunk) * NSTATE + n] = h;
        for (int e = threadIdx.x; e < TILE; e += SS_THREADS)
        {
            TileIndex x(e, d0, b, t0, length, channels, steps);
            sU[x.c][x.i] = x.valid ? u[x.at] : 0.f;
            sDt[x.c][x.i] = x.valid ? step_size(delta[x.at], bias ? bias[d0 + x.c] : 0.f, softplus) : 0.f;
        }
        stage_bc(sB, sC, Bm, Cm, b, t0, length, steps);
        __syncthreads();
#pragma unroll
        for (int g = 0; g < CHUNK; g += NSTATE)
        {
            float terms[NSTATE];
#pragma unroll
            for (int j = 0; j < NSTATE; j++)
            {
                float dt = sDt[c][g + j];
                h = expf(dt * a) * h + dt * sU[c][g + j] * sB[g + j][n];
                terms[j] = sC[g + j][n] * h;
            }
            float y = sum_over_states_scatter(terms, n);
            sY[c][g + n] = y + skip * sU[c][g + n];
        }
        __syncthreads();
        for (int e = threadIdx.x; e < TILE; e += SS_THREADS)
        {
            TileIndex x(e, d0, b, t0, length, channels, steps);
            if (!x.valid) continue;
            float y = sY[x.c][x.i];
            if (z)
            {
                float zt = z[x.at];
                ungated[x.at] = y;
                out[x.at] = y * zt * sigmoid(zt);
            }
            else out[x.at] = y;
        }
    }
}

// du, ddelta, dz: [B, D, L] (dz only with z); dA_part: [B, D, N]; dD_part, dbias_part: [B, D];
// dB_part, dC_part: [ceil(D / CPB), B, N, L]. The caller sums the partials.
extern "C" __global__ void __launch_bounds__(SS_THREADS) selective_scan_backward(
    const float* __restrict__ u, const float* __restrict__ delta, const float* __restrict__ A,
    const float* __restrict__ Bm, const float* __restrict__ Cm, const float* __restrict__ Dv,
    const float* __restrict__ z, const float* __restrict__ bias, int softplus,
    const float* __restrict__ ungated, const float* __restrict__ hc, const float* __restrict__ gout,
    float* __restrict__ du, float* __restrict__ ddelta, float* __restrict__ dz,
    float* __restrict__ dA_part, float* __restrict__ dD_part, float* __restrict__ dbias_part,
    float* __restrict__ dB_part, float* __restrict__ dC_part, int batch, int channels, int steps)
{
    // gy: the gradient reaching the ungated y. dDelta: the gradient reaching the step size (before softplus).
    __shared__ float sU[CPB][PAD_T], sDt[CPB][PAD_T], sGy[CPB][PAD_T], sDu[CPB][PAD_T], sDdt[CPB][PAD_T];
    __shared__ float sB[CHUNK][PAD_N], sC[CHUNK][PAD_N];
    // dB and dC partials of the chunk, summed over the block's channels. SS_COPIES copies, one per group of warps,
    // so that fewer warps contend for each address.
    __shared__ float sdB[SS_COPIES][CHUNK][PAD_N];
    __shared__ float sdC[SS_COPIES][CHUNK][PAD_N];
    int copy = (threadIdx.x / 32) % SS_COPIES;
    const Lane lane(A, Dv, channels);
    const int n = lane.n, c = lane.c, d0 = lane.d0, d = lane.d, b = lane.b, dc = lane.dc;
    const bool active = lane.active;
    const float a = lane.a, skip = lane.skip;
    int chunks = (steps + CHUNK - 1) / CHUNK;
    float carry = 0.f; // exp(Δ_{t+1}A)·λ_{t+1}
    float dA_acc = 0.f;
    float dD_acc[TILE_ITERS], dbias_acc[TILE_ITERS];
#pragma unroll
    for (int k = 0; k < TILE_ITERS; k++) { dD_acc[k] = 0.f; dbias_acc[k] = 0.f; }
    for (int chunk = chunks - 1; chunk >= 0; chunk--)
    {
        int t0 = chunk * CHUNK;
        int length = steps - t0 < CHUNK ? steps - t0 : CHUNK;
        for (int i = threadIdx.x; i < SS_COPIES * CHUNK * PAD_N; i += SS_THREADS)
        {
            (&sdB[0][0][0])[i] = 0.f;
            (&sdC[0][0][0])[i] = 0.f;
        }
        for (int e = threadIdx.x; e < TILE; e += SS_THREADS)
        {
            TileIndex x(e, d0, b, t0, length, channels, steps);
            float gy = 0.f;
            if (x.valid)
            {
                float g = gout[x.at];
                gy = g;
                if (z)
                {
                    float zt = z[x.at];
                    float s = sigmoid(zt);
                    gy = g * zt * s;
                    dz[x.at] = g * ungated[x.at] * s * (1.f + zt * (1.f - s));
                }
            }
            sU[x.c][x.i] = x.valid ? u[x.at] : 0.f;
            sDt[x.c][x.i] = x.valid ? step_size(delta[x.at], bias ? bias[d0 + x.c] : 0.f, softplus) : 0.f;
            sGy[x.c][x.i] = gy;
        }
        stage_bc(sB, sC, Bm, Cm, b, t0, length, steps);
        __syncthreads();

        float start = hc[(((long long)b * channels + dc) * chunks + chunk) * NSTATE + n];
        float states[CHUNK];
        float h = start;
#pragma unroll
        for (int i = 0; i < CHUNK; i++)
        {
            float dt = sDt[c][i];
            h = expf(dt * a) * h + dt * sU[c][i] * sB[i][n];
            states[i] = h;
        }
        // Positions past the end and channels past D were staged as zeros: their λ, and so every term, is zero.
#pragma unroll
        for (int g = CHUNK - NSTATE; g >= 0; g -= NSTATE)
        {
            float ddtTerms[NSTATE], duTerms[NSTATE];
#pragma unroll
            for (int j = NSTATE - 1; j >= 0; j--)
            {
                int i = g + j;
                float dt = sDt[c][i], ut = sU[c][i], gy = sGy[c][i];
                float previous = i > 0 ? states[i - 1] : start;
                float decay = expf(dt * a);
                float lambda = gy * sC[i][n] + carry;
                float ddecay = active ? lambda * previous * decay : 0.f;
                dA_acc += ddecay * dt;
                ddtTerms[j] = ddecay * a;
                duTerms[j] = lambda * sB[i][n];
                float dBpart = sum_over_warp_channels(lambda * dt * ut);
                float dCpart = sum_over_warp_channels(gy * states[i]);
                if ((threadIdx.x & 31) < NSTATE)
                {
                    atomicAdd(&sdB[copy][i][n], dBpart);
                    atomicAdd(&sdC[copy][i][n], dCpart);
                }
                carry = decay * lambda;
            }
            // Lane n now takes position g + n of its channel: s1 = Σ_n ∂/∂Δ of the decay, s2 = Σ_n λ·B.
            float s1 = sum_over_states_scatter(ddtTerms, n);
            float s2 = sum_over_states_scatter(duTerms, n);
            int i = g + n;
            sDdt[c][i] = s1 + sU[c][i] * s2;
            sDu[c][i] = sDt[c][i] * s2 + sGy[c][i] * skip;
        }
        __syncthreads();
#pragma unroll
        for (int k = 0; k < TILE_ITERS; k++)
        {
            TileIndex x(threadIdx.x + k * SS_THREADS, d0, b, t0, length, channels, steps);
            if (!x.valid) continue;
            float ddt = sDdt[x.c][x.i];
            float raw = delta[x.at] + (bias ? bias[d0 + x.c] : 0.f);
            float dRaw = softplus && raw <= 20.f ? ddt * sigmoid(raw) : ddt;
            du[x.at] = sDu[x.c][x.i];
            ddelta[x.at] = dRaw;
            dD_acc[k] += sGy[x.c][x.i] * sU[x.c][x.i];
            dbias_acc[k] += dRaw;
        }
        for (int e = threadIdx.x; e < NSTATE * CHUNK; e += SS_THREADS)
        {
            int ni = e / CHUNK, ti = e % CHUNK;
            if (ti >= length) continue;
            long long at = (((long long)blockIdx.x * batch + b) * NSTATE + ni) * steps + t0 + ti;
            float sumB = 0.f, sumC = 0.f;
#pragma unroll
            for (int copyIndex = 0; copyIndex < SS_COPIES; copyIndex++)
            {
                sumB += sdB[copyIndex][ti][ni];
                sumC += sdC[copyIndex][ti][ni];
            }
            dB_part[at] = sumB;
            dC_part[at] = sumC;
        }
        __syncthreads();
    }
    if (active) dA_part[((long long)b * channels + d) * NSTATE + n] = dA_acc;
    // Each warp's lanes of tile iteration k hold one channel's positions: sum them over the warp.
#pragma unroll
    for (int k = 0; k < TILE_ITERS; k++)
    {
        float sD = dD_acc[k], sBias = dbias_acc[k];
#pragma unroll
        for (int offset = 16; offset > 0; offset >>= 1)
        {
            sD += __shfl_xor_sync(FULL_MASK, sD, offset);
            sBias += __shfl_xor_sync(FULL_MASK, sBias, offset);
        }
        int e = threadIdx.x + k * SS_THREADS;
        int channel = d0 + e / CHUNK;
        if ((threadIdx.x & 31) == 0 && e < TILE && channel < channels)
        {
            dD_part[(long long)b * channels + channel] = sD;
            dbias_part[(long long)b * channels + channel] = sBias;
        }
    }
}
