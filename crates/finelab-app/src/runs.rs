//! The recorded runs of a project: the run list ([`runs`]), one run in full ([`run`]), and a
//! run's report on a split ([`eval`]), stored or recomputed from its model. `crate::train`
//! re-exports them next to training itself.

use crate::predict::load_model;
use crate::{AppError, Result};
use finelab_store::{AnnotationValue, LabeledRecord, ProjectKind, RunRow, RunStatus, Split};
use finelab_train::metrics::{self, Report};
use finelab_train::{Prediction, Predictor, Task};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// One line of the run list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct RunSummary {
    /// The run id.
    pub id: String,
    /// Where the run is in its life.
    pub status: RunStatus,
    /// Model family.
    pub family: String,
    /// Device.
    pub device: String,
    /// Start (ms since the epoch).
    pub created_at: i64,
    /// End, when over.
    pub finished_at: Option<i64>,
    /// Hash of the labeled data snapshot.
    pub data_hash: String,
    /// Training records.
    pub n_train: u64,
    /// Development records.
    pub n_dev: u64,
    /// Test records.
    pub n_test: u64,
    /// Epochs evaluated.
    pub n_epochs: usize,
    /// Final dev macro-F1.
    pub dev_macro_f1: Option<f64>,
    /// Final test macro-F1.
    pub test_macro_f1: Option<f64>,
    /// The model folder, relative to the project.
    pub model_dir: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// `TrainRequest.model` as given: `instant` or the base model folder.
    #[serde(default)]
    pub model: Option<String>,
    /// The base model folder (transformer runs).
    #[serde(default)]
    pub base_model: Option<String>,
    /// The run this one resumed.
    #[serde(default)]
    pub resumed_from: Option<String>,
    /// Records whose predictions the run stored (for drill-down and suggestions).
    #[serde(default)]
    pub n_predictions: u64,
    /// Started by the background retrain while people labeled (only the newest few are kept).
    #[serde(default)]
    pub background: bool,
    /// How many of the records it trained on took their label by each rule (a reviewer's
    /// decision, the majority, the only label, the latest of tied labels) where several people
    /// label a record; empty for runs before Finelab recorded it.
    #[serde(default)]
    pub label_rules: std::collections::BTreeMap<finelab_store::LabelRule, u64>,
}

impl From<&RunRow> for RunSummary {
    fn from(run: &RunRow) -> Self {
        let macro_f1 = |r: &Option<Value>| r.as_ref().and_then(|r| r["macro avg"]["f1-score"].as_f64());
        RunSummary {
            id: run.id.clone(),
            status: run.status,
            family: run.family.clone(),
            device: run.device.clone(),
            created_at: run.created_at,
            finished_at: run.finished_at,
            data_hash: run.data_hash.clone(),
            n_train: run.n_train,
            n_dev: run.n_dev,
            n_test: run.n_test,
            n_epochs: run.epochs.len(),
            dev_macro_f1: macro_f1(&run.dev_report),
            test_macro_f1: macro_f1(&run.test_report),
            model_dir: run.model_dir.clone(),
            error: run.error.clone(),
            model: run.config.get("model").and_then(Value::as_str).map(str::to_string),
            base_model: run.base_model.clone(),
            resumed_from: run.config.get("resumed_from").and_then(Value::as_str).map(str::to_string),
            n_predictions: 0,
            background: run.config.get("background").and_then(Value::as_bool).unwrap_or(false),
            label_rules: run
                .config
                .get("label_rules")
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .unwrap_or_default(),
        }
    }
}

/// The project's runs, newest first (dead `running` runs are marked `interrupted` first).
pub fn runs(dir: &Path) -> Result<Vec<RunSummary>> {
    let store = open(dir)?;
    store
        .runs()?
        .iter()
        .map(|run| {
            let mut summary = RunSummary::from(run);
            summary.n_predictions = store.n_predictions(&run.id)?;
            Ok(summary)
        })
        .collect()
}

/// One run as stored, in full (per-epoch summaries and reports included).
pub fn run(dir: &Path, id: &str) -> Result<RunRow> {
    Ok(open(dir)?.run(id)?)
}

/// Where an evaluation's report comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum ReportSource {
    /// The report the run computed when it finished, on its exact data snapshot.
    Stored,
    /// Computed now by loading the run's model and predicting the split's current records (the
    /// run has no report for that split: the split was empty when it trained, or is `train`).
    Recomputed,
}

/// A run's report on one split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct Evaluation {
    /// The run id.
    pub run: String,
    /// The run's status (`completed` or `cancelled`).
    pub status: RunStatus,
    /// The split.
    pub split: Split,
    /// Stored or recomputed.
    pub source: ReportSource,
    /// The project's kind.
    pub kind: ProjectKind,
    /// The project's label set, in order (for laying out the report).
    pub labels: Vec<String>,
    /// Records the report covers.
    pub n_records: u64,
    /// The report (scikit-learn's `classification_report` dictionary, plus `confusion` for
    /// single-label).
    pub report: Value,
}

/// A run's report on `split`: by default the latest completed run.
///
/// The report stored with the run is returned when there is one: it was computed on the exact
/// data snapshot the run trained on. When the run has none for that split (the split was empty
/// when it trained, or the split is `train`), the run's model is loaded and evaluated on the
/// split's current labeled records ([`ReportSource::Recomputed`]).
pub fn eval(dir: &Path, run: Option<&str>, split: Split) -> Result<Evaluation> {
    let store = open(dir)?;
    let kind = store.kind()?;
    let labels: Vec<String> = store.labels()?.into_iter().map(|l| l.name).collect();
    let row = match run {
        Some(id) => store.run(id)?,
        None => {
            let runs = store.runs()?;
            match runs.iter().find(|r| r.status == RunStatus::Completed) {
                Some(r) => r.clone(),
                None => {
                    return Err(AppError::Invalid(match runs.first() {
                        None => format!(
                            "project {} has no runs yet; train one with `finelab train {} --model instant`",
                            dir.display(),
                            dir.display()
                        ),
                        Some(latest) => format!(
                        "project {} has no completed run (the latest, {}, is {}); name a run with --run, or train one",
                        dir.display(),
                        latest.id,
                        latest.status
                    ),
                    }))
                }
            }
        }
    };
    match row.status {
        RunStatus::Completed | RunStatus::Cancelled => {}
        RunStatus::Running => return Err(AppError::Invalid(format!("run {} is still running; it has no report yet", row.id))),
        RunStatus::Interrupted => {
            return Err(AppError::Invalid(format!(
                "run {} was interrupted: its process ended before training finished (killed or crashed), so it has no report; train again",
                row.id
            )))
        }
        RunStatus::Failed => {
            return Err(AppError::Invalid(format!(
                "run {} failed ({}), so it has no report",
                row.id,
                row.error.as_deref().unwrap_or("no reason recorded")
            )))
        }
    }
    let stored = match split {
        Split::Dev => row.dev_report.clone(),
        Split::Test => row.test_report.clone(),
        Split::Train => None,
    };
    if let Some(report) = stored {
        let n_records = if split == Split::Dev { row.n_dev } else { row.n_test };
        return Ok(Evaluation {
            run: row.id,
            status: row.status,
            split,
            source: ReportSource::Stored,
            kind,
            labels,
            n_records,
            report,
        });
    }
    let model_dir = match &row.model_dir {
        Some(m) => dir.join(m),
        None => {
            return Err(AppError::Invalid(format!(
                "run {} has no {} report and no model folder",
                row.id,
                split.as_str()
            )))
        }
    };
    if kind == ProjectKind::Generate {
        return Err(AppError::Invalid(format!(
            "run {} has no {} report: a generator's reports are computed when it trains, on the dev and test splits",
            row.id,
            split.as_str()
        )));
    }
    let records: Vec<LabeledRecord> = store.labeled_records()?.into_iter().filter(|r| r.split == Some(split)).collect();
    if records.is_empty() {
        return Err(AppError::Invalid(format!(
            "run {} has no {s} report: the {s} split was empty when it trained, and it is still empty",
            row.id,
            s = split.as_str()
        )));
    }
    let predictor = load_model(&model_dir)?;
    let report = evaluate(&predictor, &records, &row.id)?;
    Ok(Evaluation {
        run: row.id,
        status: row.status,
        split,
        source: ReportSource::Recomputed,
        kind,
        labels,
        n_records: records.len() as u64,
        report: report.to_json(),
    })
}

/// A training target as the store writes an annotation value (labels and spans sorted).
pub(crate) fn target_value(target: &finelab_train::Target) -> AnnotationValue {
    match target {
        finelab_train::Target::Single(label) => AnnotationValue::Label(label.clone()),
        finelab_train::Target::Multi(labels) => {
            let mut labels = labels.clone();
            labels.sort();
            labels.dedup();
            AnnotationValue::Labels(labels)
        }
        finelab_train::Target::Spans(spans) => {
            let mut spans: Vec<finelab_store::Span> = spans
                .iter()
                .map(|s| finelab_store::Span { start: s.start, end: s.end, label: s.label.clone() })
                .collect();
            spans.sort();
            AnnotationValue::Spans(spans)
        }
    }
}

/// [`evaluate`] on a run's examples (a dataset's dev or test split).
pub(crate) fn evaluate_examples(
    predictor: &Predictor,
    examples: &[finelab_train::Example],
    run: &str,
) -> Result<Report> {
    let records: Vec<LabeledRecord> = examples
        .iter()
        .map(|e| LabeledRecord {
            seq: 0,
            id: e.id.clone(),
            text: e.text.clone(),
            turns: None,
            value: target_value(&e.target),
            annotator: String::new(),
            confirmed: false,
            split: None,
            rule: finelab_store::LabelRule::Single,
        })
        .collect();
    evaluate(predictor, &records, run)
}

/// Scores a model on labeled records the way training scores dev and test: rows for the model's
/// labels (single- and multi-label), entity types found (spans).
fn evaluate(predictor: &Predictor, records: &[LabeledRecord], run: &str) -> Result<Report> {
    let labels = predictor.labels();
    let texts: Vec<&str> = records.iter().map(|r| r.text.as_str()).collect();
    let predictions: Vec<Prediction> = predictor.predict_batch(&texts)?;
    let report = match predictor.task() {
        Task::Single => {
            let mut gold = Vec::new();
            let mut pred = Vec::new();
            for (record, p) in records.iter().zip(predictions) {
                let (AnnotationValue::Label(g), Prediction::Single { label, .. }) = (&record.value, p) else {
                    return Err(kind_mismatch(run, &record.id));
                };
                gold.push(g.clone());
                pred.push(label);
            }
            metrics::single_label_report_with_labels(&gold, &pred, labels)?
        }
        Task::Multi => {
            let mut gold = Vec::new();
            let mut pred = Vec::new();
            for (record, p) in records.iter().zip(predictions) {
                let (AnnotationValue::Labels(g), Prediction::Multi { labels: p, .. }) = (&record.value, p) else {
                    return Err(kind_mismatch(run, &record.id));
                };
                if let Some(unknown) = g.iter().find(|l| !labels.contains(l)) {
                    return Err(AppError::Invalid(format!(
                        "record {} has label {unknown:?}, which the model of run {run} does not know (added after it trained)",
                        record.id
                    )));
                }
                gold.push(g.clone());
                pred.push(p);
            }
            metrics::multi_label_report(&gold, &pred, labels)?
        }
        Task::Spans => {
            let mut gold = Vec::new();
            let mut pred = Vec::new();
            for (record, p) in records.iter().zip(predictions) {
                let (AnnotationValue::Spans(g), Prediction::Spans { spans }) = (&record.value, p) else {
                    return Err(kind_mismatch(run, &record.id));
                };
                gold.push(g.iter().map(|s| finelab_train::Span::new(s.start, s.end, s.label.clone())).collect());
                pred.push(spans.into_iter().map(|s| s.into_span()).collect());
            }
            metrics::span_report(&gold, &pred)?
        }
    };
    Ok(report)
}

fn kind_mismatch(run: &str, record: &str) -> AppError {
    AppError::Invalid(format!("record {record} has a label of another kind than the model of run {run} predicts"))
}

/// Whether the process `pid` still runs. On Linux it reads `/proc/<pid>/stat` (a zombie counts as
/// gone); on other Unix systems it asks `kill -0`; elsewhere it cannot tell and says yes, so a
/// crashed run there stays `running` rather than a live one being marked `interrupted`. A pid
/// reused by an unrelated process also reads as alive: the run then stays `running` until that
/// process ends.
pub fn process_alive(pid: u32) -> bool {
    #[cfg(target_os = "linux")]
    {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            // "pid (comm) S ...": the state follows the last ')', since comm may hold anything.
            Ok(stat) => stat
                .rfind(')')
                .and_then(|i| stat[i + 1..].trim_start().chars().next())
                .is_none_or(|state| !matches!(state, 'Z' | 'X' | 'x')),
            Err(_) => false,
        }
    }
    #[cfg(all(unix, not(target_os = "linux")))]
    {
        std::process::Command::new("kill")
            .args(["-0", &pid.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(true)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

/// The runs this process is training or storing predictions for. A long-lived process (the
/// desktop app, `finelab serve`) trains in threads while other requests open the project: a
/// `running` run with this process's pid is alive exactly while it is listed here (otherwise it
/// was left by an earlier process that had the same pid, or by a job of this one that died).
static RUNS_HERE: Mutex<Vec<(PathBuf, String)>> = Mutex::new(Vec::new());

/// The project folder as [`RUNS_HERE`] keys it: run ids are times, so two projects trained at
/// once in one process can hold the same id.
fn project_key(dir: &Path) -> PathBuf {
    std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf())
}

/// Lists one run of the project in `dir` in [`RUNS_HERE`] for as long as it lives: from before
/// the run is recorded until its predictions are stored.
pub(crate) struct RunHere(PathBuf, String);

impl RunHere {
    pub(crate) fn start(dir: &Path, run: &str) -> RunHere {
        let key = project_key(dir);
        RUNS_HERE.lock().unwrap().push((key.clone(), run.to_string()));
        RunHere(key, run.to_string())
    }
}

impl Drop for RunHere {
    fn drop(&mut self) {
        let mut runs = RUNS_HERE.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(i) = runs.iter().position(|(d, r)| *d == self.0 && *r == self.1) {
            runs.swap_remove(i);
        }
    }
}

/// Whether `run` of the project in `dir`, recorded with `pid`, may still be training.
fn run_alive(dir: &Path, run: &str, pid: u32) -> bool {
    if pid == std::process::id() {
        let key = project_key(dir);
        RUNS_HERE.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).iter().any(|(d, r)| *d == key && r == run)
    } else {
        process_alive(pid)
    }
}

/// Opens a project and marks its dead runs `interrupted`.
pub(crate) fn open(dir: &Path) -> Result<finelab_store::Store> {
    let store = finelab_store::Store::open(dir)?;
    store.mark_interrupted_runs(&|run, pid| run_alive(dir, run, pid))?;
    Ok(store)
}
