//! Labels that are likely wrong: out-of-fold probabilities for every labeled record by K-fold
//! cross-validation (stratified, seeded) of the instant family, then confident learning
//! ([`finelab_train::noise`]) ranks the records whose given label the other folds' models
//! confidently contradict, with the label they suggest.

use std::path::{Path, PathBuf};

use finelab_store::ProjectKind;
use finelab_train::noise::{find_label_issues, stratified_folds, RankBy};
use finelab_train::{Control, Dataset, Example, Prediction, Predictor, Target, Task, TrainConfig};
use serde::{Deserialize, Serialize};

use crate::runs::open;
use crate::{AppError, Result};

/// What [`suspects`] is asked.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(default)]
#[ts(optional_fields = nullable)]
pub struct SuspectsRequest {
    /// Folds of the cross-validation (default 5, at least 2).
    pub folds: Option<usize>,
    /// Seed of the folds and of the models (default 42).
    pub seed: Option<u64>,
    /// `self_confidence` (default) or `normalized_margin`.
    pub rank_by: Option<String>,
    /// At most this many suspects listed (default all).
    pub limit: Option<usize>,
}

/// A record whose label is likely wrong.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct Suspect {
    /// The record's stable id.
    pub id: String,
    /// Its text.
    pub text: String,
    /// The label it has.
    pub label: String,
    /// The label the cross-validated models suggest.
    pub suggested: String,
    /// Label quality, cleanlab's: the probability of the given label (self-confidence), or
    /// `(p_given − max other p + 1) / 2` (normalized margin); lower is more likely wrong.
    pub score: f64,
}

/// Suspected-noise counts of one label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct LabelNoise {
    /// The label.
    pub label: String,
    /// Records labeled so.
    pub n: u64,
    /// Of them, suspects.
    pub n_suspects: u64,
}

/// What [`suspects`] found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct SuspectsReport {
    /// Labeled records scored.
    pub n_records: u64,
    /// Folds used.
    pub folds: u64,
    /// Suspects found (all of them, whatever the limit).
    pub n_suspects: u64,
    /// Per label.
    pub per_label: Vec<LabelNoise>,
    /// The suspects, most likely wrong first.
    pub suspects: Vec<Suspect>,
}

/// A scratch folder for the folds' models, removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Cross-validates the instant family over the project's labeled records (every split) and lists
/// the records whose label is likely wrong. Single-label projects.
pub fn suspects(dir: &Path, req: &SuspectsRequest) -> Result<SuspectsReport> {
    let k = req.folds.unwrap_or(5);
    if !(2..=50).contains(&k) {
        return Err(AppError::Invalid(format!("--folds {k}: must be between 2 and 50")));
    }
    let rank_by = match req.rank_by.as_deref().unwrap_or("self_confidence") {
        "self_confidence" => RankBy::SelfConfidence,
        "normalized_margin" => RankBy::NormalizedMargin,
        other => {
            return Err(AppError::Invalid(format!(
                "--rank-by {other:?}: expected self_confidence or normalized_margin"
            )))
        }
    };
    let seed = req.seed.unwrap_or(42);
    let store = open(dir)?;
    if store.kind()? != ProjectKind::Single {
        return Err(AppError::Unsupported(format!(
            "suspects are found in single-label projects for now; {} is a {} project",
            dir.display(),
            store.kind()?.as_str()
        )));
    }
    let labels: Vec<String> = store.labels()?.into_iter().map(|l| l.name).collect();
    let mut records: Vec<(String, String, usize)> = Vec::new();
    for r in store.labeled_records()? {
        if let finelab_store::AnnotationValue::Label(label) = &r.value {
            if let Some(class) = labels.iter().position(|l| l == label) {
                records.push((r.id, r.text, class));
            }
        }
    }
    records.sort_by(|a, b| a.0.cmp(&b.0));
    if records.len() < 2 * k {
        return Err(AppError::Invalid(format!(
            "{} labeled record(s) are too few for {k}-fold cross-validation: label at least {}",
            records.len(),
            2 * k
        )));
    }
    let classes: Vec<usize> = records.iter().map(|r| r.2).collect();
    let folds = stratified_folds(&classes, k, seed);
    let scratch =
        Scratch(dir.join("runs").join(format!(".suspects-{}-{}", std::process::id(), finelab_store::now_ms())));
    let mut probs: Vec<Vec<f64>> = vec![Vec::new(); records.len()];
    for fold in 0..k {
        let train: Vec<Example> = records
            .iter()
            .zip(&folds)
            .filter(|(_, f)| **f != fold)
            .map(|((id, text, class), _)| Example {
                id: id.clone(),
                text: text.clone(),
                target: Target::Single(labels[*class].clone()),
            })
            .collect();
        let data = Dataset { task: Task::Single, labels: labels.clone(), train, dev: Vec::new(), test: Vec::new() };
        let config = TrainConfig { seed: seed.wrapping_add(fold as u64), ..TrainConfig::default() };
        let out = scratch.0.join(fold.to_string());
        finelab_train::train(&data, &config, &out, &mut |_| Control::Continue)?;
        let predictor = Predictor::load(&out)?;
        let held: Vec<usize> = (0..records.len()).filter(|&i| folds[i] == fold).collect();
        let texts: Vec<&str> = held.iter().map(|&i| records[i].1.as_str()).collect();
        for (&i, p) in held.iter().zip(predictor.predict_batch(&texts)?) {
            let Prediction::Single { scores, .. } = p else {
                return Err(AppError::Invalid("the instant model did not answer with label scores".into()));
            };
            probs[i] = labels.iter().map(|l| scores.get(l).copied().unwrap_or(0.0) as f64).collect();
        }
    }
    drop(scratch);
    let found = find_label_issues(&probs, &classes, labels.len(), rank_by);
    let per_label = labels
        .iter()
        .enumerate()
        .map(|(c, label)| LabelNoise {
            label: label.clone(),
            n: classes.iter().filter(|&&x| x == c).count() as u64,
            n_suspects: found.iter().filter(|s| s.given == c).count() as u64,
        })
        .collect();
    let n_suspects = found.len() as u64;
    let suspects = found
        .into_iter()
        .take(req.limit.unwrap_or(usize::MAX))
        .map(|s| Suspect {
            id: records[s.index].0.clone(),
            text: records[s.index].1.clone(),
            label: labels[s.given].clone(),
            suggested: labels[s.suggested].clone(),
            score: s.score,
        })
        .collect();
    Ok(SuspectsReport { n_records: records.len() as u64, folds: k as u64, n_suspects, per_label, suspects })
}
