//! Training options: raw as they come from a form or flags ([`TrainOptions`]), validated once
//! into a [`TrainConfig`] that the code below trusts.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::device::check_device;
use crate::error::{Error, Result};
use crate::family::{GENERATOR, INSTANT, TRANSFORMER};

/// Raw training options; every field is optional and falls back to a default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainOptions {
    /// Model family name: "instant", "transformer" or "generator".
    pub family: Option<String>,
    /// Base model folder (Hugging Face layout) of the transformer family.
    pub base_model: Option<PathBuf>,
    /// Longest input in tokens, special tokens included (transformer).
    pub max_len: Option<usize>,
    /// Share of the optimizer steps spent warming the learning rate up (transformer).
    pub warmup_ratio: Option<f64>,
    /// AdamW's decoupled weight decay (transformer).
    pub weight_decay: Option<f64>,
    /// Gradients are scaled down to this global L2 norm; 0 turns clipping off (transformer).
    pub max_grad_norm: Option<f64>,
    /// Batches whose gradients are summed before each optimizer step (transformer).
    pub grad_accum: Option<usize>,
    /// Weigh classes by n / (k · n_c) in the loss (transformer, single-label and spans).
    pub class_weights: Option<bool>,
    /// Maximum number of passes over the train split.
    pub epochs: Option<usize>,
    /// Learning rate (AdaGrad's for instant, AdamW's peak for transformer).
    pub lr: Option<f64>,
    /// Seed for shuffling; the same seed gives the same model.
    pub seed: Option<u64>,
    /// L2 penalty on the weights touched by each update.
    pub l2: Option<f64>,
    /// Epochs without dev macro-F1 improvement before stopping.
    pub patience: Option<usize>,
    /// Examples per gradient step.
    pub batch_size: Option<usize>,
    /// log2 of the size of the hashed feature space.
    pub hash_bits: Option<u32>,
    /// Longest character n-gram used as a feature.
    pub max_char_ngram: Option<usize>,
    /// Requested device: "auto", "cpu", "cuda" or "metal" (the instant family runs on the CPU).
    pub device: Option<String>,
    /// LoRA rank (generator).
    pub lora_rank: Option<usize>,
    /// LoRA alpha; updates are scaled by alpha / rank (generator).
    pub lora_alpha: Option<f64>,
    /// Dropout on the LoRA input (generator).
    pub lora_dropout: Option<f64>,
    /// Projections LoRA goes on, e.g. `["q_proj", "v_proj"]` (generator).
    pub lora_targets: Option<Vec<String>>,
    /// Train every weight instead of LoRA adapters (generator, small models).
    pub full_finetune: Option<bool>,
}

fn default_max_len() -> usize {
    128
}
fn default_grad_accum() -> usize {
    1
}
fn default_lora_rank() -> usize {
    16
}
fn default_lora_alpha() -> f64 {
    32.0
}
fn default_lora_dropout() -> f64 {
    0.05
}
fn default_lora_targets() -> Vec<String> {
    crate::family::LORA_TARGETS.iter().map(|t| t.to_string()).collect()
}

/// A validated training configuration, stored with every model and run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Model family name.
    pub family: String,
    /// Maximum number of epochs.
    pub epochs: usize,
    /// Learning rate (AdaGrad's, or AdamW's peak).
    pub lr: f64,
    /// Shuffling seed.
    pub seed: u64,
    /// L2 penalty.
    pub l2: f64,
    /// Early-stopping patience in epochs.
    pub patience: usize,
    /// Examples per gradient step.
    pub batch_size: usize,
    /// log2 of the hashed feature space size.
    pub hash_bits: u32,
    /// Longest character n-gram.
    pub max_char_ngram: usize,
    /// The device asked for: "cpu" for instant; "auto", "cpu", "cuda" or "metal" for transformer
    /// (the outcome says which one it got).
    pub device: String,
    /// Base model folder (transformer).
    #[serde(default)]
    pub base_model: Option<PathBuf>,
    /// Longest input in tokens, special tokens included (transformer).
    #[serde(default = "default_max_len")]
    pub max_len: usize,
    /// Warm-up share of the optimizer steps (transformer).
    #[serde(default)]
    pub warmup_ratio: f64,
    /// AdamW weight decay (transformer).
    #[serde(default)]
    pub weight_decay: f64,
    /// Global gradient-norm limit, 0 for none (transformer).
    #[serde(default)]
    pub max_grad_norm: f64,
    /// Batches per optimizer step (transformer).
    #[serde(default = "default_grad_accum")]
    pub grad_accum: usize,
    /// Class-weighted loss (transformer).
    #[serde(default)]
    pub class_weights: bool,
    /// LoRA rank (generator).
    #[serde(default = "default_lora_rank")]
    pub lora_rank: usize,
    /// LoRA alpha (generator).
    #[serde(default = "default_lora_alpha")]
    pub lora_alpha: f64,
    /// Dropout on the LoRA input (generator).
    #[serde(default = "default_lora_dropout")]
    pub lora_dropout: f64,
    /// Projections LoRA goes on (generator).
    #[serde(default = "default_lora_targets")]
    pub lora_targets: Vec<String>,
    /// Every weight trains instead of LoRA adapters (generator).
    #[serde(default)]
    pub full_finetune: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            family: INSTANT.into(),
            epochs: 15,
            lr: 0.2,
            seed: 42,
            l2: 0.0,
            patience: 3,
            batch_size: 8,
            hash_bits: 20,
            max_char_ngram: 3,
            device: "cpu".into(),
            base_model: None,
            max_len: default_max_len(),
            warmup_ratio: 0.0,
            weight_decay: 0.0,
            max_grad_norm: 0.0,
            grad_accum: 1,
            class_weights: false,
            lora_rank: default_lora_rank(),
            lora_alpha: default_lora_alpha(),
            lora_dropout: default_lora_dropout(),
            lora_targets: default_lora_targets(),
            full_finetune: false,
        }
    }
}

impl TrainConfig {
    /// Defaults of the transformer family: Hugging Face's usual fine-tuning recipe (AdamW at 5e-5
    /// with 10% warm-up, weight decay 0.01, gradients clipped to norm 1, 3 epochs of batch 16).
    pub fn transformer_defaults() -> TrainConfig {
        TrainConfig {
            family: TRANSFORMER.into(),
            epochs: 3,
            lr: 5e-5,
            patience: 2,
            batch_size: 16,
            device: "auto".into(),
            warmup_ratio: 0.1,
            weight_decay: 0.01,
            max_grad_norm: 1.0,
            ..TrainConfig::default()
        }
    }
}

impl TrainConfig {
    /// Defaults of the generator family: LoRA r=16, alpha=32, dropout 0.05 on every projection,
    /// AdamW at 2e-4 with 3% warm-up, gradients clipped to norm 1, 3 epochs of batch 4, prompts
    /// and targets of up to 1024 tokens (PEFT's and TRL's usual recipe).
    pub fn generator_defaults() -> TrainConfig {
        TrainConfig {
            family: GENERATOR.into(),
            epochs: 3,
            lr: 2e-4,
            patience: 2,
            batch_size: 4,
            device: "auto".into(),
            max_len: 1024,
            warmup_ratio: 0.03,
            weight_decay: 0.0,
            max_grad_norm: 1.0,
            ..TrainConfig::default()
        }
    }

    /// Validates raw options, filling defaults for the ones left out.
    pub fn from_options(options: &TrainOptions) -> Result<TrainConfig> {
        let family = options.family.clone().unwrap_or_else(|| INSTANT.into());
        let generator = family == GENERATOR;
        // Both neural families take a base-model folder and a device.
        let transformer = family == TRANSFORMER || generator;
        if family != INSTANT && !transformer {
            return Err(Error::UnsupportedFamily(family));
        }
        let d = match family.as_str() {
            TRANSFORMER => TrainConfig::transformer_defaults(),
            GENERATOR => TrainConfig::generator_defaults(),
            _ => TrainConfig::default(),
        };
        let invalid = |field: &'static str, message: &str| Error::InvalidConfig { field, message: message.into() };
        let epochs = options.epochs.unwrap_or(d.epochs);
        if !(1..=10_000).contains(&epochs) {
            return Err(invalid("epochs", "must be between 1 and 10000"));
        }
        let lr = options.lr.unwrap_or(d.lr);
        if !(lr.is_finite() && lr > 0.0 && lr <= 100.0) {
            return Err(invalid("lr", "must be a number above 0 and at most 100"));
        }
        let l2 = options.l2.unwrap_or(d.l2);
        if !(l2.is_finite() && (0.0..1.0).contains(&l2)) {
            return Err(invalid("l2", "must be at least 0 and below 1"));
        }
        let patience = options.patience.unwrap_or(d.patience);
        if patience == 0 {
            return Err(invalid("patience", "must be at least 1 epoch"));
        }
        let batch_size = options.batch_size.unwrap_or(d.batch_size);
        if !(1..=65_536).contains(&batch_size) {
            return Err(invalid("batch_size", "must be between 1 and 65536"));
        }
        let hash_bits = options.hash_bits.unwrap_or(d.hash_bits);
        if !(8..=24).contains(&hash_bits) {
            return Err(invalid("hash_bits", "must be between 8 and 24"));
        }
        let max_char_ngram = options.max_char_ngram.unwrap_or(d.max_char_ngram);
        if !(1..=5).contains(&max_char_ngram) {
            return Err(invalid("max_char_ngram", "must be between 1 and 5"));
        }
        let device = match options.device.as_deref().unwrap_or("auto") {
            requested if transformer => {
                check_device(requested)?;
                requested.to_string()
            }
            "auto" | "cpu" => "cpu".to_string(),
            other => {
                return Err(Error::InvalidConfig {
                    field: "device",
                    message: format!(
                        "{other:?} is not available: the instant family runs on the CPU (use auto or cpu)"
                    ),
                })
            }
        };
        let base_model = match (&options.base_model, transformer) {
            (Some(dir), true) => Some(dir.clone()),
            (None, true) => {
                return Err(Error::InvalidConfig {
                    field: "base_model",
                    message: format!("the {family} family needs a base model folder"),
                })
            }
            (_, false) => None,
        };
        let max_len = options.max_len.unwrap_or(d.max_len);
        if !(3..=100_000).contains(&max_len) {
            return Err(invalid("max_len", "must be between 3 and 100000 tokens"));
        }
        let warmup_ratio = options.warmup_ratio.unwrap_or(d.warmup_ratio);
        if !(warmup_ratio.is_finite() && (0.0..=1.0).contains(&warmup_ratio)) {
            return Err(invalid("warmup_ratio", "must be between 0 and 1"));
        }
        let weight_decay = options.weight_decay.unwrap_or(d.weight_decay);
        if !(weight_decay.is_finite() && (0.0..1.0).contains(&weight_decay)) {
            return Err(invalid("weight_decay", "must be at least 0 and below 1"));
        }
        let max_grad_norm = options.max_grad_norm.unwrap_or(d.max_grad_norm);
        if !(max_grad_norm.is_finite() && max_grad_norm >= 0.0) {
            return Err(invalid("max_grad_norm", "must be 0 (no clipping) or above"));
        }
        let grad_accum = options.grad_accum.unwrap_or(d.grad_accum);
        if !(1..=1024).contains(&grad_accum) {
            return Err(invalid("grad_accum", "must be between 1 and 1024"));
        }
        let lora_rank = options.lora_rank.unwrap_or(d.lora_rank);
        if !(1..=1024).contains(&lora_rank) {
            return Err(invalid("lora_rank", "must be between 1 and 1024"));
        }
        let lora_alpha = options.lora_alpha.unwrap_or(d.lora_alpha);
        if !(lora_alpha.is_finite() && lora_alpha > 0.0) {
            return Err(invalid("lora_alpha", "must be a number above 0"));
        }
        let lora_dropout = options.lora_dropout.unwrap_or(d.lora_dropout);
        if !(lora_dropout.is_finite() && (0.0..1.0).contains(&lora_dropout)) {
            return Err(invalid("lora_dropout", "must be at least 0 and below 1"));
        }
        let lora_targets = options.lora_targets.clone().unwrap_or(d.lora_targets);
        let known = crate::family::LORA_TARGETS;
        if lora_targets.is_empty() || lora_targets.iter().any(|t| !known.contains(&t.as_str())) {
            return Err(Error::InvalidConfig {
                field: "lora_targets",
                message: format!("must be one or more of {}", known.join(", ")),
            });
        }
        Ok(TrainConfig {
            family,
            epochs,
            lr,
            seed: options.seed.unwrap_or(d.seed),
            l2,
            patience,
            batch_size,
            hash_bits,
            max_char_ngram,
            device,
            base_model,
            max_len,
            warmup_ratio,
            weight_decay,
            max_grad_norm,
            grad_accum,
            class_weights: options.class_weights.unwrap_or(d.class_weights),
            lora_rank,
            lora_alpha,
            lora_dropout,
            lora_targets,
            full_finetune: options.full_finetune.unwrap_or(d.full_finetune),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(json: &str, expected: std::result::Result<(), &str>) {
        let options: TrainOptions = serde_json::from_str(json).unwrap();
        match (TrainConfig::from_options(&options), expected) {
            (Ok(_), Ok(())) => {}
            (Err(e), Err(fragment)) => assert!(e.to_string().contains(fragment), "{json}: {e}"),
            (got, want) => panic!("{json}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn options_are_validated() {
        check("{}", Ok(()));
        check(r#"{"family":"instant","epochs":3,"lr":0.5,"device":"cpu"}"#, Ok(()));
        check(r#"{"family":"bert"}"#, Err("unknown model family"));
        check(r#"{"epochs":0}"#, Err("epochs"));
        check(r#"{"lr":-1}"#, Err("lr"));
        check(r#"{"l2":2}"#, Err("l2"));
        check(r#"{"patience":0}"#, Err("patience"));
        check(r#"{"batch_size":0}"#, Err("batch_size"));
        check(r#"{"hash_bits":30}"#, Err("hash_bits"));
        check(r#"{"device":"cuda"}"#, Err("runs on the CPU"));
        check(r#"{"family":"transformer"}"#, Err("base model folder"));
        check(r#"{"family":"transformer","base_model":"m","device":"cpu","max_len":64}"#, Ok(()));
        check(r#"{"family":"transformer","base_model":"m","max_len":2}"#, Err("max_len"));
        check(r#"{"family":"transformer","base_model":"m","warmup_ratio":2}"#, Err("warmup_ratio"));
        check(r#"{"family":"transformer","base_model":"m","grad_accum":0}"#, Err("grad_accum"));
        check(r#"{"family":"generator"}"#, Err("generator family needs a base model folder"));
        check(r#"{"family":"generator","base_model":"m","device":"cpu","lora_rank":8}"#, Ok(()));
        check(r#"{"family":"generator","base_model":"m","lora_rank":0}"#, Err("lora_rank"));
        check(r#"{"family":"generator","base_model":"m","lora_dropout":1}"#, Err("lora_dropout"));
        check(r#"{"family":"generator","base_model":"m","lora_targets":["qkv"]}"#, Err("lora_targets"));
        check(r#"{"family":"transformer","base_model":"m","device":"tpu"}"#, Err("expected auto, cpu, cuda or metal"));
        if !cfg!(feature = "cuda") {
            check(r#"{"family":"transformer","base_model":"m","device":"cuda"}"#, Err("without CUDA support"));
        }
    }

    #[test]
    fn defaults_say_cpu() {
        assert_eq!(TrainConfig::from_options(&TrainOptions::default()).unwrap().device, "cpu");
    }
}
