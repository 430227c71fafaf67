//! The instant model retrained in the background while people label: a long-lived shell (the
//! window, `finelab serve`) counts the labels written through it per project and, every
//! [`ProjectSettings::retrain_every`](finelab_store::ProjectSettings::retrain_every) labels,
//! starts an ordinary `train` job of the instant family, unless a training of that project is
//! already running. The run it makes is a run like any other: the label screen's suggestions and
//! its uncertain-first order come from the newest completed run ([`crate::active`]).
//!
//! Labeling never waits for it: the job trains on a thread of its own with its own database
//! connection, and stores its predictions in short transactions.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use finelab_store::{ProjectKind, Receipt, Stats};
use serde::{Deserialize, Serialize};

use crate::jobs::{JobKind, JobStatus, Jobs};
use crate::train::TrainRequest;

/// The answer to an annotation written through a long-lived shell: the store's receipt and, when
/// this label started a background retrain, its job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct Annotated {
    /// What the store wrote.
    #[serde(flatten)]
    pub receipt: Receipt,
    /// The `train` job this label started (the instant model retrained in the background).
    pub retrain_job: Option<u64>,
}

/// The least labeled records, and labeled examples per label (classification), before the
/// background retrain tries at all: below that, training would only fail.
const MIN_LABELED: u64 = 20;
const MIN_PER_LABEL: u64 = 2;

/// Background runs kept per project (the newest); older ones are removed with their predictions
/// and model folders when the next retrain starts.
pub const KEEP_BACKGROUND_RUNS: usize = 3;

/// Removes all but the newest `keep` finished background runs of the project (their predictions
/// and model folders); returns the runs removed. Runs a person started are never touched.
pub fn prune_background_runs(dir: &Path, keep: usize) -> crate::Result<Vec<String>> {
    let mut store = crate::runs::open(dir)?;
    let background: Vec<finelab_store::RunRow> = store
        .runs()?
        .into_iter()
        .filter(|r| r.config.get("background").and_then(serde_json::Value::as_bool) == Some(true))
        .filter(|r| r.status != finelab_store::RunStatus::Running)
        .collect();
    let mut removed = Vec::new();
    for run in background.into_iter().skip(keep) {
        store.delete_run(&run.id)?;
        // The run's folder (its model, run.json) under runs/, named by its id.
        if !run.id.is_empty() && !run.id.contains(['/', '\\', '.']) {
            let _ = std::fs::remove_dir_all(dir.join("runs").join(&run.id));
        }
        removed.push(run.id);
    }
    Ok(removed)
}

/// Labels between two tries of the first retrain of a project without a model.
const COLD_START_EVERY: u64 = 10;

/// Whether the project has a completed run with a model that predicts labels.
fn has_model(dir: &Path) -> bool {
    let Ok(store) = crate::runs::open(dir) else { return true };
    store.runs().is_ok_and(|runs| {
        runs.iter().any(|r| {
            r.status == finelab_store::RunStatus::Completed
                && r.family != finelab_train::generator::FAMILY
                && r.model_dir.is_some()
        })
    })
}

/// Labels counted per project since its last background retrain started.
#[derive(Default)]
pub struct AutoTrain {
    counts: Mutex<HashMap<PathBuf, u64>>,
}

impl AutoTrain {
    /// No labels counted yet.
    pub fn new() -> AutoTrain {
        AutoTrain::default()
    }

    /// Counts one label written to the project in `dir` (absolute) and, when `every` labels have
    /// been counted (every ten while the project has no model yet), starts the retrain if the
    /// project can be trained and no training of it is running. Returns the job started. A
    /// retrain that cannot start (too few labels yet) is tried again later; it never fails the
    /// label that triggered it.
    pub fn after_label(
        &self,
        jobs: &Jobs,
        dir: &Path,
        every: u64,
        stats: impl FnOnce() -> Option<Stats>,
    ) -> Option<u64> {
        if every == 0 {
            return None;
        }
        let n = {
            let mut counts = self.counts.lock().unwrap();
            let n = counts.entry(dir.to_path_buf()).or_insert(0);
            *n += 1;
            *n
        };
        // Cold start: until the project has a model, try every few labels, so that the
        // least-sure order starts once each label has a few examples.
        let due = n >= every || (n % COLD_START_EVERY == 0 && !has_model(dir));
        if !due {
            return None;
        }
        let training = jobs.list(Some(dir)).iter().any(|j| j.kind == JobKind::Train && j.status == JobStatus::Running);
        if training {
            // Counted on: the next label after that training ends starts the retrain.
            return None;
        }
        self.counts.lock().unwrap().insert(dir.to_path_buf(), 0);
        if !stats().is_some_and(|s| trainable(&s)) {
            return None;
        }
        // The runs of earlier retrains go, but for the newest few: a retrain every 50 labels of a
        // large project would otherwise keep a full set of predictions per run.
        let _ = prune_background_runs(dir, KEEP_BACKGROUND_RUNS);
        let request = TrainRequest { background: Some(true), ..TrainRequest::default() };
        crate::training_jobs::start_train(jobs, dir, &request).ok().map(|state| state.id)
    }
}

/// Whether the instant family can train on the project as it stands.
fn trainable(stats: &Stats) -> bool {
    match stats.kind {
        ProjectKind::Generate => false,
        ProjectKind::Spans => stats.labeled >= MIN_LABELED,
        ProjectKind::Single | ProjectKind::Multi => {
            stats.labeled >= MIN_LABELED && stats.labels.values().filter(|&&n| n >= MIN_PER_LABEL).count() >= 2
        }
    }
}
