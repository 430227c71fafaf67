//! Finelab's project store.
//!
//! A project is a folder holding `project.sqlite` (and, later, `runs/`). This crate owns every SQL
//! string of Finelab: the schema and its migrations, records, the label set, the append-only
//! annotation log and the state derived from it, splits, runs, search, and the import and export
//! of files. Rows become domain types here; multi-row writes happen in one transaction.
#![deny(missing_docs)]

pub mod annotations;
mod comparisons;
mod error;
pub mod export;
pub mod import;
mod predictions;
mod project;
mod runs;
mod schema;
pub mod search;
mod splits;
mod teams;
mod types;
mod users;

pub use annotations::{Action, LogEntry, Receipt};
pub use comparisons::{
    char_distance, Choice, Comparison, ComparisonItem, DraftEdits, Judgement, NewComparisonItem, PreferenceReceipt,
    Preferred,
};
pub use error::{Error, Result};
pub use predictions::{NewPrediction, RunOutput, RunRecord, RunRecordsPage, RunRecordsQuery};
pub use project::Store;
pub use runs::{NewRun, RunRow, RunUpdate};
pub use schema::latest_version;
pub use splits::SplitSummary;
pub use teams::{Assignment, LabelRule, Rating, TieRule};
pub use types::*;
pub use users::{Role, User};

/// The file name of the database inside a project folder.
pub const DB_FILE: &str = "project.sqlite";

/// Milliseconds since the Unix epoch, the time unit of every stored timestamp.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// A 64-bit content hash of a record's text (and turns), used to detect duplicates.
pub fn content_hash(text: &str) -> i64 {
    xxhash_rust::xxh3::xxh3_64(text.as_bytes()) as i64
}
