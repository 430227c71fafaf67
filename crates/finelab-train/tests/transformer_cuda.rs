//! The fused CUDA kernels (`src/transformer/kernels.cu`: layer norm, softmax, exact GELU and their
//! backward passes) give the values and gradients of the primitive-op formulas on the same GPU and
//! of the fused CPU kernels; dropout draws its masks on the GPU. This file is built only with the
//! `cuda` feature (`required-features` in Cargo.toml), for a GPU machine: there, a missing GPU is
//! a failure, never a pass.

use candle_core::{Device, Tensor, Var, D};
use finelab_train::rng::SplitMix64;
use finelab_train::transformer::bert::Activation;
use finelab_train::transformer::nn::{softmax_last_dim, softmax_primitive, Dropout, LayerNorm};

fn cuda() -> Option<Device> {
    match Device::new_cuda(0) {
        Ok(d) => Some(d),
        Err(e) => panic!("these tests need a CUDA GPU and found none: {e}"),
    }
}

fn values(t: &Tensor) -> Vec<f32> {
    t.to_device(&Device::Cpu).unwrap().flatten_all().unwrap().to_vec1().unwrap()
}

fn close(a: &Tensor, b: &Tensor, what: &str) {
    let (a, b) = (values(a), values(b));
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!((x - y).abs() <= 1e-5 + 1e-4 * y.abs(), "{what}[{i}]: {x} vs {y}");
    }
}

/// Random inputs on the CPU, copied to `dev` (rows of 384 like MiniLM's hidden states and of 77,
/// a width that is no multiple of the block).
fn inputs(dev: &Device, dim: usize) -> (Var, Var, Var, Tensor) {
    let cpu = Device::Cpu;
    let x = (Tensor::randn(0f32, 2.0, (3, 5, dim), &cpu).unwrap() + 0.5).unwrap();
    let w = Tensor::randn(1f32, 0.3, dim, &cpu).unwrap();
    let b = Tensor::randn(0f32, 0.3, dim, &cpu).unwrap();
    let mix = Tensor::randn(0f32, 1.0, (3, 5, dim), &cpu).unwrap();
    let on = |t: &Tensor| Var::from_tensor(&t.to_device(dev).unwrap()).unwrap();
    (on(&x), on(&w), on(&b), mix.to_device(dev).unwrap())
}

#[test]
fn cuda_kernels_equal_the_primitive_ops_and_the_cpu_kernels() {
    let Some(gpu) = cuda() else { return };
    eprintln!("fused CUDA kernels enabled: {}", finelab_train::transformer::cuda_kernels_enabled());
    for dim in [384, 77, 1536] {
        let (x, w, b, mix) = inputs(&gpu, dim);
        let ln = LayerNorm { weight: w.as_tensor().clone(), bias: b.as_tensor().clone(), eps: 1e-12 };
        let primitive_ln = |x: &Tensor| -> candle_core::Result<Tensor> {
            let mean = x.mean_keepdim(D::Minus1)?;
            let c = x.broadcast_sub(&mean)?;
            let var = c.sqr()?.mean_keepdim(D::Minus1)?;
            c.broadcast_div(&(var + 1e-12)?.sqrt()?)?.broadcast_mul(w.as_tensor())?.broadcast_add(b.as_tensor())
        };
        let fused = ln.forward(x.as_tensor()).unwrap();
        let slow = primitive_ln(x.as_tensor()).unwrap();
        close(&fused, &slow, &format!("layer norm {dim}"));
        let gf = (&fused * &mix).unwrap().sum_all().unwrap().backward().unwrap();
        let gs = (&slow * &mix).unwrap().sum_all().unwrap().backward().unwrap();
        for (v, name) in [(&x, "d/dx"), (&w, "d/dw"), (&b, "d/db")] {
            close(gf.get(v.as_tensor()).unwrap(), gs.get(v.as_tensor()).unwrap(), &format!("layer norm {dim} {name}"));
        }

        let fused = softmax_last_dim(x.as_tensor()).unwrap();
        let slow = softmax_primitive(x.as_tensor()).unwrap();
        close(&fused, &slow, &format!("softmax {dim}"));
        let gf = (&fused * &mix).unwrap().sum_all().unwrap().backward().unwrap();
        let gs = (&slow * &mix).unwrap().sum_all().unwrap().backward().unwrap();
        close(gf.get(x.as_tensor()).unwrap(), gs.get(x.as_tensor()).unwrap(), &format!("softmax {dim} d/dx"));

        let fused = Activation::GeluErf.forward(x.as_tensor()).unwrap();
        let slow = x.as_tensor().gelu_erf().unwrap();
        close(&fused, &slow, &format!("gelu {dim}"));
        let gf = (&fused * &mix).unwrap().sum_all().unwrap().backward().unwrap();
        let gs = (&slow * &mix).unwrap().sum_all().unwrap().backward().unwrap();
        close(gf.get(x.as_tensor()).unwrap(), gs.get(x.as_tensor()).unwrap(), &format!("gelu {dim} d/dx"));

        // The same inputs through the CPU kernels.
        let cpu = |t: &Tensor| t.to_device(&Device::Cpu).unwrap();
        let ln_cpu = LayerNorm { weight: cpu(w.as_tensor()), bias: cpu(b.as_tensor()), eps: 1e-12 };
        close(
            &ln.forward(x.as_tensor()).unwrap(),
            &ln_cpu.forward(&cpu(x.as_tensor())).unwrap(),
            &format!("layer norm {dim} vs CPU"),
        );
        close(
            &softmax_last_dim(x.as_tensor()).unwrap(),
            &softmax_last_dim(&cpu(x.as_tensor())).unwrap(),
            &format!("softmax {dim} vs CPU"),
        );
        close(
            &Activation::GeluErf.forward(x.as_tensor()).unwrap(),
            &Activation::GeluErf.forward(&cpu(x.as_tensor())).unwrap(),
            &format!("gelu {dim} vs CPU"),
        );
    }
}

#[test]
fn dropout_on_cuda_drops_about_p_and_scales_the_rest() {
    let Some(gpu) = cuda() else { return };
    gpu.set_seed(3).unwrap();
    let x = Tensor::ones((64, 1024), candle_core::DType::F32, &gpu).unwrap();
    let mut rng = SplitMix64::new(1);
    let y = values(&Dropout::Train(&mut rng).apply(&x, 0.1).unwrap());
    let dropped = y.iter().filter(|v| **v == 0.0).count() as f64 / y.len() as f64;
    assert!((dropped - 0.1).abs() < 0.01, "dropped {dropped}");
    assert!(y.iter().all(|v| *v == 0.0 || (v - 1.0 / 0.9).abs() < 1e-6));
}

#[test]
fn cuda_embedding_equals_index_select_values_and_gradients() {
    let Some(gpu) = cuda() else { return };
    let cpu = Device::Cpu;
    let (vocab, hidden) = (1000, 384);
    let w =
        Var::from_tensor(&Tensor::randn(0f32, 1.0, (vocab, hidden), &cpu).unwrap().to_device(&gpu).unwrap()).unwrap();
    // Repeated ids, so the scatter-add has to add up several rows.
    let ids: Vec<u32> = (0..4096u32).map(|i| (i * 7919) % 300).collect();
    let ids = Tensor::from_vec(ids, (32, 128), &gpu).unwrap();
    let mix = Tensor::randn(0f32, 1.0, (32, 128, hidden), &cpu).unwrap().to_device(&gpu).unwrap();
    let fused = finelab_train::transformer::nn::embedding(w.as_tensor(), &ids).unwrap();
    let slow = w.as_tensor().index_select(&ids.flatten_all().unwrap(), 0).unwrap().reshape((32, 128, hidden)).unwrap();
    close(&fused, &slow, "embedding");
    let gf = (&fused * &mix).unwrap().sum_all().unwrap().backward().unwrap();
    let gs = (&slow * &mix).unwrap().sum_all().unwrap().backward().unwrap();
    close(gf.get(w.as_tensor()).unwrap(), gs.get(w.as_tensor()).unwrap(), "embedding d/dw");
}

#[test]
fn cuda_attention_probs_equal_scale_add_softmax_values_and_gradients() {
    let Some(gpu) = cuda() else { return };
    let cpu = Device::Cpu;
    let scores =
        Var::from_tensor(&Tensor::randn(0f32, 3.0, (2, 3, 5, 7), &cpu).unwrap().to_device(&gpu).unwrap()).unwrap();
    // Second row: last two keys are padding.
    let mask = Tensor::new(&[[1u32, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0, 0]], &gpu).unwrap();
    let bias = finelab_train::transformer::nn::attention_bias(&mask, candle_core::DType::F32).unwrap();
    let mix = Tensor::randn(0f32, 1.0, (2, 3, 5, 7), &cpu).unwrap().to_device(&gpu).unwrap();
    let scale = 0.125;
    let fused = finelab_train::transformer::nn::attention_probs(scores.as_tensor(), scale, &bias).unwrap();
    let slow = softmax_primitive(&(scores.as_tensor() * scale).unwrap().broadcast_add(&bias).unwrap()).unwrap();
    close(&fused, &slow, "attention probs");
    let gf = (&fused * &mix).unwrap().sum_all().unwrap().backward().unwrap();
    let gs = (&slow * &mix).unwrap().sum_all().unwrap().backward().unwrap();
    close(gf.get(scores.as_tensor()).unwrap(), gs.get(scores.as_tensor()).unwrap(), "attention probs d/dscores");
}

#[test]
fn cuda_dropout_gradient_is_the_same_mask() {
    let Some(gpu) = cuda() else { return };
    gpu.set_seed(5).unwrap();
    let x = Var::from_tensor(&Tensor::ones((8, 1000), candle_core::DType::F32, &gpu).unwrap()).unwrap();
    let mut rng = SplitMix64::new(1);
    let y = Dropout::Train(&mut rng).apply(x.as_tensor(), 0.2).unwrap();
    let grads = y.sum_all().unwrap().backward().unwrap();
    // With x = 1, y is the mask times 1 / (1 - p), and so is d(sum y)/dx.
    close(grads.get(x.as_tensor()).unwrap(), &y, "dropout d/dx");
}
