//! The generator's model folders: the LoRA adapter in PEFT's layout (`adapter_config.json`,
//! `adapter_model.safetensors` with PEFT's tensor names) that `peft` loads onto the base model,
//! a full Hugging Face folder (full fine-tuning), and a merged Hugging Face folder (the adapters
//! folded into the weights) that `transformers` loads unchanged.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use serde_json::{json, Value};

use super::model::{BaseModel, CausalLm, LoraSpec, Tuning};
use super::ModelMeta;
use crate::config::TrainConfig;
use crate::error::{Error, Result};
use crate::transformer::save_safetensors;

/// PEFT's adapter config file.
pub const ADAPTER_CONFIG: &str = "adapter_config.json";
/// PEFT's adapter weights file.
pub const ADAPTER_WEIGHTS: &str = "adapter_model.safetensors";

/// Tokenizer and generation files copied from the base folder as they are.
const SIDE_FILES: &[&str] = &[
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "generation_config.json",
    "chat_template.jinja",
    "vocab.json",
    "merges.txt",
];

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|e| Error::io(path, e))
}

/// Copies the tokenizer and generation files of the folder `from` that exist into `to` (an
/// adapter exported on its own carries them, as PEFT's `save_pretrained` beside a tokenizer does).
pub fn copy_side_files(from: &Path, to: &Path) -> Result<()> {
    for name in SIDE_FILES {
        let src = from.join(name);
        if src.is_file() && src != to.join(name) {
            std::fs::copy(&src, to.join(name)).map_err(|e| Error::io(to.join(name), e))?;
        }
    }
    Ok(())
}

fn pt_metadata() -> HashMap<String, String> {
    [("format".to_string(), "pt".to_string())].into_iter().collect()
}

fn on_cpu(tensors: Vec<(String, Tensor)>) -> candle_core::Result<Vec<(String, Tensor)>> {
    tensors.into_iter().map(|(n, t)| Ok((n, t.to_device(&Device::Cpu)?.contiguous()?))).collect()
}

/// Writes the PEFT adapter of `model` (trained with `spec` over the folder `base_dir`) into `dir`.
pub fn write_adapter(dir: &Path, model: &CausalLm, spec: &LoraSpec, base_dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let config = json!({
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "base_model_name_or_path": base_dir.to_string_lossy(),
        "r": spec.rank,
        "lora_alpha": spec.alpha,
        "lora_dropout": spec.dropout,
        "target_modules": spec.targets,
        "bias": "none",
        "fan_in_fan_out": false,
        "inference_mode": true,
        "init_lora_weights": true,
        "modules_to_save": null,
        "layers_to_transform": null,
        "layers_pattern": null,
        "rank_pattern": {},
        "alpha_pattern": {},
        "use_rslora": false,
        "use_dora": false,
        "revision": null,
    });
    write(&dir.join(ADAPTER_CONFIG), &serde_json::to_string_pretty(&config).expect("json"))?;
    let tensors: Vec<(String, Tensor)> =
        model.params().iter().map(|p| (p.name.clone(), p.var.as_tensor().clone())).collect();
    save_safetensors(&dir.join(ADAPTER_WEIGHTS), &on_cpu(tensors)?, pt_metadata())
}

/// Reads the LoRA settings of a PEFT `adapter_config.json` in `dir`.
pub fn read_adapter_config(dir: &Path) -> Result<LoraSpec> {
    let path = dir.join(ADAPTER_CONFIG);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let bad = |message: String| Error::CorruptModel { path: path.clone(), message };
    let v: Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let rank = v["r"].as_u64().ok_or_else(|| bad("no r".into()))? as usize;
    let alpha = v["lora_alpha"].as_f64().ok_or_else(|| bad("no lora_alpha".into()))?;
    let targets: Vec<String> = match &v["target_modules"] {
        Value::Array(a) => a.iter().filter_map(Value::as_str).map(String::from).collect(),
        _ => return Err(bad("target_modules must be a list".into())),
    };
    Ok(LoraSpec { rank, alpha, dropout: v["lora_dropout"].as_f64().unwrap_or(0.0), targets })
}

/// Writes a Hugging Face folder of `model` with the adapters folded into the weights: `config.json`
/// (the base's, in float32), `model.safetensors` and the tokenizer files of `base`.
pub fn write_merged(dir: &Path, model: &CausalLm, base: &BaseModel, tokenizer_dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut config = base.raw_config.clone();
    if let Some(obj) = config.as_object_mut() {
        obj.insert("architectures".into(), json!([base.arch.class_name()]));
        obj.insert("torch_dtype".into(), json!("float32"));
        obj.remove("_name_or_path");
        obj.remove("quantization_config");
    }
    write(&dir.join("config.json"), &serde_json::to_string_pretty(&config).expect("json"))?;
    copy_side_files(&base.dir, dir)?;
    copy_side_files(tokenizer_dir, dir)?;
    let tensors = on_cpu(model.merged_weights()?)?;
    save_safetensors(&dir.join("model.safetensors"), &tensors, pt_metadata())
}

/// Writes the model folder of a training run: the PEFT adapter (LoRA) or the full Hugging Face
/// folder (full fine-tuning), the tokenizer files, and `finelab-model.json` last.
pub(crate) fn save_model(
    dir: &Path,
    meta: &ModelMeta,
    base: &BaseModel,
    model: &CausalLm,
    _config: &TrainConfig,
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    match model.tuning() {
        Tuning::Lora(spec) => {
            write_adapter(dir, model, spec, &base.dir)?;
            copy_side_files(&base.dir, dir)?;
        }
        _ => write_merged(dir, model, base, &base.dir)?,
    }
    let text = serde_json::to_string_pretty(meta).expect("model metadata serializes");
    write(&dir.join(crate::family::MODEL_FILE), &text)
}
