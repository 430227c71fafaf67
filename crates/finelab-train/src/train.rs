//! The entry point shared by all model families: progress events, stop control and the outcome.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::TrainConfig;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::instant;

/// A progress event sent to the caller while training. Serialized with an `"event"` tag
/// (`{"event": "step", ...}`) so that shells can stream it as JSON lines as is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Progress {
    /// Some gradient steps were taken.
    Step {
        /// Current epoch, from 1.
        epoch: usize,
        /// Steps taken so far over the whole run, from 1.
        step: usize,
        /// Steps the run takes if it is not stopped early.
        total_steps: usize,
        /// Mean training loss over the current epoch so far.
        loss: f64,
        /// Training examples processed per second.
        samples_per_sec: f64,
        /// Estimated seconds left if every epoch runs (early stopping can only shorten it).
        eta_secs: f64,
    },
    /// An epoch ended and was evaluated on the dev split.
    Epoch {
        /// The epoch, from 1.
        epoch: usize,
        /// Mean training loss over the epoch.
        train_loss: f64,
        /// Macro-averaged F1 on dev, the early-stopping criterion.
        dev_macro_f1: f64,
        /// The full dev report (see [`crate::Report::to_json`]).
        dev_report: Value,
    },
}

impl Progress {
    /// The Step event of a loop that started at `started` and has seen `n_seen` examples in
    /// `step` of `total_steps` steps: samples/s and the ETA follow from the elapsed time.
    pub(crate) fn step_since(
        started: std::time::Instant,
        epoch: usize,
        step: usize,
        total_steps: usize,
        loss: f64,
        n_seen: usize,
    ) -> Progress {
        let elapsed = started.elapsed().as_secs_f64().max(1e-9);
        Progress::Step {
            epoch,
            step,
            total_steps,
            loss,
            samples_per_sec: n_seen as f64 / elapsed,
            eta_secs: elapsed / step.max(1) as f64 * total_steps.saturating_sub(step) as f64,
        }
    }
}

/// The longest a training loop goes without a Step event while it takes steps, so that a window
/// shows progress several times a second and a stop request is seen promptly, however long an
/// epoch is.
pub const MAX_STEP_EVENT_GAP: std::time::Duration = std::time::Duration::from_millis(200);

/// Decides when a loop sends its next Step event: on its own schedule, or when
/// [`MAX_STEP_EVENT_GAP`] has passed since the last one.
pub(crate) struct StepClock {
    last: std::time::Instant,
}

impl StepClock {
    pub(crate) fn new() -> StepClock {
        StepClock { last: std::time::Instant::now() }
    }

    /// Whether to send an event now; `scheduled` is the loop's own criterion.
    pub(crate) fn due(&mut self, scheduled: bool) -> bool {
        let now = std::time::Instant::now();
        if scheduled || now.duration_since(self.last) >= MAX_STEP_EVENT_GAP {
            self.last = now;
            true
        } else {
            false
        }
    }
}

/// What the progress callback wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Keep training.
    Continue,
    /// Stop as soon as possible, keeping the best model so far.
    Stop,
}

/// One evaluated epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochSummary {
    /// The epoch, from 1.
    pub epoch: usize,
    /// Mean training loss over the epoch.
    pub train_loss: f64,
    /// Macro-averaged F1 on dev.
    pub dev_macro_f1: f64,
    /// Seconds the epoch took, evaluation included.
    pub seconds: f64,
}

/// The result of a training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainOutcome {
    /// Epoch whose weights were kept (0 when stopped before the first epoch ended: the weights
    /// are then those of the partial epoch).
    pub best_epoch: usize,
    /// Every evaluated epoch, in order.
    pub epochs: Vec<EpochSummary>,
    /// Report of the kept model on the dev split (on train when the dev split is empty).
    pub dev: Value,
    /// Report of the kept model on the test split, when there is one.
    pub test: Option<Value>,
    /// Whether the callback asked to stop.
    pub stopped: bool,
    /// The saved model folder (loadable with [`crate::Predictor::load`]).
    pub model_dir: PathBuf,
    /// Number of training examples.
    pub n_train: usize,
    /// Wall-clock seconds of the whole run, saving included.
    pub train_seconds: f64,
    /// True when the dev split was empty and the train split stood in for it.
    pub dev_is_train: bool,
    /// The device training ran on ("cpu", "cuda", "metal").
    pub device: String,
    /// The configuration used.
    pub config: TrainConfig,
}

/// Trains a model of `config.family` on `dataset`, writes it to `out_dir` (created if needed)
/// and returns its metrics. `progress` receives events and may answer [`Control::Stop`]: training
/// then returns promptly with `stopped: true`, keeping the best model so far.
///
/// The same dataset, config and seed give the same weights and metrics.
pub fn train(
    dataset: &Dataset,
    config: &TrainConfig,
    out_dir: &Path,
    progress: &mut dyn FnMut(&Progress) -> Control,
) -> Result<TrainOutcome> {
    dataset.validate()?;
    match config.family.as_str() {
        "instant" => instant::train(dataset, config, out_dir, progress),
        crate::transformer::FAMILY => crate::transformer::train(dataset, config, out_dir, progress),
        other => Err(Error::UnsupportedFamily(other.to_string())),
    }
}
