//! Optimise a run: a smaller model made from it, trained as a run of its own that records its
//! parent (`optimized_from`) and is scored on the same dev and test records; and the table of a
//! project's runs by what they cost and what they score: size on disk, CPU inference speed, test
//! macro-F1, and how often a child predicts what its parent predicts.
//!
//! `prune` keeps a transformer run's first encoder layers ([`finelab_train::transformer::prune`])
//! and fine-tunes the pruned encoder again, briefly, on the project's train split. `distill`
//! starts from the same pruned encoder and trains it on the parent's soft predictions over the
//! train split and the unlabeled records ([`crate::distill`]). `int8`
//! quantizes a transformer run's encoder to int8 for the CPU's integer kernels
//! ([`finelab_train::transformer::quantize`]): nothing is trained, the run is scored. `q8_0` and
//! `q4_k_m` quantize a generator run to a GGUF file for llama.cpp and Ollama
//! ([`finelab_train::generator::gguf`]); the run then answers its dev and test dialogs with the
//! same quantized weights.

use crate::jobs::{JobState, Jobs};
use crate::train::{self, OptimizedFrom, TrainRequest};
use crate::{AppError, Result};
use finelab_store::{AnnotationValue, RunRecordsQuery, RunStatus, Split, Store};
use finelab_train::generator::gguf::GgufQuant;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;
use ts_rs::TS;

/// How to optimise a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum OptimizeMethod {
    /// Keep the first encoder layers of a transformer run and fine-tune again.
    Prune,
    /// Quantize a transformer run's dense encoder weights to int8 (per output channel) for CPU
    /// inference, and score it.
    Int8,
    /// Train the first encoder layers of a transformer run on its soft predictions over the
    /// train split and the unlabeled records.
    Distill,
    /// A generator run as GGUF with 8-bit weights (`Q8_0`), for llama.cpp and Ollama.
    #[serde(rename = "q8_0")]
    Q8_0,
    /// A generator run as GGUF with llama.cpp's `Q4_K_M` mix of 4- and 6-bit weights.
    #[serde(rename = "q4_k_m")]
    Q4KM,
}

impl OptimizeMethod {
    /// The name runs record (`optimized_from.method`).
    pub fn as_str(self) -> &'static str {
        match self {
            OptimizeMethod::Prune => "prune",
            OptimizeMethod::Int8 => train::INT8,
            OptimizeMethod::Distill => train::DISTILL,
            OptimizeMethod::Q8_0 => GgufQuant::Q8_0.as_str(),
            OptimizeMethod::Q4KM => GgufQuant::Q4KM.as_str(),
        }
    }

    /// The GGUF quantization of a generator method.
    pub fn gguf(self) -> Option<GgufQuant> {
        match self {
            OptimizeMethod::Q8_0 => Some(GgufQuant::Q8_0),
            OptimizeMethod::Q4KM => Some(GgufQuant::Q4KM),
            _ => None,
        }
    }
}

/// What to optimise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct OptimizeRequest {
    /// The run.
    pub run: String,
    /// How.
    pub method: OptimizeMethod,
    /// Prune, distill: encoder layers to keep (default: half, at least one).
    #[serde(default)]
    #[ts(optional)]
    pub layers: Option<usize>,
    /// Epochs of the new fine-tuning (default 2).
    #[serde(default)]
    #[ts(optional)]
    pub epochs: Option<usize>,
}

/// Layers of a model folder's encoder (config.json's `num_hidden_layers`, or `n_layers`).
fn layers_of(model_dir: &Path) -> Option<usize> {
    let config: serde_json::Value = serde_json::from_slice(&std::fs::read(model_dir.join("config.json")).ok()?).ok()?;
    config.get("num_hidden_layers").or_else(|| config.get("n_layers"))?.as_u64().map(|n| n as usize)
}

/// The training request that makes the optimised model (the pruned folder written first; for
/// int8, a request whose model is the parent's folder, which the run quantizes and scores).
pub fn plan(dir: &Path, request: &OptimizeRequest) -> Result<TrainRequest> {
    let parent = train::run(dir, &request.run)?;
    if !matches!(parent.status, RunStatus::Completed | RunStatus::Cancelled) {
        return Err(AppError::Invalid(format!(
            "run {} is {}: optimise a finished run",
            parent.id,
            parent.status.as_str()
        )));
    }
    let model_dir = dir.join(parent.model_dir.as_deref().unwrap_or_default());
    if let Some(quant) = request.method.gguf() {
        if parent.family != finelab_train::generator::FAMILY {
            return Err(AppError::Unsupported(format!(
                "run {} is a {} run: GGUF export ({}) takes a generator run",
                parent.id,
                parent.family,
                quant.as_str()
            )));
        }
        if let Some(q) = finelab_train::generator::GeneratorModel::quantization(&model_dir) {
            return Err(AppError::Invalid(format!("run {} is quantized to {} already", parent.id, q.as_str())));
        }
        let mut req = TrainRequest::from_run_config(&parent.id, &parent.config)?;
        req.model = model_dir.display().to_string();
        req.device = Some("cpu".into());
        req.background = None;
        req.optimized_from =
            Some(OptimizedFrom { run: parent.id.clone(), method: quant.as_str().into(), layers: None });
        return Ok(req);
    }
    if parent.family != finelab_train::transformer::FAMILY {
        let why = match request.method {
            OptimizeMethod::Q8_0 | OptimizeMethod::Q4KM => unreachable!("GGUF methods return above"),
            OptimizeMethod::Prune => "pruning drops encoder layers",
            OptimizeMethod::Int8 => "int8 quantizes an encoder's dense layers",
            OptimizeMethod::Distill => "distillation trains a student with the first layers of its encoder",
        };
        return Err(AppError::Unsupported(format!(
            "run {} is a {} run: {why}, so it takes a transformer run",
            parent.id, parent.family
        )));
    }
    let model_dir = dir.join(parent.model_dir.as_deref().unwrap_or_default());
    let parent_from: Option<OptimizedFrom> =
        parent.config.get("optimized_from").and_then(|v| serde_json::from_value(v.clone()).ok());
    if parent_from.as_ref().is_some_and(|f| f.method == train::INT8) {
        return Err(AppError::Invalid(format!("run {} is quantized to int8 already", parent.id)));
    }
    if request.method == OptimizeMethod::Int8 {
        let mut req = TrainRequest::from_run_config(&parent.id, &parent.config)?;
        req.model = model_dir.display().to_string();
        req.device = Some("cpu".into());
        req.background = None;
        req.optimized_from = Some(OptimizedFrom { run: parent.id.clone(), method: train::INT8.into(), layers: None });
        return Ok(req);
    }
    let layers = layers_of(&model_dir)
        .ok_or_else(|| AppError::Invalid(format!("{}: no layer count in config.json", model_dir.display())))?;
    let keep = request.layers.unwrap_or((layers / 2).max(1));
    let out = dir.join("models").join(format!("{}-prune-{keep}", parent.id));
    if out.join("model.safetensors").is_file() && layers_of(&out) == Some(keep) {
        // Pruned before (an optimisation started again): the same folder serves.
    } else {
        finelab_train::transformer::prune::prune_layers(&model_dir, &out, keep)?;
    }
    let mut req = TrainRequest::from_run_config(&parent.id, &parent.config)?;
    req.model = out.display().to_string();
    req.epochs = Some(request.epochs.unwrap_or(2));
    req.background = None;
    req.optimized_from =
        Some(OptimizedFrom { run: parent.id.clone(), method: request.method.as_str().into(), layers: Some(keep) });
    Ok(req)
}

/// Starts the optimisation as an ordinary train job (progress, cancel, predictions stored).
pub fn start_optimize(jobs: &Jobs, dir: &Path, request: &OptimizeRequest) -> Result<JobState> {
    let req = plan(dir, request)?;
    crate::training_jobs::start_train(jobs, dir, &req)
}

/// A run of the project by what it costs and scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct RunCost {
    /// The run.
    pub run: String,
    /// Its family.
    pub family: String,
    /// The run it was optimised from, and how.
    pub optimized_from: Option<OptimizedFrom>,
    /// Encoder layers (transformers).
    pub layers: Option<u64>,
    /// Bytes of its model folder.
    pub size_bytes: u64,
    /// Texts a second the model predicts on this machine's CPU (its test texts, batched), when
    /// measured.
    pub samples_per_sec: Option<f64>,
    /// Texts timed.
    pub n_timed: u64,
    /// Test macro-F1 (dev when there is no test split).
    pub macro_f1: Option<f64>,
    /// The split `macro_f1` is of.
    pub split: Option<Split>,
    /// Share of the records both predicted (test, else dev) where it predicts what its parent
    /// predicts (generators: the same answer, word for word).
    pub agreement_with_parent: Option<f64>,
    /// Generators: the mean chrF of the answers (test, else dev).
    #[serde(default)]
    pub chrf: Option<f64>,
    /// Generators quantized to GGUF: the file llama.cpp and Ollama load.
    #[serde(default)]
    pub gguf: Option<PathBuf>,
}

/// Bytes of the weights a model folder runs with: its GGUF export when it has one (what is
/// deployed), the base model's weights with a LoRA adapter (which holds only the adapter), else the
/// folder.
fn model_bytes(model_dir: &Path) -> (u64, Option<PathBuf>) {
    if let Some(quant) = finelab_train::generator::GeneratorModel::quantization(model_dir) {
        let file = model_dir.join(quant.file_name());
        if let Ok(m) = std::fs::metadata(&file) {
            return (m.len(), Some(file));
        }
    }
    let meta: Option<serde_json::Value> = std::fs::read(model_dir.join(finelab_train::instant::MODEL_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let adapter_over =
        meta.as_ref().filter(|m| m["family"] == finelab_train::generator::FAMILY && m["full_finetune"] == false);
    let base = adapter_over.and_then(|m| m["base_model"].as_str()).map(PathBuf::from);
    let base_weights = base
        .map(|b| {
            let Ok(entries) = std::fs::read_dir(&b) else { return 0 };
            entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".safetensors"))
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0);
    (base_weights + folder_bytes(model_dir), None)
}

fn folder_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => folder_bytes(&e.path()),
            _ => e.metadata().map(|m| m.len()).unwrap_or(0),
        })
        .sum()
}

/// The finished runs of the project in `dir` (completed, or cancelled with the model they kept)
/// with their costs; with `speed`, each model's CPU
/// inference speed is measured on up to `max_texts` of the split's texts (which takes a while for
/// transformers).
pub fn run_costs(dir: &Path, speed: bool, max_texts: usize) -> Result<Vec<RunCost>> {
    let store = Store::open(dir)?;
    let rows: Vec<_> = store
        .runs()?
        .into_iter()
        .filter(|r| matches!(r.status, RunStatus::Completed | RunStatus::Cancelled) && r.model_dir.is_some())
        .collect();
    let predictions = |run: &str, split: Split| -> Result<HashMap<i64, AnnotationValue>> {
        let query = RunRecordsQuery { split: Some(split), limit: Some(1000), ..RunRecordsQuery::default() };
        let mut out = HashMap::new();
        let mut offset = 0u64;
        loop {
            let page = store.run_records(run, &RunRecordsQuery { offset: Some(offset), ..query.clone() })?;
            let n = page.rows.len() as u64;
            out.extend(page.rows.into_iter().map(|r| (r.record.seq, r.predicted)));
            offset += n;
            if n == 0 || offset >= page.total {
                return Ok(out);
            }
        }
    };
    let mut out = Vec::new();
    for row in rows {
        let model_dir: PathBuf = dir.join(row.model_dir.as_deref().unwrap_or_default());
        let split = if row.n_test > 0 { Split::Test } else { Split::Dev };
        let report = if split == Split::Test { &row.test_report } else { &row.dev_report };
        let macro_f1 = report.as_ref().and_then(|r| r["macro avg"]["f1-score"].as_f64());
        let chrf = report.as_ref().and_then(|r| r["chrf"].as_f64());
        let generator = row.family == finelab_train::generator::FAMILY;
        let optimized_from: Option<OptimizedFrom> =
            row.config.get("optimized_from").and_then(|v| serde_json::from_value(v.clone()).ok());
        let agreement_with_parent = match &optimized_from {
            Some(from) => {
                let mine = predictions(&row.id, split)?;
                let theirs = predictions(&from.run, split)?;
                let both: Vec<(&AnnotationValue, &AnnotationValue)> =
                    mine.iter().filter_map(|(seq, v)| Some((v, theirs.get(seq)?))).collect();
                (!both.is_empty()).then(|| both.iter().filter(|(a, b)| a == b).count() as f64 / both.len() as f64)
            }
            None => None,
        };
        let (samples_per_sec, n_timed) = if speed && !generator {
            let texts: Vec<String> = store
                .labeled_records()?
                .into_iter()
                .filter(|r| r.split == Some(split))
                .take(max_texts)
                .map(|r| r.text)
                .collect();
            let predictor = crate::predict::load_model(&model_dir)?;
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let started = Instant::now();
            predictor.predict_batch(&refs)?;
            let secs = started.elapsed().as_secs_f64().max(1e-9);
            ((!texts.is_empty()).then(|| texts.len() as f64 / secs), texts.len() as u64)
        } else {
            (None, 0)
        };
        let (size_bytes, gguf) = model_bytes(&model_dir);
        out.push(RunCost {
            run: row.id.clone(),
            family: row.family.clone(),
            optimized_from,
            layers: layers_of(&model_dir).map(|n| n as u64),
            size_bytes,
            samples_per_sec,
            n_timed,
            macro_f1,
            split: Some(split),
            agreement_with_parent,
            chrf,
            gguf,
        });
    }
    Ok(out)
}
