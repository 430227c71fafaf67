//! Training and inference speed of the transformer family on one model folder, step by step, for
//! the side-by-side comparison with PyTorch in scripts/bench-transformer.sh:
//!
//!     cargo run --release -p finelab-train --example bench_transformer MODEL_DIR [BATCH] [SEQ] [STEPS] [INFER_BATCH] [DEVICE] [DTYPE]
//!
//! Every training step is what `finelab train` does per batch: forward with dropout,
//! cross-entropy, backward, global-norm clipping, AdamW. Inputs are random token ids of exactly
//! SEQ tokens (special tokens included), so both sides do the same work. DEVICE is `cpu`
//! (default), `cuda` or `auto` (`cuda` needs a build with `--features cuda`); on a GPU every
//! phase ends with a synchronization, so the phase times are the device's. DTYPE is `f32`
//! (default, what `finelab train` does) or `bf16`: mixed precision as `torch.autocast` does it
//! (f32 weights, gradients and AdamW; the model rebuilt each step from the weights cast to bf16
//! through `params::CastView`; layer norm and softmax in f32): a bench-only prototype, not yet an
//! option of `finelab train`. A MODEL_DIR without
//! weights (only `config.json` and the tokenizer files) gives a model of that shape with random
//! weights (seeded), for speed alone. With `BENCH_SMOKE=1` every step trains on the same batch
//! at a learning rate of 1e-4, so the loss must fall (`first_loss` > `last_loss`): a quick check
//! that forward, backward and the optimizer work on a device. Freed memory is held in the allocator
//! as `finelab train` holds it (`BENCH_PURGE=1`: not). Prints one JSON line, with the CPU's
//! name and the GFLOP/s of one feed-forward-shaped matrix product on the device.

use std::path::PathBuf;
use std::time::Instant;

// As in the `finelab` binary: the figures are those of what users run.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use candle_core::{DType, Tensor};
use finelab_train::rng::SplitMix64;
use finelab_train::transformer::model::{BaseModel, Batch, Model};
use finelab_train::transformer::nn::{log_softmax_last_dim, Dropout};
use finelab_train::transformer::optim::{clip_factor, AdamW, AdamWConfig};
use finelab_train::transformer::params::{read_checkpoint, CastView, VarStore};
use finelab_train::transformer::tokenize::{EncodedText, TextEncoder};
use finelab_train::transformer::{device_name, select_device};
use finelab_train::Task;

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").parse::<f64>().unwrap_or(0.0))
        })
        .unwrap_or(0.0)
        / 1024.0
}

/// The processor's name as the kernel reports it, so a figure can be read on another machine.
fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// GFLOP/s of one f32 matrix product of the feed-forward layer's shape (BATCH·SEQ × hidden times
/// hidden × intermediate), the product that dominates a step: the best of five timed products.
fn matmul_gflops(device: &candle_core::Device, m: usize, k: usize, n: usize) -> candle_core::Result<f64> {
    let a = Tensor::randn(0f32, 1.0, (m, k), device)?;
    let b = Tensor::randn(0f32, 1.0, (k, n), device)?;
    let _ = a.matmul(&b)?;
    device.synchronize()?;
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let t0 = Instant::now();
        let _ = a.matmul(&b)?;
        device.synchronize()?;
        best = best.min(t0.elapsed().as_secs_f64());
    }
    Ok(2.0 * (m * k * n) as f64 / best / 1e9)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let dir = PathBuf::from(
        args.get(1).ok_or("usage: bench_transformer MODEL_DIR [BATCH] [SEQ] [STEPS] [INFER_BATCH] [DEVICE] [DTYPE]")?,
    );
    let arg = |i: usize, d: usize| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    let (batch_size, seq, steps, infer_batch) = (arg(2, 16), arg(3, 64), arg(4, 10), arg(5, 32));
    let device = select_device(args.get(6).map_or("cpu", String::as_str))?;
    if !device.is_cpu() {
        device.set_seed(42)?;
    }
    let sync = || device.synchronize();
    let half = match args.get(7).map_or("f32", String::as_str) {
        "f32" => false,
        "bf16" => true,
        other => return Err(format!("DTYPE {other:?}: expected f32 or bf16").into()),
    };
    // As `finelab train` does for the whole run (`finelab_train::memory`); `BENCH_PURGE=1` leaves
    // mimalloc purging freed pages as it does outside training, to measure what the hold buys.
    let purge = std::env::var("BENCH_PURGE").is_ok_and(|v| v == "1");
    let _memory = (!purge).then(finelab_train::memory::hold);
    let base = BaseModel::open(&dir)?;
    let encoder = TextEncoder::load(&dir, seq)?;
    let mut store = VarStore::new(&device, 1);
    let model = Model::build(&mut store, &base, Task::Single, 2)?;
    let has_weights = dir.join("model.safetensors").is_file() || dir.join("pytorch_model.bin").is_file();
    if has_weights {
        let (checkpoint, path) = read_checkpoint(&dir)?;
        store.load(&checkpoint, &path, base.family.prefix(), Model::fresh_prefixes())?;
    }
    let vars = store.params().iter().map(|p| (p.var.clone(), p.decay)).collect();
    let smoke = std::env::var("BENCH_SMOKE").is_ok_and(|v| v == "1");
    let lr = if smoke { 1e-4 } else { 5e-5 };
    let mut opt = AdamW::new(vars, AdamWConfig { lr, weight_decay: 0.01, ..AdamWConfig::default() })?;
    let specials = encoder.specials();
    let mut rng = SplitMix64::new(42);
    let vocab = base.config.vocab_size as u64;
    let random_text = |rng: &mut SplitMix64| -> EncodedText {
        let mut ids = vec![specials.cls];
        ids.extend((0..seq - 2).map(|_| 1000 + (rng.next_u64() % (vocab - 1000)) as u32));
        ids.push(specials.sep);
        EncodedText { offsets: vec![None; ids.len()], ids, truncated: false }
    };
    let mut dropout_rng = SplitMix64::new(7);
    let (mut t_fwd, mut t_bwd, mut t_opt) = (0.0, 0.0, 0.0);
    let warmup = 2;
    let mut losses = Vec::new();
    for step in 0..warmup + steps {
        if smoke && step > 0 {
            rng = SplitMix64::new(42);
        }
        let texts: Vec<EncodedText> = (0..batch_size).map(|_| random_text(&mut rng)).collect();
        let refs: Vec<&EncodedText> = texts.iter().collect();
        let labels: Vec<u32> = (0..batch_size).map(|_| (rng.next_u64() % 2) as u32).collect();
        let t0 = Instant::now();
        let batch = Batch::new(&refs, specials, base.position_offset(), &device)?;
        let cast_model;
        let step_model = if half {
            cast_model = Model::build(&mut CastView::new(&store, DType::BF16, false), &base, Task::Single, 2)?;
            &cast_model
        } else {
            &model
        };
        let logits = step_model.logits(&batch, &mut Dropout::Train(&mut dropout_rng))?.to_dtype(DType::F32)?;
        let targets = Tensor::from_vec(labels, (batch_size, 1), &device)?;
        let loss = (log_softmax_last_dim(&logits)?.gather(&targets, 1)?.sum_all()?.neg()? / batch_size as f64)?;
        let loss_value = loss.to_scalar::<f32>()?;
        let t1 = Instant::now();
        let mut grads = loss.backward()?;
        let grads: Vec<Option<Tensor>> = store.params().iter().map(|p| grads.remove(p.var.as_tensor())).collect();
        sync()?;
        let t2 = Instant::now();
        let (factor, _) = clip_factor(&grads, 1.0)?;
        opt.step(&grads, lr, factor)?;
        sync()?;
        let t3 = Instant::now();
        if step == 0 || step + 1 == warmup + steps {
            losses.push(loss_value);
        }
        if step >= warmup {
            t_fwd += (t1 - t0).as_secs_f64();
            t_bwd += (t2 - t1).as_secs_f64();
            t_opt += (t3 - t2).as_secs_f64();
        }
    }
    let train_rss = peak_rss_mb();
    let step_s = (t_fwd + t_bwd + t_opt) / steps as f64;

    let eval_model = if half {
        Model::build(&mut CastView::new(&store, DType::BF16, true), &base, Task::Single, 2)?
    } else {
        Model::build(&mut store.detached(), &base, Task::Single, 2)?
    };
    let infer_steps = steps.max(3);
    let mut t_inf = 0.0;
    for step in 0..1 + infer_steps {
        let texts: Vec<EncodedText> = (0..infer_batch).map(|_| random_text(&mut rng)).collect();
        let refs: Vec<&EncodedText> = texts.iter().collect();
        let t0 = Instant::now();
        let batch = Batch::new(&refs, specials, base.position_offset(), &device)?;
        let logits = eval_model.logits(&batch, &mut Dropout::Off)?;
        let _ = logits.to_dtype(DType::F32)?.to_vec2::<f32>()?;
        if step >= 1 {
            t_inf += t0.elapsed().as_secs_f64();
        }
    }
    let (hidden, intermediate) = (base.config.hidden_size, base.config.intermediate_size);
    let gflops = matmul_gflops(&device, batch_size * seq, hidden, intermediate)?;
    let record = serde_json::json!({
        "impl": "finelab (candle)",
        "cpu": cpu_model(), "matmul_shape": [batch_size * seq, hidden, intermediate], "matmul_gflops": gflops,
        "device": device_name(&device), "dtype": if half { "bf16" } else { "f32" },
        "weights": if has_weights { "checkpoint" } else { "random" },
        "fused_cuda_kernels": device.is_cuda() && finelab_train::transformer::cuda_kernels_enabled(),
        "smoke": smoke, "memory_held": !purge, "first_loss": losses.first(), "last_loss": losses.last(),
        "threads": candle_core::utils::get_num_threads(),
        "batch": batch_size, "seq": seq, "steps": steps, "n_weights": store.n_weights(),
        "forward_ms": 1e3 * t_fwd / steps as f64, "backward_ms": 1e3 * t_bwd / steps as f64, "optimizer_ms": 1e3 * t_opt / steps as f64,
        "train_samples_per_s": batch_size as f64 / step_s,
        "infer_batch": infer_batch, "infer_samples_per_s": (infer_batch * infer_steps) as f64 / t_inf,
        "peak_rss_mb_train": train_rss,
    });
    println!("{record}");
    Ok(())
}
