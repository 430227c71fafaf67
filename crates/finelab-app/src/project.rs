//! Projects: create, import, export, statistics, splits, labeling and search.

use crate::{AppError, Result};
use finelab_store::export::{ExportOptions, ExportSummary};
use finelab_store::import::{ImportOptions, ImportProgress, ImportReport};
use finelab_store::search::{SearchPage, SearchQuery};
use finelab_store::{
    Action, LabelDef, NewProject, ProjectKind, Receipt, RecordView, SplitRatios, SplitSummary, Stats, Store,
};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A request to create a project.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
pub struct CreateProject {
    /// Display name (defaults to the folder name).
    pub name: Option<String>,
    /// Task kind.
    pub kind: ProjectKind,
    /// Label names, in order; colours and hotkeys get defaults unless `label_defs` is given.
    pub labels: Vec<String>,
    /// Full label definitions (override `labels`).
    pub label_defs: Option<Vec<LabelDef>>,
    /// Guidelines in Markdown.
    pub guidelines: Option<String>,
    /// Split seed (default 42).
    pub split_seed: Option<u64>,
    /// Split ratios train, dev, test (default 0.8, 0.1, 0.1).
    pub split_ratios: Option<[f64; 3]>,
}

/// Creates a project folder.
pub fn create(dir: &Path, req: &CreateProject) -> Result<Stats> {
    let labels = match &req.label_defs {
        Some(defs) => defs.clone(),
        None => req.labels.iter().enumerate().map(|(i, n)| LabelDef::with_defaults(n.trim(), i)).collect(),
    };
    let ratios = match req.split_ratios {
        Some([a, b, c]) => SplitRatios::new(a, b, c)?,
        None => SplitRatios::default(),
    };
    let name = req.name.clone().unwrap_or_else(|| {
        dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "project".into())
    });
    let store = Store::create(
        dir,
        &NewProject {
            name,
            kind: req.kind,
            labels,
            guidelines: req.guidelines.clone().unwrap_or_default(),
            split_seed: req.split_seed.unwrap_or(42),
            split_ratios: ratios,
        },
    )?;
    Ok(store.stats()?)
}

/// What an import did, including the split assignment that follows it.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
pub struct ImportOutcome {
    /// The import report.
    pub report: ImportReport,
    /// Splits given to newly labeled records.
    pub splits: SplitSummary,
}

/// Imports one file, then gives the new labeled records their splits. The search index is brought
/// up to date separately ([`index_search`]), so the records can be labeled as soon as they land.
pub fn import(dir: &Path, path: &Path, options: &ImportOptions, progress: &mut dyn FnMut(&ImportProgress) -> bool) -> Result<ImportOutcome> {
    let mut store = Store::open(dir)?;
    let report = store.import(path, options, progress)?;
    let splits = store.assign_splits()?;
    Ok(ImportOutcome { report, splits })
}

/// Adds records not yet indexed to the search index; `progress(done, total)` may stop it.
pub fn index_search(dir: &Path, progress: &mut dyn FnMut(u64, u64) -> bool) -> Result<u64> {
    let mut store = Store::open(dir)?;
    Ok(store.index_pending(50_000, progress)?)
}

/// Exports the project to `out`.
pub fn export(dir: &Path, options: &ExportOptions, out: &mut dyn std::io::Write, progress: &mut dyn FnMut(u64, u64) -> bool) -> Result<ExportSummary> {
    let store = Store::open(dir)?;
    Ok(store.export(options, out, progress)?)
}

/// Project statistics.
pub fn stats(dir: &Path) -> Result<Stats> {
    Ok(Store::open(dir)?.stats()?)
}

/// Gives labeled records without a split their split.
pub fn assign_splits(dir: &Path) -> Result<SplitSummary> {
    Ok(Store::open(dir)?.assign_splits()?)
}

/// Searches and filters records.
pub fn search(dir: &Path, query: &SearchQuery) -> Result<SearchPage> {
    Ok(Store::open(dir)?.search(query)?)
}

/// The next record to label.
pub fn next_record(dir: &Path, annotator: &str, after_seq: Option<i64>) -> Result<Option<RecordView>> {
    Ok(Store::open(dir)?.next_record(annotator, after_seq)?)
}

/// A request to annotate a record, by stable id.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Annotate {
    /// The record's stable id.
    pub record_id: String,
    /// Who.
    pub annotator: String,
    /// What.
    pub action: Action,
}

/// Appends an annotation; returns once it is committed.
pub fn annotate(dir: &Path, req: &Annotate) -> Result<Receipt> {
    let mut store = Store::open(dir)?;
    let seq = store.record(&req.record_id)?.record.seq;
    Ok(store.annotate(seq, &req.annotator, &req.action)?)
}

/// Undoes the annotator's last action.
pub fn undo(dir: &Path, annotator: &str) -> Result<Option<Receipt>> {
    Ok(Store::open(dir)?.undo(annotator)?)
}

/// Parses `train,dev,test` ratios from a flag such as `0.8,0.1,0.1`.
pub fn parse_ratios(s: &str) -> Result<[f64; 3]> {
    let parts: Vec<f64> = s
        .split(',')
        .map(|p| p.trim().parse::<f64>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| AppError::Invalid(format!("split ratios {s:?} are not three numbers like 0.8,0.1,0.1")))?;
    match parts.as_slice() {
        [a, b, c] => Ok([*a, *b, *c]),
        _ => Err(AppError::Invalid(format!("split ratios {s:?} are not three numbers like 0.8,0.1,0.1"))),
    }
}
