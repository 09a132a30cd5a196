// Layer normalisation over the last dimension of fp32 rows, forward and backward, compiled by NVRTC.
// x, y, dy, dx: [rows, width]; weight, bias: [width] or null (identity, zero); mean, rstd: [rows].
// One warp per row, LN_WARPS warps per block. A lane holds the columns lane, lane + 32, ... of its row in
// registers: LN_CHUNKS (a macro) = ceil(width / 32) of them.
// Forward: the mean, then the biased variance around it from the registers, rstd = rsqrt(var + eps),
// y = (x − mean)·rstd·w + b.
// Backward: dx = rstd·(g − mean(g) − x̂·mean(g·x̂)) with g = dy·w and x̂ = (x − mean)·rstd. Rows are strided over
// the grid; each lane sums dy·x̂ and dy of its columns over its warp's rows, the block's warps add theirs in
// shared memory, and each block writes one row of dweight_part, dbias_part [gridDim.x, width] (summed over the
// blocks by the caller: no atomics, the same result on every run).

#define LN_WARPS 8
#define LN_THREADS (LN_WARPS * 32)
#define LN_MAX_WIDTH (LN_CHUNKS * 32)
#define FULL_MASK 0xffffffffu

__device__ __forceinline__ float warp_sum(float x)
{
    for (int offset = 16; offset > 0; offset >>= 1) x += __shfl_xor_sync(FULL_MASK, x, offset);
    return x;
}

extern "C" __global__ void __launch_bounds__(LN_THREADS) layer_norm_forward(
    const float* __restrict__ x, const float* __restrict__ weight, const float* __restrict__ bias,
    float* __restrict__ y, float* __restrict__ mean, float* __restrict__ rstd, long long rows, int width, float eps)
{
    int lane = threadIdx.x % 32;
    long long row = (long long)blockIdx.x * LN_WARPS + threadIdx.x / 32;
    if (row >= rows) return;
    const float* xr = x + row * width;
    float* yr = y + row * width;

    float v[LN_CHUNKS];
    float sum = 0.f;
#pragma unroll
    for (int i = 0; i < LN_CHUNKS; i++)
    {
        int col = lane + 32 * i;
        v[i] = col < width ? xr[col] : 0.f;
        sum += v[i];
    }
    float m = warp_sum(sum) / width;
    float squares = 0.f;
#pragma unroll
    for (int i = 0; i < LN_CHUNKS; i++)
    {
        int col = lane + 32 * i;
        v[i] = col < width ? v[i] - m : 0.f;
        squares += v[i] * v[i];
    }
    float r = rsqrtf(warp_sum(squares) / width + eps);
#pragma unroll
    for (int i = 0; i < LN_CHUNKS; i++)
    {
        int col = lane + 32 * i;
        if (col < width)
        {
            float w = weight != nullptr ? weight[col] : 1.f;
            float b = bias != nullptr ? bias[col] : 0.f;
            yr[col] = v[i] * r * w + b;
        }
    }
    if (lane == 0)
    {
        mean[row] = m;
        rstd[row] = r;
    }
}

// Writes the column sums of the block's warps (each lane's `partial` for its columns) as row blockIdx.x of `out`.
__device__ __forceinline__ void write_block_column_sums(const float* partial, float (*shared)[LN_MAX_WIDTH],
    float* __restrict__ out, int width)
{
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
#pragma unroll
    for (int i = 0; i < LN_CHUNKS; i++) shared[warp][lane + 32 * i] = partial[i];
    __syncthreads();
    for (int col = threadIdx.x; col < width; col += LN_THREADS)
    {
        float s = 0.f;
#pragma unroll
        for (int w = 0; w < LN_WARPS; w++) s += shared[w][col];
        out[(long long)blockIdx.x * width + col] = s;
    }
    __syncthreads();
}

extern "C" __global__ void __launch_bounds__(LN_THREADS) layer_norm_backward(
    const float* __restrict__ dy, const float* __restrict__ x, const float* __restrict__ weight,
    const float* __restrict__ mean, const float* __restrict__ rstd, float* __restrict__ dx,
    float* __restrict__ dweight_part, float* __restrict__ dbias_part, long long rows, int width)
{
    __shared__ float column_sums[LN_WARPS][LN_MAX_WIDTH];
    int lane = threadIdx.x % 32;

    float w[LN_CHUNKS], dw_sum[LN_CHUNKS], db_sum[LN_CHUNKS];
#pragma unroll
    for (int i = 0; i < LN_CHUNKS; i++)
    {
        int col = lane + 32 * i;
        w[i] = weight != nullptr && col < width ? weight[col] : 1.f;
        dw_sum[i] = 0.f;
        db_sum[i] = 0.f;
    }

    for (long long row = (long long)blockIdx.x * LN_WARPS + threadIdx.x / 32; row < rows; row += (long long)gridDim.x * LN_WARPS)
    {
        const float* xr = x + row * width;
        const float* dyr = dy + row * width;
        float* dxr = dx + row * width;
        float m = mean[row], r = rstd[row];
        float xhat[LN_CHUNKS], g[LN_CHUNKS];
        float sum_g = 0.f, sum_g_xhat = 0.f;
#pragma unroll
        for (int i = 0; i < LN_CHUNKS; i++)
        {
            int col = lane + 32 * i;
            float d = 0.f;
            xhat[i] = 0.f;
            if (col < width)
            {
                d = dyr[col];
                xhat[i] = (xr[col] - m) * r;
            }
            g[i] = d * w[i];
            dw_sum[i] += d * xhat[i];
            db_sum[i] += d;
            sum_g += g[i];
            sum_g_xhat += g[i] * xhat[i];
        }
        float mean_g = warp_sum(sum_g) / width;
        float mean_g_xhat = warp_sum(sum_g_xhat) / width;
#pragma unroll
        for (int i = 0; i < LN_CHUNKS; i++)
        {
            int col = lane + 32 * i;
            if (col < width) dxr[col] = r * (g[i] - mean_g - xhat[i] * mean_g_xhat);
        }
    }

    if (dweight_part != nullptr) write_block_column_sums(dw_sum, column_sums, dweight_part, width);
    if (dbias_part != nullptr) write_block_column_sums(db_sum, column_sums, dbias_part, width);
}
