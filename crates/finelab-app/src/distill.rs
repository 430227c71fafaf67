//! What a distillation trains on: the teacher run's probabilities over the train split and the
//! project's unlabeled records (the records a team has plenty of and no labels for), with the
//! unlabeled ones added to the train split. The student itself is trained by
//! [`finelab_train::distill`]; [`crate::optimize`] plans it.

use std::path::Path;

use finelab_store::Store;
use finelab_train::transformer::distill::SoftTargets;
use finelab_train::{Dataset, Example, Prediction, Target, Task};

use crate::predict::load_model;
use crate::{AppError, Result};

/// Most unlabeled records a distillation adds (the teacher predicts each one first).
pub const MAX_UNLABELED: usize = 20_000;

/// `data` with up to [`MAX_UNLABELED`] unlabeled records of the project in `dir` added to its
/// train split (named `unlabeled-SEQ`, with the teacher's labels as their targets), and the
/// teacher's probabilities for every train example, in `data.labels`' order. The teacher is the
/// model in `teacher_dir`; its labels must be the dataset's.
pub fn training_set(dir: &Path, teacher_dir: &Path, data: &Dataset) -> Result<(Dataset, SoftTargets)> {
    if data.task == Task::Spans {
        return Err(AppError::Unsupported("distillation is for classifiers; a tagger is pruned instead".into()));
    }
    let teacher = load_model(teacher_dir)?;
    if teacher.labels() != data.labels.as_slice() {
        return Err(AppError::Invalid(format!(
            "the teacher predicts {:?}, the project now has {:?}: train the teacher again first",
            teacher.labels(),
            data.labels
        )));
    }
    let mut data = data.clone();
    let store = Store::open(dir)?;
    let (mut after, mut added) = (0i64, 0usize);
    while added < MAX_UNLABELED {
        let batch = store.unlabeled_texts(after, 512.min(MAX_UNLABELED - added))?;
        let Some(last) = batch.last() else { break };
        after = last.0;
        added += batch.len();
        for (seq, text) in batch {
            data.train.push(Example { id: format!("unlabeled-{seq}"), text, target: Target::Single(String::new()) });
        }
    }
    let mut soft = SoftTargets::new();
    for chunk in data.train.chunks_mut(64) {
        let texts: Vec<&str> = chunk.iter().map(|e| e.text.as_str()).collect();
        let predictions = teacher.predict_batch(&texts)?;
        for (example, p) in chunk.iter_mut().zip(predictions) {
            let (probs, top) = match &p {
                Prediction::Single { label, scores } => {
                    (labels_order(&data.labels, scores), Target::Single(label.clone()))
                }
                Prediction::Multi { labels, scores } => {
                    (labels_order(&data.labels, scores), Target::Multi(labels.clone()))
                }
                Prediction::Spans { .. } => unreachable!("spans are refused above"),
            };
            if example.id.starts_with("unlabeled-") {
                example.target = top;
            }
            soft.insert(example.id.clone(), probs);
        }
    }
    Ok((data, soft))
}

fn labels_order(labels: &[String], scores: &std::collections::BTreeMap<String, f32>) -> Vec<f32> {
    labels.iter().map(|l| scores.get(l).copied().unwrap_or(0.0)).collect()
}
