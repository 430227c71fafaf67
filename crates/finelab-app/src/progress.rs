//! A train job's live progress as the window draws it: the loss curve, the evaluated epochs, the
//! phase. Plain data, shared by the job runner and the train job (a leaf: it imports nothing of
//! the crate).

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

/// A generator's answer to a fixed dev dialog after an epoch, beside the dialog's target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct EpochSample {
    /// The record id.
    pub id: String,
    /// The dialog's last message.
    pub prompt: String,
    /// The target output.
    pub reference: String,
    /// What the model answered.
    pub output: String,
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

/// A train job's live progress (`JobState.train`), updated at every epoch end and at least five
/// times a second otherwise: from step events, and between them (a step of a real encoder on a CPU
/// can take seconds) by [`TrainProgress::advanced`]. The job's `done` / `total` are steps.
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
    /// Training tokens per second (generators).
    pub tokens_per_sec: Option<f64>,
    /// Generators: the answers to a few fixed dev dialogs after the latest epoch.
    pub samples: Vec<EpochSample>,
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

impl TrainProgress {
    /// The progress of a train job before its first event: training `model` (`instant` or a
    /// base model) of `family` for at most `epochs` epochs (0: not known yet).
    pub fn starting(model: &str, family: &str, epochs: usize) -> TrainProgress {
        TrainProgress {
            run: None,
            family: family.to_string(),
            model: model.to_string(),
            device: String::new(),
            phase: TrainPhase::Preparing,
            n_train: 0,
            n_dev: 0,
            n_test: 0,
            epoch: 0,
            epochs,
            step: 0,
            total_steps: 0,
            fraction: 0.0,
            eta_secs: None,
            samples_per_sec: None,
            tokens_per_sec: None,
            samples: Vec::new(),
            elapsed_secs: 0.0,
            loss: Vec::new(),
            history: Vec::new(),
            best_epoch: None,
            predicted: 0,
            to_predict: 0,
        }
    }

    /// Adds a loss point, thinning the curve to every other point when it grows past
    /// [`MAX_LOSS_POINTS`]; `min_gap` (in steps) doubles with each thinning so that the curve
    /// keeps an even spacing.
    pub(crate) fn push_loss(&mut self, step: usize, loss: f64, min_gap: &mut usize) {
        if let Some(last) = self.loss.last() {
            if step < last.step + *min_gap {
                return;
            }
        }
        self.loss.push(LossPoint { step, loss });
        if self.loss.len() > MAX_LOSS_POINTS {
            let mut i = 0;
            self.loss.retain(|_| {
                i += 1;
                i % 2 == 1
            });
            *min_gap *= 2;
        }
    }
}

/// The most of one step the heartbeat's estimate may fill: the bar never reaches a step before
/// the trainer has taken it.
pub(crate) const MAX_STEP_ESTIMATE: f64 = 0.95;

impl TrainProgress {
    /// This progress `dt` seconds after it was published, with no event since: the elapsed time
    /// goes on; while training, the bar moves into the step under way by the time a step has been
    /// taking (the ETA over the steps left), at most [`MAX_STEP_ESTIMATE`] of it, and the ETA
    /// counts down by as much. Loss, epochs and step counts stay as they were.
    pub fn advanced(&self, dt: f64) -> TrainProgress {
        let mut p = self.clone();
        p.elapsed_secs += dt;
        if p.phase == TrainPhase::Training && p.step > 0 && p.total_steps > p.step {
            if let Some(eta) = p.eta_secs {
                let step_secs = eta / (p.total_steps - p.step) as f64;
                if step_secs > 0.0 {
                    let within = (dt / step_secs).min(MAX_STEP_ESTIMATE);
                    p.fraction = (p.step as f64 + within) / p.total_steps as f64;
                    p.eta_secs = Some(eta - within * step_secs);
                }
            }
        }
        p
    }
}
