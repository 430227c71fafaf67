//! "Which labels need more data?": a per-label training curve. The model is trained on growing
//! shares of the train split (stratified by label for single-label projects, a few seeds each)
//! and scored on the same dev split each time; a label whose F1 still rises between the last two
//! shares will gain from more examples, one that is flat needs clearer guidelines or another
//! label set.

use std::path::{Path, PathBuf};

use finelab_train::{Control, Dataset, Example, Target};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::jobs::{spawn_analysis, JobKind, JobState, Jobs};
use crate::runs::open;
use crate::train::{snapshot, RunData, TrainRequest};
use crate::{AppError, Result};

/// What [`train_curve`] is asked.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(default)]
#[ts(optional_fields = nullable)]
pub struct CurveRequest {
    /// The model, as for training (`instant` by default).
    pub train: TrainRequest,
    /// Shares of the train split, increasing, the last at most 1 (default 0.25, 0.5, 0.75, 1).
    pub fractions: Option<Vec<f64>>,
    /// Trainings per share, with seeds 1, 2... (default 3).
    pub seeds: Option<usize>,
}

/// One label's curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct LabelCurve {
    /// The label (entity type for spans).
    pub label: String,
    /// Dev F1 at each share, the mean over the seeds.
    pub f1: Vec<f64>,
    /// F1 at the last share minus F1 at the one before.
    pub gain: f64,
    /// `rising` (more examples will help) or `flat` (look at the guidelines or the label set).
    pub verdict: String,
}

/// A training curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct TrainCurve {
    /// The shares of the train split.
    pub fractions: Vec<f64>,
    /// Training records at each share.
    pub n_train: Vec<u64>,
    /// Dev records scored.
    pub n_dev: u64,
    /// Trainings per share.
    pub seeds: u64,
    /// Dev macro-F1 at each share (mean over the seeds).
    pub macro_f1: Vec<f64>,
    /// Per label.
    pub labels: Vec<LabelCurve>,
}

/// A gain above this between the last two shares reads as still rising.
pub const RISING: f64 = 0.02;

struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The examples of `train` a share `fraction` keeps with `seed`: per label (the single label, or
/// the whole record for other kinds) a seeded shuffle, the first `ceil(fraction · n)`.
fn share(train: &[Example], fraction: f64, seed: u64) -> Vec<Example> {
    let key = |e: &Example| match &e.target {
        Target::Single(label) => label.clone(),
        _ => String::new(),
    };
    let mut groups: std::collections::BTreeMap<String, Vec<&Example>> = Default::default();
    for e in train {
        groups.entry(key(e)).or_default().push(e);
    }
    let mut rng = finelab_train::rng::SplitMix64::new(seed);
    let mut out = Vec::new();
    for (_, mut members) in groups {
        rng.shuffle(&mut members);
        let keep = ((fraction * members.len() as f64).ceil() as usize).clamp(1, members.len());
        out.extend(members.into_iter().take(keep).cloned());
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// [`train_curve_with`] as a job of kind `curve` (progress in trainings, cancel between them).
pub fn start_train_curve(jobs: &Jobs, dir: &Path, req: CurveRequest) -> Result<JobState> {
    spawn_analysis(jobs, JobKind::Curve, dir, "training on shares", move |dir, progress| {
        train_curve_with(dir, &req, progress)
    })
}

/// Trains on growing shares of the train split and scores the dev split each time.
pub fn train_curve(dir: &Path, req: &CurveRequest) -> Result<TrainCurve> {
    train_curve_with(dir, req, &mut |_, _| true)
}

/// [`train_curve`], telling `progress` (trainings done, trainings in all) after each training;
/// it returns false to cancel, which fails with [`AppError::Cancelled`].
pub fn train_curve_with(
    dir: &Path,
    req: &CurveRequest,
    progress: &mut dyn FnMut(usize, usize) -> bool,
) -> Result<TrainCurve> {
    let fractions = req.fractions.clone().unwrap_or_else(|| vec![0.25, 0.5, 0.75, 1.0]);
    if fractions.len() < 2
        || fractions.iter().any(|f| !(*f > 0.0 && *f <= 1.0))
        || fractions.windows(2).any(|w| w[0] >= w[1])
    {
        return Err(AppError::Invalid(format!(
            "--fractions {fractions:?}: at least two shares, increasing, each above 0 and at most 1"
        )));
    }
    let seeds = req.seeds.unwrap_or(3);
    if !(1..=20).contains(&seeds) {
        return Err(AppError::Invalid(format!("--seeds {seeds}: must be between 1 and 20")));
    }
    let plan = req.train.plan()?;
    let mut store = open(dir)?;
    store.assign_splits()?;
    let kind = store.kind()?;
    let labels: Vec<String> = store.labels()?.into_iter().map(|l| l.name).collect();
    let snap = snapshot(kind, labels.clone(), &store.agent_speakers()?, store.labeled_records()?)?;
    let RunData::Classify(data) = snap.data else {
        return Err(AppError::Unsupported("a training curve is drawn for classification and span projects".into()));
    };
    if data.dev.is_empty() {
        return Err(AppError::Invalid(format!(
            "project {} has no labeled record in the dev split: the curve scores the same dev records at every share",
            dir.display()
        )));
    }
    data.validate()?;
    let scratch = Scratch(dir.join("runs").join(format!(".curve-{}-{}", std::process::id(), finelab_store::now_ms())));
    let (mut n_train, mut macro_f1) = (Vec::new(), Vec::new());
    let trainings = fractions.len() * seeds;
    let cancelled = || AppError::Cancelled("the training curve was cancelled".into());
    if !progress(0, trainings) {
        return Err(cancelled());
    }
    let mut per_label: Vec<Vec<f64>> = vec![Vec::new(); labels.len()];
    for (i, &fraction) in fractions.iter().enumerate() {
        let (mut macro_sum, mut label_sums) = (0.0, vec![0.0; labels.len()]);
        let mut n = 0;
        for seed in 1..=seeds as u64 {
            let train = share(&data.train, fraction, seed);
            n = train.len();
            let dataset = Dataset { train, test: Vec::new(), ..data.clone() };
            let config = finelab_train::TrainConfig { seed, ..plan.config.clone() };
            let out = scratch.0.join(format!("{i}-{seed}"));
            let outcome = finelab_train::train(&dataset, &config, &out, &mut |_| Control::Continue)?;
            if !progress(i * seeds + seed as usize, trainings) {
                return Err(cancelled());
            }
            let report: &Value = &outcome.dev;
            macro_sum += report["macro avg"]["f1-score"].as_f64().unwrap_or(0.0);
            for (l, label) in labels.iter().enumerate() {
                label_sums[l] += report[label.as_str()]["f1-score"].as_f64().unwrap_or(0.0);
            }
            let _ = std::fs::remove_dir_all(&out);
        }
        n_train.push(n as u64);
        macro_f1.push(macro_sum / seeds as f64);
        for (l, sum) in label_sums.into_iter().enumerate() {
            per_label[l].push(sum / seeds as f64);
        }
    }
    let labels = labels
        .into_iter()
        .zip(per_label)
        .map(|(label, f1)| {
            let gain = f1[f1.len() - 1] - f1[f1.len() - 2];
            let verdict = if gain > RISING { "rising" } else { "flat" };
            LabelCurve { label, f1, gain, verdict: verdict.into() }
        })
        .collect();
    Ok(TrainCurve { fractions, n_train, n_dev: data.dev.len() as u64, seeds: seeds as u64, macro_f1, labels })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_share_keeps_each_label_in_proportion() {
        let train: Vec<Example> = (0..30)
            .map(|i| Example {
                id: format!("r{i:02}"),
                text: format!("t{i}"),
                target: Target::Single(if i < 20 { "a" } else { "b" }.into()),
            })
            .collect();
        let half = share(&train, 0.5, 1);
        let count = |v: &[Example], l: &str| v.iter().filter(|e| e.target == Target::Single(l.into())).count();
        assert_eq!((count(&half, "a"), count(&half, "b")), (10, 5));
        // ceil: 0.25 of 20 is 5, of 10 is 3.
        let quarter = share(&train, 0.25, 1);
        assert_eq!((count(&quarter, "a"), count(&quarter, "b")), (5, 3));
        assert_eq!(share(&train, 1.0, 9).len(), 30);
        assert_eq!(half, share(&train, 0.5, 1));
        assert_ne!(half, share(&train, 0.5, 2));
    }
}
