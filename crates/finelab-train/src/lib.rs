//! Finelab's trainer: evaluation metrics, the in-memory dataset, the training loop and the model
//! families (`instant`; `transformer`: pretrained BERT-family encoders fine-tuned on candle;
//! `generator`: decoder-only causal LMs fine-tuned with LoRA on dialogs), with inference from a
//! saved model folder.
//!
//! This crate knows nothing of the database: callers hand it a [`Dataset`] already split into
//! train / dev / test, a validated [`TrainConfig`] and a progress callback that may ask to stop;
//! it returns metrics and a self-describing model folder that [`Predictor::load`] reads back.
//!
//! Metrics ([`metrics`]) reproduce scikit-learn's `classification_report` (single- and multi-label)
//! and seqeval's entity-level report (spans) number for number; `tests/it/metrics_reference/mod.rs` checks
//! that against the Python reference in `scripts/reference/metrics_reference.py`. Inter-annotator
//! agreement ([`agreement`]: Cohen's and Fleiss' kappa, Krippendorff's alpha, span F1 between
//! annotators) is checked the same way against scikit-learn, statsmodels and krippendorff.
#![deny(missing_docs)]

pub mod agreement;
mod config;
mod data;
mod decode;
mod device;
mod error;
mod family;
pub mod gen_metrics;
pub mod generator;
pub mod instant;
pub mod memory;
pub mod metrics;
pub mod noise;
mod predictor;
mod progress;
pub mod rng;
mod train;
pub mod transformer;

pub use config::{TrainConfig, TrainOptions};
pub use data::{Dataset, Example, Target, Task};
pub use decode::{Prediction, ScoredSpan};
pub use error::{Error, Result};
pub use metrics::{Report, Span};
pub use predictor::Predictor;
pub use progress::{Control, Progress, MAX_STEP_EVENT_GAP};
pub use train::{distill, quantize_int8, train, EpochSummary, TrainOutcome};
