//! AdamW with a linear warm-up and decay schedule and global-norm gradient clipping — the same
//! numbers as PyTorch's `torch.optim.AdamW`, `transformers.get_linear_schedule_with_warmup` and
//! `torch.nn.utils.clip_grad_norm_` (checked in `tests/it/transformer_optim.rs` against values that
//! `scripts/reference/adamw_reference.py` computed with PyTorch).
//!
//! On the CPU the update is one fused pass over each variable's memory, in place; on NVIDIA GPUs
//! (the `cuda` feature) one kernel launch per variable (`kernels.cu`, the same arithmetic);
//! elsewhere, and on CUDA when `FINELAB_CUDA_KERNELS=0`, it is written with tensor operations.

use std::sync::Mutex;

use candle_core::{CpuStorage, Device, Layout, Tensor, Var};

/// Hyper-parameters of AdamW.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamWConfig {
    /// Peak learning rate.
    pub lr: f64,
    /// β₁.
    pub beta1: f64,
    /// β₂.
    pub beta2: f64,
    /// ε.
    pub eps: f64,
    /// Decoupled weight decay.
    pub weight_decay: f64,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.01 }
    }
}

/// `transformers.get_linear_schedule_with_warmup`: the factor applied to the peak learning rate
/// at optimizer step `step` (0-based: the first update uses `step = 0`).
pub fn linear_schedule(step: usize, warmup_steps: usize, total_steps: usize) -> f64 {
    if step < warmup_steps {
        return step as f64 / warmup_steps.max(1) as f64;
    }
    let left = total_steps.saturating_sub(step) as f64;
    (left / total_steps.saturating_sub(warmup_steps).max(1) as f64).max(0.0)
}

#[cfg(feature = "cuda")]
type CudaMoments = candle_core::cuda_backend::cudarc::driver::CudaSlice<f32>;

/// Moment estimates of one variable.
enum State {
    /// CPU: plain vectors, updated by the fused kernel.
    Cpu(Mutex<(Vec<f32>, Vec<f32>)>),
    /// CUDA: device buffers, updated by the fused kernel.
    #[cfg(feature = "cuda")]
    Cuda(Mutex<(CudaMoments, CudaMoments)>),
    /// Other devices: tensors.
    Tensors { m: Var, v: Var },
}

/// AdamW over a fixed list of variables.
pub struct AdamW {
    vars: Vec<(Var, bool)>,
    state: Vec<State>,
    /// Hyper-parameters.
    pub config: AdamWConfig,
    step: usize,
}

/// The moments a fused step updates.
enum Moments<'a> {
    Cpu(&'a Mutex<(Vec<f32>, Vec<f32>)>),
    #[cfg(feature = "cuda")]
    Cuda(&'a Mutex<(CudaMoments, CudaMoments)>),
}

struct FusedStep<'a> {
    state: Moments<'a>,
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    decay: f32,
    bias_correction1: f32,
    bias_correction2_sqrt: f32,
    grad_scale: f32,
}

impl candle_core::InplaceOp2 for FusedStep<'_> {
    fn name(&self) -> &'static str {
        "adamw-step"
    }

    fn cpu_fwd(&self, param: &mut CpuStorage, pl: &Layout, grad: &CpuStorage, gl: &Layout) -> candle_core::Result<()> {
        let (CpuStorage::F32(p), CpuStorage::F32(g)) = (param, grad) else {
            candle_core::bail!("adamw: f32 parameters and gradients expected")
        };
        let (Some((p0, p1)), Some((g0, g1))) = (pl.contiguous_offsets(), gl.contiguous_offsets()) else {
            candle_core::bail!("adamw: contiguous parameters and gradients expected")
        };
        let (p, g) = (&mut p[p0..p1], &g[g0..g1]);
        #[allow(irrefutable_let_patterns)]
        let Moments::Cpu(state) = &self.state
        else {
            candle_core::bail!("adamw: CPU moments expected")
        };
        let mut guard = state.lock().expect("adamw state lock");
        let (m, v) = &mut *guard;
        let step_size = self.lr / self.bias_correction1;
        let keep = 1.0 - self.lr * self.decay;
        for i in 0..p.len() {
            let gi = g[i] * self.grad_scale;
            let mi = self.beta1 * m[i] + (1.0 - self.beta1) * gi;
            let vi = self.beta2 * v[i] + (1.0 - self.beta2) * gi * gi;
            m[i] = mi;
            v[i] = vi;
            let denom = vi.sqrt() / self.bias_correction2_sqrt + self.eps;
            p[i] = p[i] * keep - step_size * mi / denom;
        }
        Ok(())
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        param: &mut candle_core::CudaStorage,
        pl: &Layout,
        grad: &candle_core::CudaStorage,
        gl: &Layout,
    ) -> candle_core::Result<()> {
        use candle_core::cuda_backend::cudarc::driver::{LaunchConfig, PushKernelArg};
        use candle_core::cuda_backend::WrapErr;
        let Moments::Cuda(state) = &self.state else { candle_core::bail!("adamw: CUDA moments expected") };
        let (Some((p0, p1)), Some((g0, g1))) = (pl.contiguous_offsets(), gl.contiguous_offsets()) else {
            candle_core::bail!("adamw: contiguous parameters and gradients expected")
        };
        let dev = param.device.clone();
        let g = grad.as_cuda_slice::<f32>()?.slice(g0..g1);
        let mut p = param.as_cuda_slice_mut::<f32>()?.slice_mut(p0..p1);
        let mut guard = state.lock().expect("adamw state lock");
        let (m, v) = &mut *guard;
        let n = (p1 - p0) as u32;
        if m.len() != n as usize || g1 - g0 != n as usize {
            candle_core::bail!("adamw: {} values, {} gradients, {} moments", n, g1 - g0, m.len())
        }
        let step_size = self.lr / self.bias_correction1;
        let keep = 1.0 - self.lr * self.decay;
        let f = dev.get_or_load_custom_func("finelab_adamw", super::fused::gpu::MODULE, super::fused::gpu::PTX)?;
        let mut b = f.builder();
        b.arg(&mut p);
        b.arg(&g);
        b.arg(m);
        b.arg(v);
        b.arg(&n);
        b.arg(&self.beta1);
        b.arg(&self.beta2);
        b.arg(&self.eps);
        b.arg(&keep);
        b.arg(&step_size);
        b.arg(&self.bias_correction2_sqrt);
        b.arg(&self.grad_scale);
        // SAFETY: the arguments match `finelab_adamw` in kernels.cu; all buffers hold `n` values.
        unsafe { b.launch(LaunchConfig::for_num_elems(n)) }.w()?;
        Ok(())
    }
}

impl AdamW {
    /// An optimizer for `vars`; each comes with whether weight decay applies to it.
    pub fn new(vars: Vec<(Var, bool)>, config: AdamWConfig) -> candle_core::Result<AdamW> {
        let state = vars
            .iter()
            .map(|(var, _)| {
                Ok(match var.device() {
                    Device::Cpu => State::Cpu(Mutex::new((vec![0.0; var.elem_count()], vec![0.0; var.elem_count()]))),
                    #[cfg(feature = "cuda")]
                    Device::Cuda(dev)
                        if var.dtype() == candle_core::DType::F32 && super::fused::cuda_kernels_enabled() =>
                    {
                        State::Cuda(Mutex::new((
                            dev.alloc_zeros::<f32>(var.elem_count())?,
                            dev.alloc_zeros::<f32>(var.elem_count())?,
                        )))
                    }
                    _ => State::Tensors {
                        m: Var::zeros(var.shape(), var.dtype(), var.device())?,
                        v: Var::zeros(var.shape(), var.dtype(), var.device())?,
                    },
                })
            })
            .collect::<candle_core::Result<_>>()?;
        Ok(AdamW { vars, state, config, step: 0 })
    }

    /// Optimizer steps taken.
    pub fn steps(&self) -> usize {
        self.step
    }

    /// One update with learning rate `lr` and the gradients `grads` (one per variable, in order;
    /// `None` for a variable the loss does not reach, which is then left alone as PyTorch leaves
    /// a parameter whose `.grad` is `None`), each multiplied by `grad_scale` first (clipping).
    pub fn step(&mut self, grads: &[Option<Tensor>], lr: f64, grad_scale: f64) -> candle_core::Result<()> {
        self.step += 1;
        let c = self.config;
        let t = self.step as i32;
        let bias_correction1 = 1.0 - c.beta1.powi(t);
        let bias_correction2 = 1.0 - c.beta2.powi(t);
        for (((var, decay), state), grad) in self.vars.iter().zip(&self.state).zip(grads) {
            let Some(grad) = grad else { continue };
            let wd = if *decay { c.weight_decay } else { 0.0 };
            let fused = match state {
                State::Cpu(state) => Some(Moments::Cpu(state)),
                #[cfg(feature = "cuda")]
                State::Cuda(state) => Some(Moments::Cuda(state)),
                State::Tensors { .. } => None,
            };
            match (fused, state) {
                (Some(moments), _) => {
                    let op = FusedStep {
                        state: moments,
                        lr: lr as f32,
                        beta1: c.beta1 as f32,
                        beta2: c.beta2 as f32,
                        eps: c.eps as f32,
                        decay: wd as f32,
                        bias_correction1: bias_correction1 as f32,
                        bias_correction2_sqrt: bias_correction2.sqrt() as f32,
                        grad_scale: grad_scale as f32,
                    };
                    let grad = grad.contiguous()?;
                    var.as_tensor().inplace_op2(&grad, &op)?;
                }
                (None, State::Tensors { m, v }) => {
                    let grad = (grad * grad_scale)?;
                    let m_next = ((m.as_tensor() * c.beta1)? + (&grad * (1.0 - c.beta1))?)?;
                    let v_next = ((v.as_tensor() * c.beta2)? + (grad.sqr()? * (1.0 - c.beta2))?)?;
                    let denom = ((v_next.sqrt()? / bias_correction2.sqrt())? + c.eps)?;
                    let update = ((&m_next / denom)? * (lr / bias_correction1))?;
                    let next = ((var.as_tensor() * (1.0 - lr * wd))? - update)?;
                    m.set(&m_next)?;
                    v.set(&v_next)?;
                    var.set(&next)?;
                }
                (None, _) => unreachable!("fused moments have a fused step"),
            }
        }
        Ok(())
    }
}

/// `clip_grad_norm_`'s factor: `max_norm / (total_norm + 1e-6)` when that is below 1, else 1;
/// also returns the total (L2) norm of all gradients.
pub fn clip_factor(grads: &[Option<Tensor>], max_norm: f64) -> candle_core::Result<(f64, f64)> {
    // Each gradient's sum of squares stays on its device; the sums come back in one copy (one
    // synchronization on a GPU, not one per tensor) and add up in f64, in order.
    let sum_of_squares = |g: &Tensor| -> candle_core::Result<Tensor> {
        let sq = g.sqr()?;
        if g.device().is_cpu() || g.rank() < 2 {
            return sq.sum_all();
        }
        // On a GPU a whole-tensor sum runs in one block: rows first, then their sums.
        sq.flatten_to(g.rank() - 2)?.sum(candle_core::D::Minus1)?.sum_all()
    };
    let sums = grads.iter().flatten().map(sum_of_squares).collect::<candle_core::Result<Vec<_>>>()?;
    let sum: f64 = if sums.is_empty() {
        0.0
    } else {
        Tensor::stack(&sums, 0)?.to_dtype(candle_core::DType::F64)?.to_vec1::<f64>()?.iter().sum()
    };
    let norm = sum.sqrt();
    if max_norm <= 0.0 {
        return Ok((1.0, norm));
    }
    let factor = max_norm / (norm + 1e-6);
    Ok((factor.min(1.0), norm))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_matches_transformers() {
        // get_linear_schedule_with_warmup(num_warmup_steps=2, num_training_steps=10)
        let got: Vec<f64> = (0..12).map(|s| linear_schedule(s, 2, 10)).collect();
        let want = [0.0, 0.5, 1.0, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.125, 0.0, 0.0];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-12, "{got:?}");
        }
        assert_eq!(linear_schedule(0, 0, 4), 1.0);
    }
}
