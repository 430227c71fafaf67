// CUDA versions of the fused CPU kernels in fused.rs (layer norm, softmax, exact GELU and their
// backward passes) and of the fused AdamW step in optim.rs. Compiled to PTX by build.rs when the
// `cuda` feature is on, loaded once per device. All f32, contiguous rows.
//
// Row kernels run one block of ROW_THREADS threads per row of `dim` values; element kernels one
// thread per value.

#define ROW_THREADS 128

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Sum of `v` over the block; every thread gets the total.
__device__ float block_sum(float v) {
    __shared__ float partial[32];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
    v = warp_sum(v);
    __syncthreads();  // a previous call may still be reading `partial`
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    return warp_sum(lane < warps ? partial[lane] : 0.0f);
}

__device__ float block_max(float v) {
    __shared__ float partial[32];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    return warp_max(lane < warps ? partial[lane] : -INFINITY);
}

// Mean and 1/std of one row (population variance, as the CPU kernel and PyTorch).
__device__ void row_stats(const float* row, int dim, float eps, float* mean, float* rstd) {
    float s = 0.0f;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) s += row[i];
    const float m = block_sum(s) / dim;
    float q = 0.0f;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) {
        const float d = row[i] - m;
        q += d * d;
    }
    const float var = block_sum(q) / dim;
    *mean = m;
    *rstd = 1.0f / sqrtf(var + eps);
}

extern "C" __global__ void finelab_layer_norm(const float* x, const float* w, const float* b, float* y, int dim, float eps) {
    const size_t off = (size_t)blockIdx.x * dim;
    float mean, rstd;
    row_stats(x + off, dim, eps, &mean, &rstd);
    for (int i = threadIdx.x; i < dim; i += blockDim.x) y[off + i] = (x[off + i] - mean) * rstd * w[i] + b[i];
}

extern "C" __global__ void finelab_normalize(const float* x, float* y, int dim, float eps) {
    const size_t off = (size_t)blockIdx.x * dim;
    float mean, rstd;
    row_stats(x + off, dim, eps, &mean, &rstd);
    for (int i = threadIdx.x; i < dim; i += blockDim.x) y[off + i] = (x[off + i] - mean) * rstd;
}

// rstd · (g·w − mean(g·w) − x̂ · mean(g·w·x̂)) per row.
extern "C" __global__ void finelab_layer_norm_grad_x(const float* x, const float* w, const float* g, float* out, int dim, float eps) {
    const size_t off = (size_t)blockIdx.x * dim;
    float mean, rstd;
    row_stats(x + off, dim, eps, &mean, &rstd);
    float s_gw = 0.0f, s_gwx = 0.0f;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) {
        const float gw = g[off + i] * w[i];
        s_gw += gw;
        s_gwx += gw * (x[off + i] - mean) * rstd;
    }
    const float mean_gw = block_sum(s_gw) / dim;
    const float mean_gwx = block_sum(s_gwx) / dim;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) {
        const float xhat = (x[off + i] - mean) * rstd;
        out[off + i] = rstd * (g[off + i] * w[i] - mean_gw - xhat * mean_gwx);
    }
}

extern "C" __global__ void finelab_softmax(const float* x, float* y, int dim) {
    const size_t off = (size_t)blockIdx.x * dim;
    float mx = -INFINITY;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) mx = fmaxf(mx, x[off + i]);
    mx = block_max(mx);
    float s = 0.0f;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) {
        const float e = expf(x[off + i] - mx);
        y[off + i] = e;
        s += e;
    }
    const float inv = 1.0f / block_sum(s);
    for (int i = threadIdx.x; i < dim; i += blockDim.x) y[off + i] *= inv;
}

// y · (g − Σ g·y) per row.
extern "C" __global__ void finelab_softmax_grad(const float* y, const float* g, float* out, int dim) {
    const size_t off = (size_t)blockIdx.x * dim;
    float d = 0.0f;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) d += y[off + i] * g[off + i];
    d = block_sum(d);
    for (int i = threadIdx.x; i < dim; i += blockDim.x) out[off + i] = y[off + i] * (g[off + i] - d);
}

#define FRAC_1_SQRT_2 0.70710678118654752f
#define FRAC_1_SQRT_2PI 0.39894228040143268f

extern "C" __global__ void finelab_gelu(const float* x, float* y, unsigned int n) {
    const unsigned int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        const float v = x[i];
        y[i] = 0.5f * v * (1.0f + erff(v * FRAC_1_SQRT_2));
    }
}

extern "C" __global__ void finelab_gelu_grad(const float* x, const float* g, float* out, unsigned int n) {
    const unsigned int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        const float v = x[i];
        const float cdf = 0.5f * (1.0f + erff(v * FRAC_1_SQRT_2));
        const float pdf = FRAC_1_SQRT_2PI * expf(-0.5f * v * v);
        out[i] = g[i] * (cdf + v * pdf);
    }
}

// One AdamW update of `n` values in place (the same arithmetic as optim.rs's CPU kernel).
extern "C" __global__ void finelab_adamw(float* p, const float* g, float* m, float* v, unsigned int n, float beta1, float beta2,
                                         float eps, float keep, float step_size, float bias_correction2_sqrt, float grad_scale) {
    const unsigned int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        const float gi = g[i] * grad_scale;
        const float mi = beta1 * m[i] + (1.0f - beta1) * gi;
        const float vi = beta2 * v[i] + (1.0f - beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        const float denom = sqrtf(vi) / bias_correction2_sqrt + eps;
        p[i] = p[i] * keep - step_size * mi / denom;
    }
}

// Embedding lookup: out[t, c] = w[ids[t], c] for `n` = n_ids × hidden values.
extern "C" __global__ void finelab_embedding(const float* w, const unsigned int* ids, float* out, unsigned int n, unsigned int hidden) {
    const unsigned int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        const unsigned int t = i / hidden, c = i - t * hidden;
        out[i] = w[(size_t)ids[t] * hidden + c];
    }
}

// Its gradient: grad_w[ids[t], c] += g[t, c], one thread per value of g (grad_w zeroed first).
// candle's index_add, which the generic backward of index_select uses, runs one thread per
// column that walks all ids in turn: milliseconds a step for a batch of 4,096 tokens.
extern "C" __global__ void finelab_embedding_grad(const unsigned int* ids, const float* g, float* grad_w, unsigned int n, unsigned int hidden) {
    const unsigned int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        const unsigned int t = i / hidden, c = i - t * hidden;
        atomicAdd(&grad_w[(size_t)ids[t] * hidden + c], g[i]);
    }
}

// Attention probabilities softmax(x · scale + bias) over rows of `dim` keys; `bias` holds one
// row of `dim` values per batch element (padding mask), shared by its `rows_per_batch` rows
// (heads × queries). One kernel instead of three full passes (scale, add, softmax).
extern "C" __global__ void finelab_attention_softmax(const float* x, const float* bias, float* y, int dim, int rows_per_batch, float scale) {
    const size_t off = (size_t)blockIdx.x * dim;
    const float* b = bias + (size_t)(blockIdx.x / rows_per_batch) * dim;
    float mx = -INFINITY;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) mx = fmaxf(mx, x[off + i] * scale + b[i]);
    mx = block_max(mx);
    float s = 0.0f;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) {
        const float e = expf(x[off + i] * scale + b[i] - mx);
        y[off + i] = e;
        s += e;
    }
    const float inv = 1.0f / block_sum(s);
    for (int i = threadIdx.x; i < dim; i += blockDim.x) y[off + i] *= inv;
}

// Its gradient with respect to x: scale · y · (g − Σ g·y) per row.
extern "C" __global__ void finelab_softmax_grad_scaled(const float* y, const float* g, float* out, int dim, float scale) {
    const size_t off = (size_t)blockIdx.x * dim;
    float d = 0.0f;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) d += y[off + i] * g[off + i];
    d = block_sum(d);
    for (int i = threadIdx.x; i < dim; i += blockDim.x) out[off + i] = scale * y[off + i] * (g[off + i] - d);
}

// Inverted dropout from uniform draws u: y = x / (1 − p) where u ≥ p, else 0. Its gradient is
// the same operation applied to the incoming gradient.
extern "C" __global__ void finelab_dropout(const float* x, const float* u, float* y, unsigned int n, float p, float keep) {
    const unsigned int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = u[i] >= p ? x[i] * keep : 0.0f;
}
