//! Layer pruning: a fine-tuned encoder folder made smaller by keeping only its first layers, as a
//! Hugging Face folder the transformer family fine-tunes again (its head starts afresh). The
//! lower layers carry most of what a classifier needs; a brief re-fine-tuning recovers much of
//! the rest (Sajjad et al., "On the effect of dropping layers of pre-trained transformer models").

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use serde_json::Value;

use crate::error::{Error, Result};

/// The files of a model folder that describe the tokenizer (copied as they are).
const TOKENIZER_FILES: &[&str] =
    &["tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json", "sentencepiece.bpe.model"];

/// The layer a weight belongs to (`...layer.3.attention...` → 3), if it is a layer's.
pub(crate) fn layer_of(name: &str) -> Option<usize> {
    let rest = &name[name.find(".layer.")? + ".layer.".len()..];
    rest.split('.').next()?.parse().ok()
}

/// Writes `out` (which must not exist or be empty): the encoder of `src` with its first `keep`
/// layers (config.json's `num_hidden_layers`, or DistilBERT's `n_layers`, set to `keep`; the
/// other layers' weights left out of `model.safetensors`), the tokenizer files copied. Returns
/// the number of layers `src` had.
pub fn prune_layers(src: &Path, out: &Path, keep: usize) -> Result<usize> {
    let config_path = src.join("config.json");
    let text = std::fs::read_to_string(&config_path).map_err(|e| Error::io(&config_path, e))?;
    let mut config: Value = serde_json::from_str(&text)
        .map_err(|e| Error::ModelFolder { path: config_path.clone(), message: e.to_string() })?;
    let key = if config.get("n_layers").is_some() { "n_layers" } else { "num_hidden_layers" };
    let layers = config[key].as_u64().ok_or_else(|| Error::ModelFolder {
        path: config_path.clone(),
        message: format!("no {key}: not an encoder Finelab can prune"),
    })? as usize;
    if keep == 0 || keep >= layers {
        return Err(Error::InvalidConfig {
            field: "layers",
            message: format!("keep between 1 and {} of the model's {layers} layers", layers.saturating_sub(1)),
        });
    }
    let weights_path = src.join("model.safetensors");
    let tensors = candle_core::safetensors::load(&weights_path, &Device::Cpu)
        .map_err(|e| Error::CorruptModel { path: weights_path.clone(), message: e.to_string() })?;
    let kept: HashMap<String, Tensor> =
        tensors.into_iter().filter(|(name, _)| layer_of(name).is_none_or(|l| l < keep)).collect();
    if out.exists() && std::fs::read_dir(out).map_err(|e| Error::io(out, e))?.next().is_some() {
        return Err(Error::ModelFolder { path: out.to_path_buf(), message: "the folder is not empty".into() });
    }
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    config[key] = Value::from(keep as u64);
    let out_config = out.join("config.json");
    std::fs::write(&out_config, serde_json::to_vec_pretty(&config).expect("a config serializes"))
        .map_err(|e| Error::io(&out_config, e))?;
    for file in TOKENIZER_FILES {
        let from = src.join(file);
        if from.is_file() {
            std::fs::copy(&from, out.join(file)).map_err(|e| Error::io(&from, e))?;
        }
    }
    let out_weights = out.join("model.safetensors");
    candle_core::safetensors::save(&kept, &out_weights)
        .map_err(|e| Error::CorruptModel { path: out_weights.clone(), message: e.to_string() })?;
    Ok(layers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_by_layer() {
        assert_eq!(layer_of("bert.encoder.layer.3.attention.self.query.weight"), Some(3));
        assert_eq!(layer_of("distilbert.transformer.layer.11.ffn.lin1.bias"), Some(11));
        assert_eq!(layer_of("bert.embeddings.word_embeddings.weight"), None);
        assert_eq!(layer_of("classifier.weight"), None);
    }
}
