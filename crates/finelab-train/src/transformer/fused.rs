//! Fused kernels for layer normalization, softmax and the exact GELU, one pass each way, with their
//! backward passes: on the CPU (below) and, with the `cuda` feature, on NVIDIA GPUs (`kernels.cu`,
//! the same arithmetic). The primitive-op versions in `nn.rs` allocate a dozen intermediate
//! tensors a call (forward and backward) and, on a GPU, launch a dozen kernels; these allocate one
//! and launch one. Metal, and dtypes other than f32, use the primitive versions; so does CUDA when
//! `FINELAB_CUDA_KERNELS=0`. `tests` below (and `tests/transformer_cuda.rs` on a GPU) check both
//! give the same values and gradients.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor, D};

fn f32_slice<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [f32]> {
    let CpuStorage::F32(data) = s else { candle_core::bail!("{what}: f32 expected") };
    let Some((a, b)) = l.contiguous_offsets() else { candle_core::bail!("{what}: contiguous input expected") };
    Ok(&data[a..b])
}

/// Values a parallel block covers: enough work to be worth a thread hop.
const BLOCK: usize = 16 * 1024;

/// Hands `out` (rows of `dim` values) to rayon's threads in blocks of whole rows:
/// `f(span, block)`, `span` the block's range in `out` (and so in same-shaped inputs). Each row is
/// computed as a serial loop would, so the values are the same whatever the threads.
fn for_row_blocks(out: &mut [f32], dim: usize, f: impl Fn(std::ops::Range<usize>, &mut [f32]) + Sync + Send) {
    use rayon::prelude::*;
    let rows = (BLOCK / dim.max(1)).max(1);
    if out.len() <= rows * dim {
        let n = out.len();
        return f(0..n, out);
    }
    out.par_chunks_mut(rows * dim).enumerate().for_each(|(b, o)| {
        let start = b * rows * dim;
        f(start..start + o.len(), o)
    });
}

fn last_dim(l: &Layout) -> usize {
    *l.shape().dims().last().unwrap_or(&1)
}

/// Per-row mean and 1/std of `x` (rows of `dim`).
fn row_stats(row: &[f32], eps: f64) -> (f32, f32) {
    let n = row.len() as f32;
    let mean = row.iter().sum::<f32>() / n;
    let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
    (mean, 1.0 / (var + eps as f32).sqrt())
}

/// `y = (x - mean) / sqrt(var + eps) * w + b` over the last dimension.
struct LayerNormOp {
    eps: f64,
}

impl CustomOp3 for LayerNormOp {
    fn name(&self) -> &'static str {
        "finelab-layer-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (x, w, b) =
            (f32_slice(s1, l1, "layer norm")?, f32_slice(s2, l2, "layer norm")?, f32_slice(s3, l3, "layer norm")?);
        let dim = last_dim(l1);
        let mut out = vec![0f32; x.len()];
        for_row_blocks(&mut out, dim, |span, o| {
            for (row, o) in x[span].chunks_exact(dim).zip(o.chunks_exact_mut(dim)) {
                let (mean, rstd) = row_stats(row, self.eps);
                for i in 0..dim {
                    o[i] = (row[i] - mean) * rstd * w[i] + b[i];
                }
            }
        });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s1: &candle_core::CudaStorage,
        l1: &Layout,
        s2: &candle_core::CudaStorage,
        l2: &Layout,
        s3: &candle_core::CudaStorage,
        l3: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        gpu::rows3("finelab_layer_norm", s1, l1, s2, l2, s3, l3, Some(self.eps as f32))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let grad = grad.contiguous()?;
        let grad_x = x.apply_op3_no_bwd(w, &grad, &LayerNormGradX { eps: self.eps })?;
        let xhat = x.apply_op1_no_bwd(&Normalize { eps: self.eps })?;
        let dim = x.dim(D::Minus1)?;
        let rows = x.elem_count() / dim;
        let g2 = grad.reshape((rows, dim))?;
        let grad_w = (&g2 * xhat.reshape((rows, dim))?)?.sum(0)?;
        let grad_b = g2.sum(0)?;
        Ok((Some(grad_x), Some(grad_w), Some(grad_b)))
    }
}

/// `(x - mean) / sqrt(var + eps)`, without the affine part.
struct Normalize {
    eps: f64,
}

impl CustomOp1 for Normalize {
    fn name(&self) -> &'static str {
        "finelab-normalize"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s, l, "normalize")?;
        let dim = last_dim(l);
        let mut out = vec![0f32; x.len()];
        for_row_blocks(&mut out, dim, |span, o| {
            for (row, o) in x[span].chunks_exact(dim).zip(o.chunks_exact_mut(dim)) {
                let (mean, rstd) = row_stats(row, self.eps);
                for i in 0..dim {
                    o[i] = (row[i] - mean) * rstd;
                }
            }
        });
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(&self, s: &candle_core::CudaStorage, l: &Layout) -> Result<(candle_core::CudaStorage, Shape)> {
        gpu::rows1("finelab_normalize", s, l, Some(self.eps as f32))
    }
}

/// Gradient of layer norm with respect to `x`:
/// `rstd · (g·w − mean(g·w) − x̂ · mean(g·w·x̂))` per row.
struct LayerNormGradX {
    eps: f64,
}

impl CustomOp3 for LayerNormGradX {
    fn name(&self) -> &'static str {
        "finelab-layer-norm-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (x, w, g) = (
            f32_slice(s1, l1, "layer norm grad")?,
            f32_slice(s2, l2, "layer norm grad")?,
            f32_slice(s3, l3, "layer norm grad")?,
        );
        let dim = last_dim(l1);
        let mut out = vec![0f32; x.len()];
        let n = dim as f32;
        for_row_blocks(&mut out, dim, |span, o| {
            let rows = x[span.clone()].chunks_exact(dim).zip(g[span].chunks_exact(dim));
            for ((row, grow), o) in rows.zip(o.chunks_exact_mut(dim)) {
                let (mean, rstd) = row_stats(row, self.eps);
                let (mut sum_gw, mut sum_gwx) = (0f32, 0f32);
                for i in 0..dim {
                    let gw = grow[i] * w[i];
                    sum_gw += gw;
                    sum_gwx += gw * (row[i] - mean) * rstd;
                }
                let (mean_gw, mean_gwx) = (sum_gw / n, sum_gwx / n);
                for i in 0..dim {
                    let xhat = (row[i] - mean) * rstd;
                    o[i] = rstd * (grow[i] * w[i] - mean_gw - xhat * mean_gwx);
                }
            }
        });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s1: &candle_core::CudaStorage,
        l1: &Layout,
        s2: &candle_core::CudaStorage,
        l2: &Layout,
        s3: &candle_core::CudaStorage,
        l3: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        gpu::rows3("finelab_layer_norm_grad_x", s1, l1, s2, l2, s3, l3, Some(self.eps as f32))
    }
}

/// Softmax over the last dimension.
struct SoftmaxOp;

impl CustomOp1 for SoftmaxOp {
    fn name(&self) -> &'static str {
        "finelab-softmax"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s, l, "softmax")?;
        let dim = last_dim(l);
        let mut out = vec![0f32; x.len()];
        for_row_blocks(&mut out, dim, |span, o| {
            for (row, o) in x[span].chunks_exact(dim).zip(o.chunks_exact_mut(dim)) {
                let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let mut sum = 0f32;
                for i in 0..dim {
                    let e = (row[i] - max).exp();
                    o[i] = e;
                    sum += e;
                }
                let inv = 1.0 / sum;
                o.iter_mut().for_each(|v| *v *= inv);
            }
        });
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(&self, s: &candle_core::CudaStorage, l: &Layout) -> Result<(candle_core::CudaStorage, Shape)> {
        gpu::rows1("finelab_softmax", s, l, None)
    }

    fn bwd(&self, _x: &Tensor, res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(res.apply_op2_no_bwd(&grad.contiguous()?, &SoftmaxGrad)?))
    }
}

/// Gradient of softmax: `y · (g − Σ g·y)` per row.
struct SoftmaxGrad;

impl CustomOp2 for SoftmaxGrad {
    fn name(&self) -> &'static str {
        "finelab-softmax-grad"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (y, g) = (f32_slice(s1, l1, "softmax grad")?, f32_slice(s2, l2, "softmax grad")?);
        let dim = last_dim(l1);
        let mut out = vec![0f32; y.len()];
        for_row_blocks(&mut out, dim, |span, o| {
            let rows = y[span.clone()].chunks_exact(dim).zip(g[span].chunks_exact(dim));
            for ((yr, gr), o) in rows.zip(o.chunks_exact_mut(dim)) {
                let dot: f32 = yr.iter().zip(gr).map(|(a, b)| a * b).sum();
                for i in 0..dim {
                    o[i] = yr[i] * (gr[i] - dot);
                }
            }
        });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s1: &candle_core::CudaStorage,
        l1: &Layout,
        s2: &candle_core::CudaStorage,
        l2: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        gpu::rows2("finelab_softmax_grad", s1, l1, s2, l2)
    }
}

/// erf(x) to about 1e-7 (Abramowitz and Stegun 7.1.26 with its exp term), branch-free so the
/// loops below vectorize; libm's scalar `erff` was the largest cost after matrix products.
#[inline]
fn erf(x: f32) -> f32 {
    let sign = x.signum();
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = t * (0.254_829_6 + t * (-0.284_496_74 + t * (1.421_413_7 + t * (-1.453_152_1 + t * 1.061_405_4))));
    sign * (1.0 - poly * (-a * a).exp())
}

const FRAC_1_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;
/// 1 / sqrt(2π).
const FRAC_1_SQRT_2PI: f32 = 0.398_942_3;

/// The exact GELU, `x · Φ(x)`, as PyTorch's `gelu` (not the tanh approximation).
struct GeluOp;

impl CustomOp1 for GeluOp {
    fn name(&self) -> &'static str {
        "finelab-gelu"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s, l, "gelu")?;
        let mut out = vec![0f32; x.len()];
        for_row_blocks(&mut out, 1, |span, o| {
            for (o, &v) in o.iter_mut().zip(&x[span]) {
                *o = 0.5 * v * (1.0 + erf(v * FRAC_1_SQRT_2));
            }
        });
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(&self, s: &candle_core::CudaStorage, l: &Layout) -> Result<(candle_core::CudaStorage, Shape)> {
        gpu::elems1("finelab_gelu", s, l)
    }

    fn bwd(&self, x: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(x.apply_op2_no_bwd(&grad.contiguous()?, &GeluGrad)?))
    }
}

/// `g · (Φ(x) + x · φ(x))`.
struct GeluGrad;

impl CustomOp2 for GeluGrad {
    fn name(&self) -> &'static str {
        "finelab-gelu-grad"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (x, g) = (f32_slice(s1, l1, "gelu grad")?, f32_slice(s2, l2, "gelu grad")?);
        let mut out = vec![0f32; x.len()];
        for_row_blocks(&mut out, 1, |span, o| {
            for ((o, &v), &gv) in o.iter_mut().zip(&x[span.clone()]).zip(&g[span]) {
                let cdf = 0.5 * (1.0 + erf(v * FRAC_1_SQRT_2));
                let pdf = FRAC_1_SQRT_2PI * (-0.5 * v * v).exp();
                *o = gv * (cdf + v * pdf);
            }
        });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s1: &candle_core::CudaStorage,
        l1: &Layout,
        s2: &candle_core::CudaStorage,
        l2: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        gpu::elems2("finelab_gelu_grad", s1, l1, s2, l2)
    }
}

/// Embedding lookup `weight[ids]` with a scatter-add backward (CUDA only: on the CPU candle's
/// `index_select` and its backward are already fast).
struct EmbeddingOp;

impl CustomOp2 for EmbeddingOp {
    fn name(&self) -> &'static str {
        "finelab-embedding"
    }

    fn cpu_fwd(&self, _: &CpuStorage, _: &Layout, _: &CpuStorage, _: &Layout) -> Result<(CpuStorage, Shape)> {
        candle_core::bail!("finelab-embedding: CUDA only (the CPU uses index_select)")
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s1: &candle_core::CudaStorage,
        l1: &Layout,
        s2: &candle_core::CudaStorage,
        l2: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        gpu::embedding(s1, l1, s2, l2)
    }

    fn bwd(&self, w: &Tensor, ids: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (vocab, _) = w.dims2()?;
        Ok((Some(ids.apply_op2_no_bwd(&grad.contiguous()?, &EmbeddingGrad { vocab })?), None))
    }
}

/// `grad_w[ids[t]] += g[t]` into a `vocab × hidden` zero tensor.
// Read by the CUDA kernel launch alone.
#[cfg_attr(not(feature = "cuda"), allow(dead_code))]
struct EmbeddingGrad {
    vocab: usize,
}

impl CustomOp2 for EmbeddingGrad {
    fn name(&self) -> &'static str {
        "finelab-embedding-grad"
    }

    fn cpu_fwd(&self, _: &CpuStorage, _: &Layout, _: &CpuStorage, _: &Layout) -> Result<(CpuStorage, Shape)> {
        candle_core::bail!("finelab-embedding-grad: CUDA only")
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s1: &candle_core::CudaStorage,
        l1: &Layout,
        s2: &candle_core::CudaStorage,
        l2: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        gpu::embedding_grad(self.vocab, s1, l1, s2, l2)
    }
}

/// Rows `ids` (u32, any shape) of `weight` (`vocab × hidden`), shaped `(ids…, hidden)`: the fused
/// CUDA kernels when they apply, else `None`.
pub(crate) fn embedding(weight: &Tensor, ids: &Tensor) -> Result<Option<Tensor>> {
    if !(fusable(weight) && weight.device().is_cuda() && ids.dtype() == candle_core::DType::U32) {
        return Ok(None);
    }
    let flat = ids.flatten_all()?.contiguous()?;
    let rows = weight.contiguous()?.apply_op2(&flat, EmbeddingOp)?;
    let mut dims = ids.dims().to_vec();
    dims.push(weight.dim(1)?);
    Ok(Some(rows.reshape(dims)?))
}

/// `softmax(x · scale + bias)` over the last dimension, `bias` `(batch, 1, 1, keys)` broadcast over
/// heads and queries (CUDA only). The bias (the padding mask) gets no gradient.
struct AttentionSoftmaxOp {
    scale: f32,
}

impl CustomOp2 for AttentionSoftmaxOp {
    fn name(&self) -> &'static str {
        "finelab-attention-softmax"
    }

    fn cpu_fwd(&self, _: &CpuStorage, _: &Layout, _: &CpuStorage, _: &Layout) -> Result<(CpuStorage, Shape)> {
        candle_core::bail!("finelab-attention-softmax: CUDA only")
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s1: &candle_core::CudaStorage,
        l1: &Layout,
        s2: &candle_core::CudaStorage,
        l2: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        gpu::attention_softmax(self.scale, s1, l1, s2, l2)
    }

    fn bwd(
        &self,
        _x: &Tensor,
        _bias: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        Ok((Some(res.apply_op2_no_bwd(&grad.contiguous()?, &SoftmaxGradScaled { scale: self.scale })?), None))
    }
}

/// `scale · y · (g − Σ g·y)` per row (CUDA only).
// Read by the CUDA kernel launch alone.
#[cfg_attr(not(feature = "cuda"), allow(dead_code))]
struct SoftmaxGradScaled {
    scale: f32,
}

impl CustomOp2 for SoftmaxGradScaled {
    fn name(&self) -> &'static str {
        "finelab-softmax-grad-scaled"
    }

    fn cpu_fwd(&self, _: &CpuStorage, _: &Layout, _: &CpuStorage, _: &Layout) -> Result<(CpuStorage, Shape)> {
        candle_core::bail!("finelab-softmax-grad-scaled: CUDA only")
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s1: &candle_core::CudaStorage,
        l1: &Layout,
        s2: &candle_core::CudaStorage,
        l2: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        gpu::softmax_grad_scaled(self.scale, s1, l1, s2, l2)
    }
}

/// Inverted dropout `x · keep` where the uniform draw `u ≥ p`, else 0 (CUDA only); its gradient
/// is the same operation on the incoming gradient.
// Read by the CUDA kernel launch alone.
#[cfg_attr(not(feature = "cuda"), allow(dead_code))]
#[derive(Clone, Copy)]
struct DropoutOp {
    p: f32,
    keep: f32,
}

impl CustomOp2 for DropoutOp {
    fn name(&self) -> &'static str {
        "finelab-dropout"
    }

    fn cpu_fwd(&self, _: &CpuStorage, _: &Layout, _: &CpuStorage, _: &Layout) -> Result<(CpuStorage, Shape)> {
        candle_core::bail!("finelab-dropout: CUDA only")
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s1: &candle_core::CudaStorage,
        l1: &Layout,
        s2: &candle_core::CudaStorage,
        l2: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        gpu::dropout(self.p, self.keep, s1, l1, s2, l2)
    }

    fn bwd(&self, _x: &Tensor, u: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        Ok((Some(grad.contiguous()?.apply_op2_no_bwd(u, self)?), None))
    }
}

/// Attention probabilities `softmax(scores · scale + bias)` with `bias` `(batch, 1, 1, keys)`:
/// the fused CUDA kernel when it applies (computed in f32, returned in the scores' dtype), else
/// `None`.
pub(crate) fn attention_softmax(scores: &Tensor, scale: f64, bias: &Tensor) -> Result<Option<Tensor>> {
    if !(scores.device().is_cuda() && cuda_kernels_enabled() && scores.rank() == 4) {
        return Ok(None);
    }
    let (batch, _, _, keys) = scores.dims4()?;
    if bias.dims() != [batch, 1, 1, keys] {
        return Ok(None);
    }
    let dtype = scores.dtype();
    let x = scores.to_dtype(candle_core::DType::F32)?.contiguous()?;
    let b = bias.to_dtype(candle_core::DType::F32)?.contiguous()?;
    Ok(Some(x.apply_op2(&b, AttentionSoftmaxOp { scale: scale as f32 })?.to_dtype(dtype)?))
}

/// Inverted dropout of `x` with drop probability `p` from uniform draws `u` (same shape, f32): the
/// fused CUDA kernel when it applies, else `None`.
pub(crate) fn dropout(x: &Tensor, u: &Tensor, p: f64) -> Result<Option<Tensor>> {
    if !(fusable(x) && x.device().is_cuda()) {
        return Ok(None);
    }
    Ok(Some(x.contiguous()?.apply_op2(u, DropoutOp { p: p as f32, keep: (1.0 / (1.0 - p)) as f32 })?))
}

/// The exact GELU: the fused kernel when it applies, else `None`.
pub(crate) fn gelu_erf(x: &Tensor) -> Result<Option<Tensor>> {
    if !fusable(x) {
        return Ok(None);
    }
    Ok(Some(x.contiguous()?.apply_op1(GeluOp)?))
}

fn fusable(x: &Tensor) -> bool {
    x.dtype() == candle_core::DType::F32 && (x.device().is_cpu() || (x.device().is_cuda() && cuda_kernels_enabled()))
}

/// Whether the fused CUDA kernels (these and AdamW's) are used on NVIDIA GPUs: yes, unless the
/// environment says `FINELAB_CUDA_KERNELS=0` (then primitive operations are used, for
/// comparison). Always false in a build without the `cuda` feature.
pub fn cuda_kernels_enabled() -> bool {
    static ENABLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    cfg!(feature = "cuda") && *ENABLED.get_or_init(|| std::env::var("FINELAB_CUDA_KERNELS").map_or(true, |v| v != "0"))
}

/// Launching the kernels of `kernels.cu` on candle's CUDA storage.
#[cfg(feature = "cuda")]
pub(crate) mod gpu {
    use candle_core::cuda_backend::cudarc::driver::{CudaView, LaunchConfig, PushKernelArg};
    use candle_core::cuda_backend::{CudaStorageSlice, WrapErr};
    use candle_core::{CudaDevice, CudaStorage, Layout, Result, Shape};

    /// `kernels.cu` compiled by build.rs; load a kernel with
    /// `dev.get_or_load_custom_func(name, MODULE, PTX)` (once per device, then cached).
    pub(crate) const PTX: &str = include_str!(concat!(env!("OUT_DIR"), "/finelab_kernels.ptx"));
    /// The module name the kernels are cached under.
    pub(crate) const MODULE: &str = "finelab_kernels";
    /// Threads per row (`ROW_THREADS` in `kernels.cu`).
    const ROW_THREADS: u32 = 128;

    /// The contiguous f32 values of `s` under `l`.
    pub(crate) fn view<'a>(s: &'a CudaStorage, l: &Layout, what: &str) -> Result<CudaView<'a, f32>> {
        let slice = s.as_cuda_slice::<f32>()?;
        let Some((a, b)) = l.contiguous_offsets() else { candle_core::bail!("{what}: contiguous input expected") };
        Ok(slice.slice(a..b))
    }

    fn rows(l: &Layout) -> (u32, i32) {
        let dim = *l.shape().dims().last().unwrap_or(&1);
        ((l.shape().elem_count() / dim.max(1)) as u32, dim as i32)
    }

    fn out(
        dev: &CudaDevice,
        n: usize,
        l: &Layout,
        slice: candle_core::cuda_backend::cudarc::driver::CudaSlice<f32>,
    ) -> (CudaStorage, Shape) {
        debug_assert_eq!(n, slice.len());
        (CudaStorage { slice: CudaStorageSlice::F32(slice), device: dev.clone() }, l.shape().clone())
    }

    fn row_config(rows: u32) -> LaunchConfig {
        LaunchConfig { grid_dim: (rows, 1, 1), block_dim: (ROW_THREADS, 1, 1), shared_mem_bytes: 0 }
    }

    /// One row kernel over `x` (`name(x, y, dim[, eps])`).
    pub(crate) fn rows1(name: &str, s: &CudaStorage, l: &Layout, eps: Option<f32>) -> Result<(CudaStorage, Shape)> {
        let dev = &s.device;
        let x = view(s, l, name)?;
        let n = x.len();
        let (n_rows, dim) = rows(l);
        // SAFETY: every value is written by the kernel.
        let y = unsafe { dev.alloc::<f32>(n)? };
        let f = dev.get_or_load_custom_func(name, MODULE, PTX)?;
        let mut b = f.builder();
        b.arg(&x);
        b.arg(&y);
        b.arg(&dim);
        let eps = eps.unwrap_or(0.0);
        if name != "finelab_softmax" {
            b.arg(&eps);
        }
        // SAFETY: the arguments match the kernel's signature in kernels.cu.
        unsafe { b.launch(row_config(n_rows)) }.w()?;
        drop(b);
        Ok(out(dev, n, l, y))
    }

    /// One row kernel over `x` and `g` (`name(x, g, out, dim)`).
    pub(crate) fn rows2(
        name: &str,
        s1: &CudaStorage,
        l1: &Layout,
        s2: &CudaStorage,
        l2: &Layout,
    ) -> Result<(CudaStorage, Shape)> {
        let dev = &s1.device;
        let (a, g) = (view(s1, l1, name)?, view(s2, l2, name)?);
        let n = a.len();
        let (n_rows, dim) = rows(l1);
        // SAFETY: every value is written by the kernel.
        let y = unsafe { dev.alloc::<f32>(n)? };
        let f = dev.get_or_load_custom_func(name, MODULE, PTX)?;
        let mut b = f.builder();
        b.arg(&a);
        b.arg(&g);
        b.arg(&y);
        b.arg(&dim);
        // SAFETY: the arguments match the kernel's signature in kernels.cu.
        unsafe { b.launch(row_config(n_rows)) }.w()?;
        drop(b);
        Ok(out(dev, n, l1, y))
    }

    /// One row kernel over `x`, a per-column `w` and a third input (`name(x, w, t, out, dim, eps)`).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn rows3(
        name: &str,
        s1: &CudaStorage,
        l1: &Layout,
        s2: &CudaStorage,
        l2: &Layout,
        s3: &CudaStorage,
        l3: &Layout,
        eps: Option<f32>,
    ) -> Result<(CudaStorage, Shape)> {
        let dev = &s1.device;
        let (x, w, t) = (view(s1, l1, name)?, view(s2, l2, name)?, view(s3, l3, name)?);
        let n = x.len();
        let (n_rows, dim) = rows(l1);
        // SAFETY: every value is written by the kernel.
        let y = unsafe { dev.alloc::<f32>(n)? };
        let f = dev.get_or_load_custom_func(name, MODULE, PTX)?;
        let eps = eps.unwrap_or(0.0);
        let mut b = f.builder();
        b.arg(&x);
        b.arg(&w);
        b.arg(&t);
        b.arg(&y);
        b.arg(&dim);
        b.arg(&eps);
        // SAFETY: the arguments match the kernel's signature in kernels.cu.
        unsafe { b.launch(row_config(n_rows)) }.w()?;
        drop(b);
        Ok(out(dev, n, l1, y))
    }

    /// `finelab_embedding`: rows `ids` of `w`.
    pub(crate) fn embedding(
        s1: &CudaStorage,
        l1: &Layout,
        s2: &CudaStorage,
        l2: &Layout,
    ) -> Result<(CudaStorage, Shape)> {
        let dev = &s1.device;
        let w = view(s1, l1, "embedding")?;
        let Some((a, b)) = l2.contiguous_offsets() else { candle_core::bail!("embedding: contiguous ids expected") };
        let ids = s2.as_cuda_slice::<u32>()?.slice(a..b);
        let (n_ids, hidden) = (b - a, *l1.shape().dims().last().unwrap_or(&1));
        let n = n_ids * hidden;
        // SAFETY: every value is written by the kernel.
        let y = unsafe { dev.alloc::<f32>(n)? };
        let f = dev.get_or_load_custom_func("finelab_embedding", MODULE, PTX)?;
        let (count, width) = (n as u32, hidden as u32);
        let mut builder = f.builder();
        builder.arg(&w);
        builder.arg(&ids);
        builder.arg(&y);
        builder.arg(&count);
        builder.arg(&width);
        // SAFETY: the arguments match the kernel's signature in kernels.cu.
        unsafe { builder.launch(LaunchConfig::for_num_elems(count)) }.w()?;
        drop(builder);
        Ok((CudaStorage { slice: CudaStorageSlice::F32(y), device: dev.clone() }, Shape::from((n_ids, hidden))))
    }

    /// `finelab_embedding_grad`: the `vocab × hidden` gradient of `embedding` from `g` (`n_ids × hidden`).
    pub(crate) fn embedding_grad(
        vocab: usize,
        s1: &CudaStorage,
        l1: &Layout,
        s2: &CudaStorage,
        l2: &Layout,
    ) -> Result<(CudaStorage, Shape)> {
        let dev = &s1.device;
        let Some((a, b)) = l1.contiguous_offsets() else {
            candle_core::bail!("embedding grad: contiguous ids expected")
        };
        let ids = s1.as_cuda_slice::<u32>()?.slice(a..b);
        let g = view(s2, l2, "embedding grad")?;
        let n = g.len();
        let hidden = n / (b - a).max(1);
        let grad_w = dev.alloc_zeros::<f32>(vocab * hidden)?;
        let f = dev.get_or_load_custom_func("finelab_embedding_grad", MODULE, PTX)?;
        let (count, width) = (n as u32, hidden as u32);
        let mut builder = f.builder();
        builder.arg(&ids);
        builder.arg(&g);
        builder.arg(&grad_w);
        builder.arg(&count);
        builder.arg(&width);
        // SAFETY: the arguments match the kernel's signature in kernels.cu; ids < vocab.
        unsafe { builder.launch(LaunchConfig::for_num_elems(count)) }.w()?;
        drop(builder);
        Ok((CudaStorage { slice: CudaStorageSlice::F32(grad_w), device: dev.clone() }, Shape::from((vocab, hidden))))
    }

    /// `finelab_attention_softmax` over `x` `(batch, heads, queries, keys)` and `bias`
    /// `(batch, 1, 1, keys)`.
    pub(crate) fn attention_softmax(
        scale: f32,
        s1: &CudaStorage,
        l1: &Layout,
        s2: &CudaStorage,
        l2: &Layout,
    ) -> Result<(CudaStorage, Shape)> {
        let dev = &s1.device;
        let (x, bias) = (view(s1, l1, "attention softmax")?, view(s2, l2, "attention softmax")?);
        let n = x.len();
        let dims = l1.shape().dims();
        let (n_rows, dim) = rows(l1);
        let rows_per_batch = (dims[1] * dims[2]) as i32;
        // SAFETY: every value is written by the kernel.
        let y = unsafe { dev.alloc::<f32>(n)? };
        let f = dev.get_or_load_custom_func("finelab_attention_softmax", MODULE, PTX)?;
        let mut b = f.builder();
        b.arg(&x);
        b.arg(&bias);
        b.arg(&y);
        b.arg(&dim);
        b.arg(&rows_per_batch);
        b.arg(&scale);
        // SAFETY: the arguments match the kernel's signature in kernels.cu.
        unsafe { b.launch(row_config(n_rows)) }.w()?;
        drop(b);
        Ok(out(dev, n, l1, y))
    }

    /// `finelab_softmax_grad_scaled` over `y` and `g`.
    pub(crate) fn softmax_grad_scaled(
        scale: f32,
        s1: &CudaStorage,
        l1: &Layout,
        s2: &CudaStorage,
        l2: &Layout,
    ) -> Result<(CudaStorage, Shape)> {
        let dev = &s1.device;
        let (y, g) = (view(s1, l1, "softmax grad")?, view(s2, l2, "softmax grad")?);
        let n = y.len();
        let (n_rows, dim) = rows(l1);
        // SAFETY: every value is written by the kernel.
        let o = unsafe { dev.alloc::<f32>(n)? };
        let f = dev.get_or_load_custom_func("finelab_softmax_grad_scaled", MODULE, PTX)?;
        let mut b = f.builder();
        b.arg(&y);
        b.arg(&g);
        b.arg(&o);
        b.arg(&dim);
        b.arg(&scale);
        // SAFETY: the arguments match the kernel's signature in kernels.cu.
        unsafe { b.launch(row_config(n_rows)) }.w()?;
        drop(b);
        Ok(out(dev, n, l1, o))
    }

    /// `finelab_dropout` over `x` and the uniform draws `u`.
    pub(crate) fn dropout(
        p: f32,
        keep: f32,
        s1: &CudaStorage,
        l1: &Layout,
        s2: &CudaStorage,
        l2: &Layout,
    ) -> Result<(CudaStorage, Shape)> {
        let dev = &s1.device;
        let (x, u) = (view(s1, l1, "dropout")?, view(s2, l2, "dropout")?);
        let n = x.len();
        if u.len() != n {
            candle_core::bail!("dropout: {n} values, {} draws", u.len())
        }
        // SAFETY: every value is written by the kernel.
        let y = unsafe { dev.alloc::<f32>(n)? };
        let f = dev.get_or_load_custom_func("finelab_dropout", MODULE, PTX)?;
        let count = n as u32;
        let mut b = f.builder();
        b.arg(&x);
        b.arg(&u);
        b.arg(&y);
        b.arg(&count);
        b.arg(&p);
        b.arg(&keep);
        // SAFETY: the arguments match the kernel's signature in kernels.cu.
        unsafe { b.launch(LaunchConfig::for_num_elems(count)) }.w()?;
        drop(b);
        Ok(out(dev, n, l1, y))
    }

    /// One element kernel over `x` (`name(x, y, n)`).
    pub(crate) fn elems1(name: &str, s: &CudaStorage, l: &Layout) -> Result<(CudaStorage, Shape)> {
        let dev = &s.device;
        let x = view(s, l, name)?;
        let n = x.len();
        // SAFETY: every value is written by the kernel.
        let y = unsafe { dev.alloc::<f32>(n)? };
        let f = dev.get_or_load_custom_func(name, MODULE, PTX)?;
        let count = n as u32;
        let mut b = f.builder();
        b.arg(&x);
        b.arg(&y);
        b.arg(&count);
        // SAFETY: the arguments match the kernel's signature in kernels.cu.
        unsafe { b.launch(LaunchConfig::for_num_elems(count)) }.w()?;
        drop(b);
        Ok(out(dev, n, l, y))
    }

    /// One element kernel over `x` and `g` (`name(x, g, out, n)`).
    pub(crate) fn elems2(
        name: &str,
        s1: &CudaStorage,
        l1: &Layout,
        s2: &CudaStorage,
        l2: &Layout,
    ) -> Result<(CudaStorage, Shape)> {
        let dev = &s1.device;
        let (x, g) = (view(s1, l1, name)?, view(s2, l2, name)?);
        let n = x.len();
        // SAFETY: every value is written by the kernel.
        let y = unsafe { dev.alloc::<f32>(n)? };
        let f = dev.get_or_load_custom_func(name, MODULE, PTX)?;
        let count = n as u32;
        let mut b = f.builder();
        b.arg(&x);
        b.arg(&g);
        b.arg(&y);
        b.arg(&count);
        // SAFETY: the arguments match the kernel's signature in kernels.cu.
        unsafe { b.launch(LaunchConfig::for_num_elems(count)) }.w()?;
        drop(b);
        Ok(out(dev, n, l1, y))
    }
}

/// Layer norm over the last dimension: the fused kernel when it applies, else `None`.
pub(crate) fn layer_norm(x: &Tensor, w: &Tensor, b: &Tensor, eps: f64) -> Result<Option<Tensor>> {
    if !fusable(x) {
        return Ok(None);
    }
    Ok(Some(x.contiguous()?.apply_op3(&w.contiguous()?, &b.contiguous()?, LayerNormOp { eps })?))
}

/// Softmax over the last dimension: the fused kernel when it applies, else `None`.
pub(crate) fn softmax_last_dim(x: &Tensor) -> Result<Option<Tensor>> {
    if !fusable(x) {
        return Ok(None);
    }
    Ok(Some(x.contiguous()?.apply_op1(SoftmaxOp)?))
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Var};

    use super::*;
    use crate::transformer::nn;

    fn close(a: &Tensor, b: &Tensor, what: &str) {
        let a: Vec<f32> = a.flatten_all().unwrap().to_vec1().unwrap();
        let b: Vec<f32> = b.flatten_all().unwrap().to_vec1().unwrap();
        assert_eq!(a.len(), b.len());
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            assert!((x - y).abs() <= 1e-5 + 1e-4 * y.abs(), "{what}[{i}]: fused {x} vs primitive {y}");
        }
    }

    /// Small tensors (one block) and one of several blocks, which the threads share.
    #[test]
    fn fused_kernels_equal_the_primitive_ones_values_and_gradients() {
        check_shape((3, 5, 8));
        const { assert!(48 * 30 * 24 > 2 * BLOCK) };
        check_shape((48, 30, 24));
    }

    fn check_shape(shape: (usize, usize, usize)) {
        let dev = Device::Cpu;
        let dim = shape.2;
        let x = Var::from_tensor(&(Tensor::randn(0f32, 2.0, shape, &dev).unwrap() + 0.5).unwrap()).unwrap();
        let w = Var::from_tensor(&Tensor::randn(1f32, 0.3, dim, &dev).unwrap()).unwrap();
        let b = Var::from_tensor(&Tensor::randn(0f32, 0.3, dim, &dev).unwrap()).unwrap();
        let mix = Tensor::randn(0f32, 1.0, shape, &dev).unwrap();
        let primitive = |x: &Tensor| {
            let mean = x.mean_keepdim(D::Minus1)?;
            let c = x.broadcast_sub(&mean)?;
            let var = c.sqr()?.mean_keepdim(D::Minus1)?;
            c.broadcast_div(&(var + 1e-5)?.sqrt()?)?.broadcast_mul(w.as_tensor())?.broadcast_add(b.as_tensor())
        };
        let fused = layer_norm(x.as_tensor(), w.as_tensor(), b.as_tensor(), 1e-5).unwrap().unwrap();
        let slow = primitive(x.as_tensor()).unwrap();
        close(&fused, &slow, "layer norm");
        let gf = (fused * &mix).unwrap().sum_all().unwrap().backward().unwrap();
        let gs = (slow * &mix).unwrap().sum_all().unwrap().backward().unwrap();
        for (v, name) in [(&x, "d/dx"), (&w, "d/dw"), (&b, "d/db")] {
            close(gf.get(v.as_tensor()).unwrap(), gs.get(v.as_tensor()).unwrap(), name);
        }

        let fused = softmax_last_dim(x.as_tensor()).unwrap().unwrap();
        let slow = nn::softmax_primitive(x.as_tensor()).unwrap();
        close(&fused, &slow, "softmax");
        let gf = (fused * &mix).unwrap().sum_all().unwrap().backward().unwrap();
        let gs = (slow * &mix).unwrap().sum_all().unwrap().backward().unwrap();
        close(gf.get(x.as_tensor()).unwrap(), gs.get(x.as_tensor()).unwrap(), "softmax d/dx");

        let fused = gelu_erf(x.as_tensor()).unwrap().unwrap();
        let slow = x.as_tensor().gelu_erf().unwrap();
        close(&fused, &slow, "gelu");
        let gf = (fused * &mix).unwrap().sum_all().unwrap().backward().unwrap();
        let gs = (slow * &mix).unwrap().sum_all().unwrap().backward().unwrap();
        close(gf.get(x.as_tensor()).unwrap(), gs.get(x.as_tensor()).unwrap(), "gelu d/dx");
    }
}
