//! Training from the window: a train job on its own thread ([`AppContext::start_train`]) whose
//! [`JobState`] carries typed live progress ([`TrainProgress`]) for the charts, cancellation
//! that stops within one step, predictions stored when the run ends, and resuming a run that did
//! not finish ([`AppContext::resume_run`]).

use crate::api::{AppContext, JobState, JobStatus};
use crate::train::{TrainDone, TrainRequest};
use crate::{AppError, Result};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Loss points kept for the live curve; older points are thinned (every other one dropped) when
/// the curve grows past it.
pub const MAX_LOSS_POINTS: usize = 400;

/// One point of the live loss curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct LossPoint {
    /// Steps taken.
    pub step: usize,
    /// Mean training loss over the current epoch so far.
    pub loss: f64,
}

/// One evaluated epoch, as the live chart shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct EpochPoint {
    /// The epoch, from 1.
    pub epoch: usize,
    /// Mean training loss over the epoch.
    pub train_loss: f64,
    /// Macro-F1 on dev (on train when the project has no dev records).
    pub dev_macro_f1: f64,
    /// Whether it is the best epoch so far (its model is the one kept).
    pub best: bool,
    /// Seconds it took, evaluation included.
    pub seconds: f64,
}

/// What a train job is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum TrainPhase {
    /// Reading the labeled data, loading the base model.
    Preparing,
    /// Taking gradient steps and evaluating epochs.
    Training,
    /// Storing predictions for drill-down (dev, test) and suggestions (unlabeled records).
    Predicting,
    /// Over (see the job's status).
    Finished,
}

/// A train job's live progress (`JobState.train`), updated at least twice a second while steps
/// are taken and at every epoch end. The job's `done` / `total` are steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct TrainProgress {
    /// The run id, once the run is recorded.
    pub run: Option<String>,
    /// `instant` or `transformer`.
    pub family: String,
    /// `TrainRequest.model` as given (`instant` or the base model folder).
    pub model: String,
    /// The device it trains on.
    pub device: String,
    /// What it is doing.
    pub phase: TrainPhase,
    /// Training records.
    pub n_train: u64,
    /// Development records.
    pub n_dev: u64,
    /// Test records.
    pub n_test: u64,
    /// Current epoch, from 1 (0 before the first step).
    pub epoch: usize,
    /// Maximum epochs.
    pub epochs: usize,
    /// Steps taken.
    pub step: usize,
    /// Steps if every epoch runs (early stopping can end sooner).
    pub total_steps: usize,
    /// `step / total_steps`, 0 to 1.
    pub fraction: f64,
    /// Estimated seconds left if every epoch runs.
    pub eta_secs: Option<f64>,
    /// Training examples per second.
    pub samples_per_sec: Option<f64>,
    /// Seconds since the job started.
    pub elapsed_secs: f64,
    /// The loss curve so far, at most [`MAX_LOSS_POINTS`] points.
    pub loss: Vec<LossPoint>,
    /// Every evaluated epoch.
    pub history: Vec<EpochPoint>,
    /// The best epoch so far.
    pub best_epoch: Option<usize>,
    /// Records whose predictions are stored so far.
    pub predicted: u64,
    /// Records to predict after training (dev + test + unlabeled).
    pub to_predict: u64,
}

/// [`crate::train::TrainDone`]'s per-epoch entries, as the UI receives them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(rename = "EpochSummary")]
pub struct EpochSummaryView {
    /// The epoch, from 1.
    pub epoch: usize,
    /// Mean training loss over the epoch.
    pub train_loss: f64,
    /// Macro-averaged F1 on dev.
    pub dev_macro_f1: f64,
    /// Seconds the epoch took, evaluation included.
    pub seconds: f64,
}

impl AppContext {
    /// Starts training on the project in `dir` as a job of kind `train`; its result is a
    /// [`TrainDone`].
    pub fn start_train(&self, dir: &str, request: &TrainRequest) -> Result<JobState> {
        let _ = (dir, request, JobStatus::Running);
        Err(AppError::Unsupported("start_train: not yet".into()))
    }

    /// Resumes a run that did not finish (see [`crate::api::Request::ResumeRun`]).
    pub fn resume_run(&self, dir: &str, run: &str) -> Result<JobState> {
        let _ = (dir, run);
        let _: Option<TrainDone> = None;
        Err(AppError::Unsupported("resume_run: not yet".into()))
    }
}
