//! Optimise a run: a smaller model made from it, trained as a run of its own that records its
//! parent (`optimized_from`) and is scored on the same dev and test records; and the table of a
//! project's runs by what they cost and what they score: size on disk, CPU inference speed, test
//! macro-F1, and how often a child predicts what its parent predicts.
//!
//! `prune` keeps a transformer run's first encoder layers ([`finelab_train::transformer::prune`])
//! and fine-tunes the pruned encoder again, briefly, on the project's train split.

use crate::jobs::{JobState, Jobs};
use crate::train::{self, OptimizedFrom, TrainRequest};
use crate::{AppError, Result};
use finelab_store::{AnnotationValue, RunRecordsQuery, RunStatus, Split, Store};
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
}

/// What to optimise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct OptimizeRequest {
    /// The run.
    pub run: String,
    /// How.
    pub method: OptimizeMethod,
    /// Prune: encoder layers to keep (default: half, at least one).
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

/// The training request that makes the optimised model (the pruned folder written first).
pub fn plan(dir: &Path, request: &OptimizeRequest) -> Result<TrainRequest> {
    let parent = train::run(dir, &request.run)?;
    if !matches!(parent.status, RunStatus::Completed | RunStatus::Cancelled) {
        return Err(AppError::Invalid(format!(
            "run {} is {}: optimise a finished run",
            parent.id,
            parent.status.as_str()
        )));
    }
    if parent.family != finelab_train::transformer::FAMILY {
        return Err(AppError::Unsupported(format!(
            "run {} is a {} run: pruning drops encoder layers, so it takes a transformer run",
            parent.id, parent.family
        )));
    }
    let model_dir = dir.join(parent.model_dir.as_deref().unwrap_or_default());
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
    req.optimized_from = Some(OptimizedFrom { run: parent.id.clone(), method: "prune".into(), layers: Some(keep) });
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
    /// predicts.
    pub agreement_with_parent: Option<f64>,
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

/// The completed runs of the project in `dir` with their costs; with `speed`, each model's CPU
/// inference speed is measured on up to `max_texts` of the split's texts (which takes a while for
/// transformers).
pub fn run_costs(dir: &Path, speed: bool, max_texts: usize) -> Result<Vec<RunCost>> {
    let store = Store::open(dir)?;
    let rows: Vec<_> = store
        .runs()?
        .into_iter()
        .filter(|r| {
            r.status == RunStatus::Completed && r.model_dir.is_some() && r.family != finelab_train::generator::FAMILY
        })
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
        let (samples_per_sec, n_timed) = if speed {
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
        out.push(RunCost {
            run: row.id.clone(),
            family: row.family.clone(),
            optimized_from,
            layers: layers_of(&model_dir).map(|n| n as u64),
            size_bytes: folder_bytes(&model_dir),
            samples_per_sec,
            n_timed,
            macro_f1,
            split: Some(split),
            agreement_with_parent,
        });
    }
    Ok(out)
}
