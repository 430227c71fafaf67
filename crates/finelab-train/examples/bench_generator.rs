//! Training and generation speed of the generator family at a real model's shape, with random
//! weights (no download): a Qwen2.5-0.5B-shaped decoder (width 896, 14 query / 2 key-value heads,
//! 151,936-token vocabulary tied to the output layer) with LAYERS layers, LoRA r=16 on every
//! projection, batches of BATCH sequences of SEQ tokens whose second half is the target:
//!
//!     cargo run --release -p finelab-train --example bench_generator [LAYERS] [BATCH] [SEQ] [STEPS]
//!
//! Each step is what training does per batch: forward with LoRA, the loss in chunks over the
//! vocabulary, backward, clipping, AdamW on the adapters. Then 32 tokens are generated greedily
//! with the KV cache for each of BATCH prompts. Prints one JSON line with the timings and the
//! process's peak resident memory after training and at the end. The first step is a warm-up, left
//! out of the mean. The PyTorch side is `scripts/reference/bench_generator_torch.py`.
//! `LORA_DROPOUT` sets the adapters' dropout (default 0.05).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use finelab_train::generator::generate::{generate_ids, GenerateOptions};
use finelab_train::generator::model::{causal_mask, BaseModel, CausalLm, LoraSpec, Tuning, DEFAULT_TARGETS};
use finelab_train::generator::{chunk_rows, chunked_loss};
use finelab_train::rng::SplitMix64;
use finelab_train::transformer::nn::Dropout;
use finelab_train::transformer::optim::{clip_factor, AdamW, AdamWConfig};
use serde_json::json;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn arg(i: usize, default: usize) -> usize {
    std::env::args().nth(i).and_then(|a| a.parse().ok()).unwrap_or(default)
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (layers, batch, seq, steps) = (arg(1, 2), arg(2, 2), arg(3, 256), arg(4, 3));
    let (hidden, inter, heads, kv, vocab) = (896usize, 4864usize, 14usize, 2usize, 151_936usize);
    let d = hidden / heads;
    let dir = std::env::temp_dir().join(format!("finelab-bench-generator-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let config = json!({
        "model_type": "qwen2", "vocab_size": vocab, "hidden_size": hidden, "intermediate_size": inter,
        "num_hidden_layers": layers, "num_attention_heads": heads, "num_key_value_heads": kv,
        "max_position_embeddings": 32768, "rms_norm_eps": 1e-6, "rope_theta": 1_000_000.0,
        "tie_word_embeddings": true, "hidden_act": "silu",
    });
    std::fs::write(dir.join("config.json"), config.to_string())?;
    let base = BaseModel::open(&dir)?;
    let mut rng = SplitMix64::new(1);
    let mut weights: HashMap<String, Tensor> = HashMap::new();
    let random = |weights: &mut HashMap<String, Tensor>, name: String, shape: &[usize]| -> candle_core::Result<()> {
        weights.insert(name, Tensor::randn(0f32, 0.02, shape, &Device::Cpu)?);
        Ok(())
    };
    random(&mut weights, "model.embed_tokens.weight".into(), &[vocab, hidden])?;
    for l in 0..layers {
        let p = format!("model.layers.{l}");
        for (n, s) in [
            ("self_attn.q_proj", [heads * d, hidden]),
            ("self_attn.k_proj", [kv * d, hidden]),
            ("self_attn.v_proj", [kv * d, hidden]),
            ("self_attn.o_proj", [hidden, heads * d]),
            ("mlp.gate_proj", [inter, hidden]),
            ("mlp.up_proj", [inter, hidden]),
            ("mlp.down_proj", [hidden, inter]),
        ] {
            random(&mut weights, format!("{p}.{n}.weight"), &s)?;
        }
        for n in ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"] {
            let out = if n.contains("q_proj") { heads * d } else { kv * d };
            random(&mut weights, format!("{p}.{n}.bias"), &[out])?;
        }
        for n in ["input_layernorm", "post_attention_layernorm"] {
            weights.insert(format!("{p}.{n}.weight"), Tensor::ones(hidden, DType::F32, &Device::Cpu)?);
        }
    }
    weights.insert("model.norm.weight".into(), Tensor::ones(hidden, DType::F32, &Device::Cpu)?);
    let spec = LoraSpec {
        rank: 16,
        alpha: 32.0,
        dropout: std::env::var("LORA_DROPOUT").ok().and_then(|v| v.parse().ok()).unwrap_or(0.05),
        targets: DEFAULT_TARGETS.iter().map(|t| t.to_string()).collect(),
    };
    let model = CausalLm::load(&base, &weights, Tuning::Lora(spec), &Device::Cpu, 1)?;
    drop(weights);
    let _ = std::fs::remove_dir_all(PathBuf::from(&dir));
    let vars = model.params().iter().map(|p| (p.var.clone(), p.decay)).collect();
    let mut optimizer = AdamW::new(vars, AdamWConfig { lr: 2e-4, weight_decay: 0.0, ..AdamWConfig::default() })?;
    let ids: Vec<u32> = (0..batch * seq).map(|_| rng.below(vocab) as u32).collect();
    let input = Tensor::from_vec(ids.clone(), (batch, seq), &Device::Cpu)?;
    let positions =
        Tensor::from_vec((0..batch).flat_map(|_| 0..seq as u32).collect::<Vec<_>>(), (batch, seq), &Device::Cpu)?;
    let mask = causal_mask(1, seq, 0, None, &Device::Cpu)?;
    let (mut rows, mut targets) = (Vec::new(), Vec::new());
    for b in 0..batch {
        for t in seq / 2..seq {
            rows.push((b * seq + t - 1) as u32);
            targets.push(ids[b * seq + t]);
        }
    }
    let mut dropout_rng = SplitMix64::new(2);
    let mut step_secs = Vec::new();
    for _ in 0..steps {
        let started = Instant::now();
        let hidden = model.forward(&input, &positions, &mask, None, &mut Dropout::Train(&mut dropout_rng))?;
        let scale = 1.0 / rows.len() as f64;
        let (_, grads) = chunked_loss(&model, &hidden, &rows, &targets, Some(scale), chunk_rows(vocab))?;
        let (factor, _) = clip_factor(&grads, 1.0)?;
        optimizer.step(&grads, 2e-4, factor)?;
        step_secs.push(started.elapsed().as_secs_f64());
    }
    let train_rss_mb = peak_rss_mb();
    let prompts: Vec<Vec<u32>> = (0..batch).map(|b| ids[b * seq..b * seq + seq / 2].to_vec()).collect();
    let started = Instant::now();
    let generated = generate_ids(
        &model,
        &prompts,
        &[u32::MAX],
        0,
        &GenerateOptions { max_new_tokens: 32, ..Default::default() },
        &|_| false,
    )?;
    let gen_secs = started.elapsed().as_secs_f64();
    let n_new: usize = generated.iter().map(|g| g.ids.len()).sum();
    let mean_step = step_secs.iter().skip(1).sum::<f64>() / (step_secs.len().max(2) - 1) as f64;
    println!(
        "{}",
        json!({
            "layers": layers, "batch": batch, "seq": seq, "steps": steps,
            "step_secs": step_secs, "train_tokens_per_sec": (batch * seq) as f64 / mean_step,
            "generate_secs": gen_secs, "generated_tokens_per_sec": n_new as f64 / gen_secs,
            "peak_rss_mb_train": train_rss_mb, "peak_rss_mb": peak_rss_mb(),
            "rayon_num_threads": std::env::var("RAYON_NUM_THREADS").ok(),
        })
    );
    Ok(())
}
