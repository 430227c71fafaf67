//! After a run: the run in full ([`run_detail`]), the records behind its charts
//! ([`run_records`]), and its model exported as a folder ([`export_model`]).

use crate::train::RunSummary;
use crate::{AppError, Result};
use finelab_store::{ProjectKind, RunRecordsPage, RunRecordsQuery, RunRow};
use serde::{Deserialize, Serialize};
use std::path::Path;
use ts_rs::TS;

/// A run in full, for the Results screen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct RunDetail {
    /// The run as stored: config (with `model`, and `resumed_from` for a resumed run), base
    /// model, device, data hash, per-epoch history, dev and test reports.
    pub run: RunRow,
    /// Its line of the run list.
    pub summary: RunSummary,
    /// The project's kind.
    pub kind: ProjectKind,
    /// The project's label set, in order.
    pub labels: Vec<String>,
    /// Whether [`crate::api::Request::ResumeRun`] accepts it (cancelled, interrupted, failed).
    pub resumable: bool,
    /// Files of its model folder (relative to it), empty without one.
    pub model_files: Vec<String>,
}

/// What [`export_model`] wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ExportedModel {
    /// The folder written (absolute).
    pub path: String,
    /// Its files, relative to it, sorted.
    pub files: Vec<String>,
    /// Bytes written.
    pub bytes: u64,
    /// The run's family.
    pub family: String,
}

/// The run `id` in full.
pub fn run_detail(dir: &Path, id: &str) -> Result<RunDetail> {
    let _ = (dir, id);
    Err(AppError::Unsupported("get_run: not yet".into()))
}

/// The records behind a chart element of `run`.
pub fn run_records(dir: &Path, run: &str, query: &RunRecordsQuery) -> Result<RunRecordsPage> {
    let _ = (dir, run, query);
    Err(AppError::Unsupported("run_records: not yet".into()))
}

/// Copies the model folder of `run` to `dest`.
pub fn export_model(dir: &Path, run: &str, dest: &Path) -> Result<ExportedModel> {
    let _ = (dir, run, dest);
    Err(AppError::Unsupported("export_model: not yet".into()))
}
