//! Helpers shared by the store's integration tests.
#![allow(dead_code)]

use finelab_store::import::{ImportOptions, ImportReport};
use finelab_store::{LabelDef, NewProject, ProjectKind, SplitRatios, Store};
use std::path::{Path, PathBuf};

pub mod xlsx;

pub fn new_project(dir: &Path, kind: ProjectKind, labels: &[&str]) -> Store {
    Store::create(
        dir,
        &NewProject {
            name: "test".into(),
            kind,
            labels: labels.iter().enumerate().map(|(i, l)| LabelDef::with_defaults(l, i)).collect(),
            guidelines: String::new(),
            split_seed: 42,
            split_ratios: SplitRatios::default(),
        },
    )
    .unwrap()
}

pub fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

pub fn import(store: &mut Store, path: &Path, options: &ImportOptions) -> ImportReport {
    store.import(path, options, &mut |_| true).unwrap()
}

pub fn rejected_lines(report: &ImportReport) -> Vec<u64> {
    report.rejected.iter().map(|e| e.line).collect()
}

/// The workspace root (for data fetched by scripts/fetch-data.sh).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).unwrap().to_path_buf()
}

/// A data file fetched by `scripts/fetch-data.sh`; the test fails (never skips) when it is missing.
pub fn data_file(rel: &str) -> PathBuf {
    let path = workspace_root().join(".cache/data").join(rel);
    assert!(path.is_file(), "{} is missing: run scripts/fetch-data.sh (the test command does)", path.display());
    path
}

pub fn export_jsonl(store: &Store) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let options = finelab_store::export::ExportOptions {
        format: finelab_store::export::ExportFormat::Jsonl,
        split: None,
        labeled_only: false,
        annotations: false,
    };
    store.export(&options, &mut out, &mut |_, _| true).unwrap();
    String::from_utf8(out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}
