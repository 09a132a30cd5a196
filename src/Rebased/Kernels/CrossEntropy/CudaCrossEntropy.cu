// Softmax cross-entropy over rows of logits, forward and gradient in one pass, fp32, compiled by NVRTC.
// z: [N, V] logits, overwritten with scale·(softmax(z) − onehot(target)); targets: [N] int64;
// row_loss: [N], logsumexp(z) − z[target] (NaN for a target outside [0, V)). One block of CE_THREADS per row:
// the row is read three times (max, sum of exponentials, gradient), the last two mostly from cache.

#define CE_THREADS 256
#define FULL_MASK 0xffffffffu
#define NEG_INF __int_as_float(0xff800000)

__device__ __forceinline__ float block_reduce(float x, bool take_max, float* shared)
{
    for (int offset = 16; offset > 0; offset >>= 1)
    {
        float other = __shfl_xor_sync(FULL_MASK, x, offset);
        x = take_max ? fmaxf(x, other) : x + other;
    }
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    if (lane == 0) shared[warp] = x;
    __syncthreads();
    if (warp == 0)
    {
        x = lane < CE_THREADS / 32 ? shared[lane] : (take_max ? NEG_INF : 0.f);
        for (int offset = 16; offset > 0; offset >>= 1)
        {
            float other = __shfl_xor_sync(FULL_MASK, x, offset);
            x = take_max ? fmaxf(x, other) : x + other;
        }
        if (lane == 0) shared[0] = x;
    }
    __syncthreads();
    float result = shared[0];
    __syncthreads();
    return result;
}

extern "C" __global__ void __launch_bounds__(CE_THREADS) softmax_cross_entropy(
    float* __restrict__ z, const long long* __restrict__ targets, float* __restrict__ row_loss, int vocab, float scale)
{
    __shared__ float shared[CE_THREADS / 32];
    float* row = z + (long long)blockIdx.x * vocab;
    long long target = targets[blockIdx.x];
    bool valid = target >= 0 && target < vocab;
    float picked = valid ? row[target] : 0.f;

    float m = NEG_INF;
    for (int j = threadIdx.x; j < vocab; j += CE_THREADS) m = fmaxf(m, row[j]);
    m = block_reduce(m, true, shared);
    float s = 0.f;
    for (int j = threadIdx.x; j < vocab; j += CE_THREADS) s += expf(row[j] - m);
    s = block_reduce(s, false, shared);

    float factor = scale / s;
    for (int j = threadIdx.x; j < vocab; j += CE_THREADS)
    {
        float g = expf(row[j] - m) * factor;
        row[j] = j == target ? g - scale : g;
    }
    if (threadIdx.x == 0) row_loss[blockIdx.x] = valid ? logf(s) + m - picked : __int_as_float(0x7fc00000);
}
