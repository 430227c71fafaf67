//! CPU kernels for layer normalization, softmax and the exact GELU, one pass each way, with their backward
//! passes. The primitive-op versions in `nn.rs` allocate a dozen intermediate tensors a call
//! (forward and backward); these allocate one. Other devices, and dtypes other than f32, use the
//! primitive versions. `tests` below check both give the same values and gradients.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor, D};

fn f32_slice<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [f32]> {
    let CpuStorage::F32(data) = s else { candle_core::bail!("{what}: f32 expected") };
    let Some((a, b)) = l.contiguous_offsets() else { candle_core::bail!("{what}: contiguous input expected") };
    Ok(&data[a..b])
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

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout, s3: &CpuStorage, l3: &Layout) -> Result<(CpuStorage, Shape)> {
        let (x, w, b) = (f32_slice(s1, l1, "layer norm")?, f32_slice(s2, l2, "layer norm")?, f32_slice(s3, l3, "layer norm")?);
        let dim = last_dim(l1);
        let mut out = vec![0f32; x.len()];
        for (row, o) in x.chunks_exact(dim).zip(out.chunks_exact_mut(dim)) {
            let (mean, rstd) = row_stats(row, self.eps);
            for i in 0..dim {
                o[i] = (row[i] - mean) * rstd * w[i] + b[i];
            }
        }
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, w: &Tensor, _b: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
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
        for (row, o) in x.chunks_exact(dim).zip(out.chunks_exact_mut(dim)) {
            let (mean, rstd) = row_stats(row, self.eps);
            for i in 0..dim {
                o[i] = (row[i] - mean) * rstd;
            }
        }
        Ok((CpuStorage::F32(out), l.shape().clone()))
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

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout, s3: &CpuStorage, l3: &Layout) -> Result<(CpuStorage, Shape)> {
        let (x, w, g) = (f32_slice(s1, l1, "layer norm grad")?, f32_slice(s2, l2, "layer norm grad")?, f32_slice(s3, l3, "layer norm grad")?);
        let dim = last_dim(l1);
        let mut out = vec![0f32; x.len()];
        let n = dim as f32;
        for ((row, grow), o) in x.chunks_exact(dim).zip(g.chunks_exact(dim)).zip(out.chunks_exact_mut(dim)) {
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
        Ok((CpuStorage::F32(out), l1.shape().clone()))
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
        for (row, o) in x.chunks_exact(dim).zip(out.chunks_exact_mut(dim)) {
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
        Ok((CpuStorage::F32(out), l.shape().clone()))
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
        for ((yr, gr), o) in y.chunks_exact(dim).zip(g.chunks_exact(dim)).zip(out.chunks_exact_mut(dim)) {
            let dot: f32 = yr.iter().zip(gr).map(|(a, b)| a * b).sum();
            for i in 0..dim {
                o[i] = yr[i] * (gr[i] - dot);
            }
        }
        Ok((CpuStorage::F32(out), l1.shape().clone()))
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
        let out: Vec<f32> = x.iter().map(|&v| 0.5 * v * (1.0 + erf(v * FRAC_1_SQRT_2))).collect();
        Ok((CpuStorage::F32(out), l.shape().clone()))
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
        let out: Vec<f32> = x
            .iter()
            .zip(g)
            .map(|(&v, &gv)| {
                let cdf = 0.5 * (1.0 + erf(v * FRAC_1_SQRT_2));
                let pdf = FRAC_1_SQRT_2PI * (-0.5 * v * v).exp();
                gv * (cdf + v * pdf)
            })
            .collect();
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

/// The exact GELU: the fused CPU kernel when it applies, else `None`.
pub(crate) fn gelu_erf(x: &Tensor) -> Result<Option<Tensor>> {
    if !fusable(x) {
        return Ok(None);
    }
    Ok(Some(x.contiguous()?.apply_op1(GeluOp)?))
}

fn fusable(x: &Tensor) -> bool {
    x.device().is_cpu() && x.dtype() == candle_core::DType::F32
}

/// Layer norm over the last dimension: the fused CPU kernel when it applies, else `None`.
pub(crate) fn layer_norm(x: &Tensor, w: &Tensor, b: &Tensor, eps: f64) -> Result<Option<Tensor>> {
    if !fusable(x) {
        return Ok(None);
    }
    Ok(Some(x.contiguous()?.apply_op3(&w.contiguous()?, &b.contiguous()?, LayerNormOp { eps })?))
}

/// Softmax over the last dimension: the fused CPU kernel when it applies, else `None`.
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

    #[test]
    fn fused_kernels_equal_the_primitive_ones_values_and_gradients() {
        let dev = Device::Cpu;
        let x = Var::from_tensor(&(Tensor::randn(0f32, 2.0, (3, 5, 8), &dev).unwrap() + 0.5).unwrap()).unwrap();
        let w = Var::from_tensor(&Tensor::randn(1f32, 0.3, 8, &dev).unwrap()).unwrap();
        let b = Var::from_tensor(&Tensor::randn(0f32, 0.3, 8, &dev).unwrap()).unwrap();
        let mix = Tensor::randn(0f32, 1.0, (3, 5, 8), &dev).unwrap();
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
