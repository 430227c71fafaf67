//! Int8 quantization of a fine-tuned encoder: a model folder whose encoder layers' dense
//! weights (and word embeddings) are stored as int8 with one scale per row, which
//! [`TransformerPredictor`] runs on the CPU with the integer kernels of [`super::int8`], scored
//! on the same dev and test examples as its parent.
//!
//! The folder keeps the parent's `config.json`, tokenizer and head; `model.safetensors` holds
//! `NAME` as I8 beside `NAME_scale` (f32, one a row) for each quantized weight, and
//! `finelab-model.json` says `"quantization": "int8"`. Dequantized (`q · scale`) it is an
//! ordinary checkpoint: the GPU and `transformers` see f32 weights rounded to 8 bits.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Tensor};

use super::int8::quantize_rows;
use super::params::{read_checkpoint, INT8_SCALE_SUFFIX};
use super::prune::layer_of;
use super::{encode_item, evaluate, write_file, ModelMeta, TransformerPredictor, MODEL_FILE};
use crate::config::TrainConfig;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::family::Evaluation;

/// `finelab-model.json`'s `quantization` of an int8 folder.
pub const INT8: &str = "int8";

/// Whether a weight is stored as int8: a matrix inside an encoder layer (the dense layers; layer
/// norms are vectors), or the word embeddings (looked up, not multiplied: stored small, used as
/// f32).
fn stored_as_int8(name: &str, dims: &[usize]) -> bool {
    dims.len() == 2
        && name.ends_with(".weight")
        && (layer_of(name).is_some() || name.ends_with("word_embeddings.weight"))
}

/// Writes `out` (new or empty): the fine-tuned transformer folder `src` with its dense encoder
/// weights and word embeddings quantized to int8 per row. Returns the number of weights
/// quantized.
pub fn write_int8_folder(src: &Path, out: &Path) -> Result<usize> {
    let meta_path = src.join(MODEL_FILE);
    let text = std::fs::read_to_string(&meta_path).map_err(|e| Error::io(&meta_path, e))?;
    let mut meta: ModelMeta = serde_json::from_str(&text)
        .map_err(|e| Error::CorruptModel { path: meta_path.clone(), message: e.to_string() })?;
    if meta.quantization.is_some() {
        return Err(Error::ModelFolder { path: src.to_path_buf(), message: "the model is quantized already".into() });
    }
    if out.exists() && std::fs::read_dir(out).map_err(|e| Error::io(out, e))?.next().is_some() {
        return Err(Error::ModelFolder { path: out.to_path_buf(), message: "the folder is not empty".into() });
    }
    let (tensors, weights_path) = read_checkpoint(src)?;
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    for entry in std::fs::read_dir(src).map_err(|e| Error::io(src, e))? {
        let entry = entry.map_err(|e| Error::io(src, e))?;
        let name = entry.file_name();
        let skip = ["model.safetensors", "pytorch_model.bin", MODEL_FILE].iter().any(|s| name == *s);
        if !skip && entry.path().is_file() {
            std::fs::copy(entry.path(), out.join(&name)).map_err(|e| Error::io(entry.path(), e))?;
        }
    }
    let corrupt = |e: candle_core::Error| Error::CorruptModel { path: weights_path.clone(), message: e.to_string() };
    let mut names: Vec<&String> = tensors.keys().collect();
    names.sort();
    // (name, dtype, shape, bytes)
    let mut stored: Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    let mut quantized = 0;
    for name in names {
        let t: &Tensor = &tensors[name];
        let dims = t.dims().to_vec();
        let values: Vec<f32> = t.to_dtype(DType::F32).and_then(|t| t.flatten_all()?.to_vec1()).map_err(corrupt)?;
        if stored_as_int8(name, &dims) {
            let (q, scales) = quantize_rows(&values, dims[1]);
            stored.push((name.clone(), safetensors::Dtype::I8, dims.clone(), q.iter().map(|&v| v as u8).collect()));
            let scale_bytes = scales.iter().flat_map(|v| v.to_le_bytes()).collect();
            stored.push((format!("{name}{INT8_SCALE_SUFFIX}"), safetensors::Dtype::F32, vec![dims[0]], scale_bytes));
            quantized += 1;
        } else {
            stored.push((
                name.clone(),
                safetensors::Dtype::F32,
                dims,
                values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ));
        }
    }
    let out_weights = out.join("model.safetensors");
    let views = stored
        .iter()
        .map(|(name, dtype, shape, bytes)| {
            safetensors::tensor::TensorView::new(*dtype, shape.clone(), bytes)
                .map(|v| (name.clone(), v))
                .map_err(|e| Error::CorruptModel { path: out_weights.clone(), message: e.to_string() })
        })
        .collect::<Result<Vec<_>>>()?;
    let metadata: HashMap<String, String> =
        [("format".to_string(), "pt".to_string()), ("quantization".to_string(), INT8.to_string())].into();
    safetensors::tensor::serialize_to_file(views, Some(metadata), &out_weights)
        .map_err(|e| Error::CorruptModel { path: out_weights.clone(), message: format!("cannot write it: {e}") })?;
    meta.quantization = Some(INT8.into());
    meta.device = "cpu".into();
    write_file(&out.join(MODEL_FILE), serde_json::to_string_pretty(&meta).expect("metadata serializes").as_bytes())?;
    Ok(quantized)
}

/// How a quantized folder scored (see [`quantize_and_score`]).
pub struct Scored {
    /// The parent's best epoch.
    pub best_epoch: usize,
    /// Report on the dev split (train when dev is empty).
    pub dev: serde_json::Value,
    /// Report on the test split, when there is one.
    pub test: Option<serde_json::Value>,
    /// Whether train stood in for an empty dev split.
    pub dev_is_train: bool,
}

/// Quantizes the fine-tuned folder `config.base_model` into `out_dir` ([`write_int8_folder`]),
/// then scores the folder as written (loaded back, run by the CPU's integer kernels) on
/// `dataset`'s dev and test splits with the parent's thresholds. The dataset's task and labels
/// must be the parent's.
pub fn quantize_and_score(dataset: &Dataset, config: &TrainConfig, out_dir: &Path) -> Result<Scored> {
    let parent = config.base_model.as_deref().ok_or(Error::InvalidConfig {
        field: "base_model",
        message: "quantizing needs the fine-tuned model folder".into(),
    })?;
    let parent_model = TransformerPredictor::load_on(parent, "cpu")?;
    if parent_model.task() != dataset.task || parent_model.labels() != dataset.labels.as_slice() {
        return Err(Error::ModelFolder {
            path: parent.to_path_buf(),
            message: format!(
                "the model predicts {:?} {:?}; the project now has {:?} {:?}: train again before quantizing",
                parent_model.task(),
                parent_model.labels(),
                dataset.task,
                dataset.labels
            ),
        });
    }
    drop(parent_model);
    write_int8_folder(parent, out_dir)?;
    let model = TransformerPredictor::load_on(out_dir, "cpu")?;
    let score = |examples: &[crate::data::Example]| -> Result<Evaluation> {
        let items =
            examples.iter().map(|e| encode_item(&model.encoder, &dataset.labels, e)).collect::<Result<Vec<_>>>()?;
        let (report, _) = evaluate(
            &model.model,
            &model.base,
            &model.encoder,
            dataset.task,
            &dataset.labels,
            examples,
            &items,
            false,
            &model.meta.thresholds,
            &model.device,
        )?;
        Ok(Evaluation::of(&report))
    };
    let dev_is_train = dataset.dev.is_empty();
    let dev = score(if dev_is_train { &dataset.train } else { &dataset.dev })?;
    let test = if dataset.test.is_empty() { None } else { Some(score(&dataset.test)?.report) };
    Ok(Scored { best_epoch: model.meta.best_epoch, dev: dev.report, test, dev_is_train })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_layers_and_word_embeddings_are_stored_as_int8() {
        assert!(stored_as_int8("bert.encoder.layer.0.attention.self.query.weight", &[8, 8]));
        assert!(stored_as_int8("distilbert.transformer.layer.2.ffn.lin1.weight", &[16, 8]));
        assert!(stored_as_int8("bert.embeddings.word_embeddings.weight", &[100, 8]));
        assert!(!stored_as_int8("bert.encoder.layer.0.attention.self.query.bias", &[8]));
        assert!(!stored_as_int8("bert.encoder.layer.0.output.LayerNorm.weight", &[8]));
        assert!(!stored_as_int8("bert.embeddings.position_embeddings.weight", &[512, 8]));
        assert!(!stored_as_int8("classifier.weight", &[2, 8]));
        assert!(!stored_as_int8("bert.pooler.dense.weight", &[8, 8]));
    }
}
