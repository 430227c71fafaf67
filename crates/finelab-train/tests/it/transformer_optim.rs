//! AdamW, the linear warm-up/decay schedule and global-norm clipping against PyTorch: the
//! reference run is `scripts/reference/adamw_reference.py`, its output kept beside this test in
//! `tests/data/adamw_reference.json`.

use candle_core::{Device, Tensor, Var};
use finelab_train::transformer::optim::{clip_factor, linear_schedule, AdamW, AdamWConfig};
use serde_json::Value;

fn floats(v: &Value) -> Vec<f32> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

fn run(device: &Device) {
    let reference: Value = serde_json::from_str(include_str!("../data/adamw_reference.json")).expect("reference JSON");
    let names = ["w", "b", "e"];
    let shape = |n: &str| -> Vec<usize> {
        reference["shapes"][n].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect()
    };
    let vars: Vec<Var> = names
        .iter()
        .map(|n| {
            Var::from_tensor(&Tensor::from_vec(floats(&reference["init"][*n]), shape(n), device).unwrap()).unwrap()
        })
        .collect();
    let config = AdamWConfig {
        lr: reference["lr"].as_f64().unwrap(),
        beta1: reference["betas"][0].as_f64().unwrap(),
        beta2: reference["betas"][1].as_f64().unwrap(),
        eps: reference["eps"].as_f64().unwrap(),
        weight_decay: reference["weight_decay"].as_f64().unwrap(),
    };
    let decay: Vec<bool> = names.iter().map(|n| reference["decay"][*n].as_bool().unwrap()).collect();
    let mut opt = AdamW::new(vars.iter().cloned().zip(decay).collect(), config).unwrap();
    let total = reference["total_steps"].as_u64().unwrap() as usize;
    let warmup = reference["warmup_steps"].as_u64().unwrap() as usize;
    let max_norm = reference["max_grad_norm"].as_f64().unwrap();
    for (step, want) in reference["steps"].as_array().unwrap().iter().enumerate() {
        let grads: Vec<Option<Tensor>> = names
            .iter()
            .map(|n| Some(Tensor::from_vec(floats(&want["grads"][*n]), shape(n), device).unwrap()))
            .collect();
        let (factor, norm) = clip_factor(&grads, max_norm).unwrap();
        let want_norm = want["grad_norm"].as_f64().unwrap();
        assert!((norm - want_norm).abs() < 1e-5 * want_norm.max(1.0), "step {step}: norm {norm} vs {want_norm}");
        let lr = config.lr * linear_schedule(step, warmup, total);
        let want_lr = want["lr"].as_f64().unwrap();
        assert!((lr - want_lr).abs() < 1e-12, "step {step}: lr {lr} vs {want_lr}");
        opt.step(&grads, lr, factor).unwrap();
        for (n, var) in names.iter().zip(&vars) {
            let got: Vec<f32> = var.as_tensor().flatten_all().unwrap().to_vec1().unwrap();
            let want = floats(&want["params"][*n]);
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!((g - w).abs() <= 1e-6 + 1e-5 * w.abs(), "step {step}, {n}[{i}]: {g} vs PyTorch {w}");
            }
        }
    }
}

#[test]
fn adamw_with_schedule_and_clipping_matches_pytorch() {
    run(&Device::Cpu);
}

#[test]
fn a_variable_without_gradient_is_left_alone() {
    let var = Var::from_tensor(&Tensor::new(&[1.0f32, 2.0], &Device::Cpu).unwrap()).unwrap();
    let mut opt = AdamW::new(vec![(var.clone(), true)], AdamWConfig::default()).unwrap();
    opt.step(&[None], 0.1, 1.0).unwrap();
    assert_eq!(var.as_tensor().to_vec1::<f32>().unwrap(), vec![1.0, 2.0]);
}

/// The fused CUDA AdamW (and the single-copy clipping norm) against the same PyTorch reference.
/// Compiled only in a CUDA build, which is made for a GPU machine: there, no GPU is a failure.
#[cfg(feature = "cuda")]
#[test]
fn adamw_on_cuda_matches_pytorch() {
    match Device::new_cuda(0) {
        Ok(device) => run(&device),
        Err(e) => panic!("this test needs a CUDA GPU and found none: {e}"),
    }
}
