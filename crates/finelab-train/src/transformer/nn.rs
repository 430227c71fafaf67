//! The layers the encoders are made of, each of which keeps the gradient graph.
//!
//! candle-nn's fused `LayerNorm` and `softmax_last_dim` kernels have no backward pass: a model
//! built on them silently trains only what sits after them (the classification head). Here layer
//! norm and softmax are written from primitive operations, with fused CPU kernels that carry their
//! own backward pass (`fused.rs`) taking over on the CPU; `tests/it/transformer.rs` asserts that every
//! encoder variable receives a non-zero gradient.

use std::sync::Arc;

use candle_core::{DType, Device, Result, Tensor, D};

use super::int8::{Int8Linear, Kernel};

use crate::rng::SplitMix64;

/// A dense layer `y = x Wᵀ + b` with PyTorch's weight layout (`out × in`).
#[derive(Debug, Clone)]
pub struct Linear {
    /// Weight, `out_features × in_features`.
    pub weight: Tensor,
    /// Bias, `out_features`.
    pub bias: Option<Tensor>,
    /// The int8 form of the layer, when the model is quantized for CPU inference (see
    /// [`Linear::quantize_int8`]); it then computes every f32 CPU input.
    pub int8: Option<Arc<Int8Linear>>,
}

impl Linear {
    /// Applies the layer to `x` of shape `(..., in_features)`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if let Some(q) = &self.int8 {
            if x.device().is_cpu() && x.dtype() == DType::F32 {
                return q.forward(x);
            }
        }
        let dims = x.dims().to_vec();
        let in_features = *dims.last().expect("a tensor of rank >= 1");
        let rows: usize = dims[..dims.len() - 1].iter().product();
        let y = x.reshape((rows, in_features))?.matmul(&self.weight.t()?)?;
        let y = match &self.bias {
            Some(b) => y.broadcast_add(b)?,
            None => y,
        };
        let mut out_dims = dims;
        *out_dims.last_mut().expect("rank >= 1") = self.weight.dim(0)?;
        y.reshape(out_dims)
    }

    /// Quantizes the layer's weight to int8 per output feature for `kernel` (inference only:
    /// the int8 form has no gradient).
    pub fn quantize_int8(&mut self, kernel: Kernel) -> Result<()> {
        let (n, k) = self.weight.dims2()?;
        let weight: Vec<f32> = self.weight.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
        let bias: Option<Vec<f32>> = match &self.bias {
            Some(b) => Some(b.to_dtype(DType::F32)?.to_vec1()?),
            None => None,
        };
        self.int8 = Some(Arc::new(Int8Linear::from_f32(&weight, n, k, bias.as_deref(), kernel)));
        Ok(())
    }
}

/// Layer normalization over the last dimension, from primitive operations.
#[derive(Debug, Clone)]
pub struct LayerNorm {
    /// Scale (`gamma`).
    pub weight: Tensor,
    /// Shift (`beta`).
    pub bias: Tensor,
    /// Added to the variance.
    pub eps: f64,
}

impl LayerNorm {
    /// Normalizes `x` over its last dimension, then scales and shifts it.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if is_half(x.dtype()) {
            // Half-precision inputs (mixed-precision compute) are normalized in f32, as
            // torch.autocast does, then cast back.
            let f32_norm = LayerNorm {
                weight: self.weight.to_dtype(DType::F32)?,
                bias: self.bias.to_dtype(DType::F32)?,
                eps: self.eps,
            };
            return f32_norm.forward(&x.to_dtype(DType::F32)?)?.to_dtype(x.dtype());
        }
        if let Some(y) = super::fused::layer_norm(x, &self.weight, &self.bias, self.eps)? {
            return Ok(y);
        }
        let mean = x.mean_keepdim(D::Minus1)?;
        let centered = x.broadcast_sub(&mean)?;
        let var = centered.sqr()?.mean_keepdim(D::Minus1)?;
        let normed = centered.broadcast_div(&(var + self.eps)?.sqrt()?)?;
        normed.broadcast_mul(&self.weight)?.broadcast_add(&self.bias)
    }
}

fn is_half(dtype: DType) -> bool {
    matches!(dtype, DType::BF16 | DType::F16)
}

/// Softmax over the last dimension, keeping the gradient graph: one fused kernel each way on
/// the CPU and CUDA, primitive operations elsewhere.
pub fn softmax_last_dim(x: &Tensor) -> Result<Tensor> {
    if is_half(x.dtype()) {
        // In f32 for half-precision inputs, as torch.autocast does.
        return softmax_last_dim(&x.to_dtype(DType::F32)?)?.to_dtype(x.dtype());
    }
    match super::fused::softmax_last_dim(x)? {
        Some(y) => Ok(y),
        None => softmax_primitive(x),
    }
}

/// Attention probabilities `softmax(scores · scale + bias)`, `scores` `(batch, heads, queries,
/// keys)` and `bias` `(batch, 1, 1, keys)` (from [`attention_bias`], no gradient): one fused
/// kernel each way on CUDA, else scale, add and [`softmax_last_dim`].
pub fn attention_probs(scores: &Tensor, scale: f64, bias: &Tensor) -> Result<Tensor> {
    if let Some(y) = super::fused::attention_softmax(scores, scale, bias)? {
        return Ok(y);
    }
    softmax_last_dim(&(scores * scale)?.broadcast_add(bias)?)
}

/// Softmax over the last dimension from primitive operations.
pub fn softmax_primitive(x: &Tensor) -> Result<Tensor> {
    let max = x.max_keepdim(D::Minus1)?;
    let num = x.broadcast_sub(&max)?.exp()?;
    let den = num.sum_keepdim(D::Minus1)?;
    num.broadcast_div(&den)
}

/// Embedding lookup: the rows `ids` (u32, any shape) of `weight` (`vocab × hidden`), shaped
/// `(ids…, hidden)`. `index_select` on the CPU; on CUDA a fused gather whose backward is a
/// parallel scatter-add (candle's `index_add` walks the ids one after another).
pub fn embedding(weight: &Tensor, ids: &Tensor) -> Result<Tensor> {
    if let Some(y) = super::fused::embedding(weight, ids)? {
        return Ok(y);
    }
    let mut dims = ids.dims().to_vec();
    dims.push(weight.dim(1)?);
    weight.index_select(&ids.flatten_all()?, 0)?.reshape(dims)
}

/// Log-softmax over the last dimension, from primitive operations.
pub fn log_softmax_last_dim(x: &Tensor) -> Result<Tensor> {
    let max = x.max_keepdim(D::Minus1)?;
    let diff = x.broadcast_sub(&max)?;
    let log_sum = diff.exp()?.sum_keepdim(D::Minus1)?.log()?;
    diff.broadcast_sub(&log_sum)
}

/// Where dropout masks come from. Training on the CPU draws them from a seeded generator, so the
/// same seed gives the same run; on a GPU they come from the device's own generator (seeded once
/// per run). Evaluation and inference pass [`Dropout::Off`].
pub enum Dropout<'a> {
    /// No dropout (evaluation, inference).
    Off,
    /// Inverted dropout with masks drawn from this generator.
    Train(&'a mut SplitMix64),
}

impl Dropout<'_> {
    /// Whether dropout is active.
    pub fn training(&self) -> bool {
        matches!(self, Dropout::Train(_))
    }

    /// Zeroes each element with probability `p` and scales the rest by `1 / (1 - p)`.
    pub fn apply(&mut self, x: &Tensor, p: f64) -> Result<Tensor> {
        let rng = match self {
            Dropout::Train(rng) if p > 0.0 => rng,
            _ => return Ok(x.clone()),
        };
        let keep = 1.0 / (1.0 - p) as f32;
        if !x.device().is_cpu() {
            // On a GPU the mask is drawn there (the device's generator, seeded by the caller
            // through `Device::set_seed`): building it on the host and copying it over cost more
            // than the whole step (the attention dropout alone is batch × heads × seq² values).
            let draw = Tensor::rand(0f32, 1f32, x.shape(), x.device())?;
            if let Some(y) = super::fused::dropout(x, &draw, p)? {
                return Ok(y);
            }
            let mask = (draw.ge(p as f32)?.to_dtype(x.dtype())? * keep as f64)?;
            return x.mul(&mask);
        }
        let n = x.elem_count();
        // 24 random bits per element are plenty for a keep/drop decision.
        let threshold = (p * (1u64 << 24) as f64) as u64;
        let mut mask = Vec::with_capacity(n);
        let mut bits = 0u64;
        let mut left = 0;
        for _ in 0..n {
            if left == 0 {
                bits = rng.next_u64();
                left = 2;
            }
            let draw = bits & 0xFF_FFFF;
            bits >>= 32;
            left -= 1;
            mask.push(if draw >= threshold { keep } else { 0.0 });
        }
        let mask = Tensor::from_vec(mask, x.shape(), x.device())?.to_dtype(x.dtype())?;
        x.mul(&mask)
    }
}

/// Normal samples (Box–Muller) from a seeded generator, for weights a checkpoint does not hold.
pub fn normal(rng: &mut SplitMix64, n: usize, std: f64) -> Vec<f32> {
    let mut out = Vec::with_capacity(n + 1);
    while out.len() < n {
        let u1 = ((rng.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
        let u2 = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let r = (-2.0 * u1.ln()).sqrt() * std;
        let theta = 2.0 * std::f64::consts::PI * u2;
        out.push((r * theta.cos()) as f32);
        out.push((r * theta.sin()) as f32);
    }
    out.truncate(n);
    out
}

/// A `(batch, 1, 1, seq)` additive mask: 0 where `attention_mask` is 1, a large negative number
/// where it is 0, so padded positions get no attention.
pub fn attention_bias(attention_mask: &Tensor, dtype: DType) -> Result<Tensor> {
    let (batch, seq) = attention_mask.dims2()?;
    let mask = attention_mask.to_dtype(DType::F32)?;
    let bias = ((mask - 1.0)? * 1e9)?.to_dtype(dtype)?;
    bias.reshape((batch, 1, 1, seq))
}

/// A tensor of `u32` token ids `(rows, cols)` from rows already padded to the same length.
pub fn ids_tensor(rows: &[Vec<u32>], device: &Device) -> Result<Tensor> {
    let cols = rows.first().map_or(0, Vec::len);
    let flat: Vec<u32> = rows.iter().flatten().copied().collect();
    Tensor::from_vec(flat, (rows.len(), cols), device)
}
