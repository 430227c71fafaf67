//! The negative log-likelihood of target tokens under logits over the vocabulary, one fused pass
//! each way on the CPU.
//!
//! Written from primitive operations (log-softmax, gather), a chunk of rows × 150k logits goes
//! through some twenty element-wise passes forward and backward, each a fresh tensor of the
//! chunk's size: on the CPU that cost more than the output layer's matrix product. The fused
//! kernel reads the logits once forward (max, sum of exponentials, the target's logit) and writes
//! the gradient `g · (softmax − one-hot)` in one pass backward. Other devices use the primitive
//! operations; both give the same values and gradients (`tests` below).

use candle_core::{CpuStorage, CustomOp2, CustomOp3, DType, Layout, Result, Shape, Tensor};

use crate::transformer::nn::log_softmax_last_dim;

fn f32_rows<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [f32]> {
    let CpuStorage::F32(data) = s else { candle_core::bail!("{what}: f32 logits expected") };
    let Some((a, b)) = l.contiguous_offsets() else { candle_core::bail!("{what}: contiguous logits expected") };
    Ok(&data[a..b])
}

fn u32_ids<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [u32]> {
    let CpuStorage::U32(data) = s else { candle_core::bail!("{what}: u32 targets expected") };
    let Some((a, b)) = l.contiguous_offsets() else { candle_core::bail!("{what}: contiguous targets expected") };
    Ok(&data[a..b])
}

/// Runs `f(row index, output row)` over the rows of `out` (`width` values each) on the machine's
/// cores.
fn par_rows(out: &mut [f32], width: usize, f: impl Fn(usize, &mut [f32]) + Sync) {
    let rows = out.len() / width.max(1);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(rows).max(1);
    if threads == 1 || out.len() < 1 << 16 {
        for (r, row) in out.chunks_mut(width.max(1)).enumerate() {
            f(r, row);
        }
        return;
    }
    let per = rows.div_ceil(threads);
    std::thread::scope(|scope| {
        for (t, block) in out.chunks_mut(per * width).enumerate() {
            let f = &f;
            scope.spawn(move || {
                for (i, row) in block.chunks_mut(width).enumerate() {
                    f(t * per + i, row);
                }
            });
        }
    });
}

/// `log Σ exp(row)`, with the row's maximum taken out first.
fn log_sum_exp(row: &[f32]) -> f32 {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f32 = row.iter().map(|v| (v - max).exp()).sum();
    max + sum.ln()
}

/// `nll[r] = logsumexp(logits[r]) − logits[r][target[r]]`.
struct TokenNll;

impl CustomOp2 for TokenNll {
    fn name(&self) -> &'static str {
        "finelab-token-nll"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let logits = f32_rows(s1, l1, "token nll")?;
        let targets = u32_ids(s2, l2, "token nll")?;
        let (rows, vocab) = l1.shape().dims2()?;
        let mut out = vec![0f32; rows];
        par_rows(&mut out, 1, |r, o| {
            let row = &logits[r * vocab..(r + 1) * vocab];
            o[0] = log_sum_exp(row) - row[targets[r] as usize];
        });
        Ok((CpuStorage::F32(out), Shape::from(rows)))
    }

    fn bwd(
        &self,
        logits: &Tensor,
        targets: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let grad = grad.contiguous()?;
        Ok((Some(logits.apply_op3_no_bwd(targets, &grad, &TokenNllGrad)?), None))
    }
}

/// `g[r] · (softmax(logits[r]) − one_hot(target[r]))`.
struct TokenNllGrad;

impl CustomOp3 for TokenNllGrad {
    fn name(&self) -> &'static str {
        "finelab-token-nll-grad"
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
        let logits = f32_rows(s1, l1, "token nll grad")?;
        let targets = u32_ids(s2, l2, "token nll grad")?;
        let grad = f32_rows(s3, l3, "token nll grad")?;
        let (rows, vocab) = l1.shape().dims2()?;
        let mut out = vec![0f32; rows * vocab];
        par_rows(&mut out, vocab, |r, o| {
            let row = &logits[r * vocab..(r + 1) * vocab];
            let lse = log_sum_exp(row);
            let g = grad[r];
            for (oi, x) in o.iter_mut().zip(row) {
                *oi = g * (x - lse).exp();
            }
            o[targets[r] as usize] -= g;
        });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

/// The negative log-likelihood of each row's target: `logits` `(rows, vocab)`, `targets` `(rows,)`
/// u32, result `(rows,)`, with its backward pass to the logits.
pub fn token_nll(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    if logits.device().is_cpu() && logits.dtype() == DType::F32 {
        return logits.contiguous()?.apply_op2(&targets.contiguous()?, TokenNll);
    }
    token_nll_primitive(logits, targets)
}

/// [`token_nll`] from primitive operations (log-softmax, gather).
pub fn token_nll_primitive(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let logp = log_softmax_last_dim(logits)?;
    logp.gather(&targets.unsqueeze(1)?, 1)?.squeeze(1)?.neg()
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Var};

    use super::*;

    #[test]
    fn the_fused_loss_equals_the_primitive_one_with_its_gradient() {
        for (rows, vocab) in [(3, 7), (40, 5000)] {
            let logits = (Tensor::randn(0f32, 3.0, (rows, vocab), &Device::Cpu).unwrap() + 1.0).unwrap();
            let targets: Vec<u32> = (0..rows).map(|r| ((r * 7919) % vocab) as u32).collect();
            let targets = Tensor::from_vec(targets, rows, &Device::Cpu).unwrap();
            let weights = Tensor::randn(0f32, 1.0, rows, &Device::Cpu).unwrap();
            let mut results = Vec::new();
            for fused in [true, false] {
                let var = Var::from_tensor(&logits).unwrap();
                let nll = if fused {
                    token_nll(var.as_tensor(), &targets)
                } else {
                    token_nll_primitive(var.as_tensor(), &targets)
                }
                .unwrap();
                let loss = (&nll * &weights).unwrap().sum_all().unwrap();
                let grad = loss.backward().unwrap().get(var.as_tensor()).unwrap().clone();
                results.push((nll.to_vec1::<f32>().unwrap(), grad.flatten_all().unwrap().to_vec1::<f32>().unwrap()));
            }
            let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-5 * (1.0 + y.abs()));
            assert!(close(&results[0].0, &results[1].0), "values of {rows}x{vocab}");
            assert!(close(&results[0].1, &results[1].1), "gradients of {rows}x{vocab}");
        }
    }
}
