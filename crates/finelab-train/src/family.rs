//! What the training loop ([`crate::train`]) asks of a model family, and the names the families
//! and their model folders share. A leaf below the families and the loop: the loop drives any
//! family through [`Family`] without a family knowing the loop, and the config and the predictor
//! name families without importing one.

use std::path::Path;

use serde_json::Value;

use crate::error::Result;
use crate::metrics::Report;
use crate::progress::Steps;

/// The `instant` family's name in configs and model folders.
pub const INSTANT: &str = "instant";
/// The `transformer` family's name in configs and model folders.
pub const TRANSFORMER: &str = "transformer";
/// The `generator` family's name in configs and model folders.
pub const GENERATOR: &str = "generator";
/// The projections LoRA goes on by default: every linear layer of attention and MLP.
pub const LORA_TARGETS: &[&str] = &["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];
/// Finelab's metadata file inside a model folder of any family; it says which family wrote it.
pub const MODEL_FILE: &str = "finelab-model.json";

/// The sizes of a run's splits, as the loop reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Splits {
    /// Training examples.
    pub(crate) n_train: usize,
    /// Whether the dev split is empty (the train split then stands in for it).
    pub(crate) dev_is_train: bool,
    /// Whether there is a test split to evaluate.
    pub(crate) has_test: bool,
}

/// A split that the loop asks a family to score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Split {
    /// The dev split, or the train split when the dataset has no dev examples.
    Dev,
    /// The test split (asked for only when the dataset has test examples).
    Test,
}

/// How a pass over the train split ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Pass {
    /// Every step was taken.
    Finished {
        /// Mean training loss over the epoch.
        train_loss: f64,
    },
    /// The progress callback asked to stop after one of the steps.
    Stopped,
}

/// A family's score on a split: the criterion the loop compares epochs by, and the report the
/// caller sees.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Evaluation {
    /// The criterion epochs are compared by, higher is better: macro-averaged F1 (the generator
    /// family: minus the mean dev loss per target token).
    pub(crate) macro_f1: f64,
    /// The full report as JSON (see [`Report::to_json`]).
    pub(crate) report: Value,
}

impl Evaluation {
    /// The evaluation a classification or span report stands for.
    pub(crate) fn of(report: &Report) -> Evaluation {
        Evaluation { macro_f1: report.macro_f1(), report: report.to_json() }
    }
}

/// One model family as the training loop sees it: something that trains a pass at a time, is
/// scored on a split, remembers and restores its best weights, and writes its model folder.
/// Everything else (epochs, early stopping, which epoch is best, stop, test evaluation, the
/// outcome) belongs to the loop, so that every family behaves the same there.
pub(crate) trait Family {
    /// Optimizer steps one pass over the train split takes, for the Step events' total.
    fn steps_per_epoch(&self) -> usize;

    /// Trains one pass over the train split, reporting each optimizer step to `steps` and
    /// returning [`Pass::Stopped`] as soon as a step's answer is [`crate::Control::Stop`].
    fn run_epoch(&mut self, steps: &mut Steps<'_>) -> Result<Pass>;

    /// Scores the current weights on [`Split::Dev`], first tuning on it whatever the family
    /// tunes there (the per-label thresholds of multi-label); the tuned values become current.
    fn tune_on_dev(&mut self) -> Result<Evaluation>;

    /// Remembers the current weights and tuned values as the best so far.
    fn keep_best(&mut self) -> Result<()>;

    /// Makes the weights and tuned values last remembered by [`Family::keep_best`] current again.
    fn restore_best(&mut self) -> Result<()>;

    /// Scores the current weights and tuned values on `split`, tuning nothing.
    fn evaluate(&mut self, split: Split) -> Result<Evaluation>;

    /// Writes the model folder of the current weights to `dir` (created if needed), recording
    /// `best_epoch` in it.
    fn save(&mut self, dir: &Path, best_epoch: usize) -> Result<()>;

    /// The device training runs on, as runs record it ("cpu", "cuda", "metal").
    fn device(&self) -> String;
}
