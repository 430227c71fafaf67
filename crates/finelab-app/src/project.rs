//! Projects: create, import, export, statistics, splits, labeling and search.

use crate::jobs::{JobEnd, JobKind, JobStart, JobState, Jobs};
use crate::{AppError, Result};
use finelab_store::export::{ExportOptions, ExportSummary};
use finelab_store::import::{ColumnMap, DialogTargets, EncodingChoice, Format};
use finelab_store::import::{ImportOptions, ImportProgress, ImportReport};
use finelab_store::search::{SearchPage, SearchQuery};
use finelab_store::{
    Action, LabelDef, NewProject, ProjectKind, Receipt, RecordView, SplitRatios, SplitSummary, Stats, Store,
};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use ts_rs::TS;

/// How to import a file, as a form or a flag gives it (validated into `ImportOptions`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
pub struct ImportRequest {
    /// `csv`, `tsv`, `jsonl`, `json`, `xlsx`, `text`, `conll`; detected when absent.
    pub format: Option<String>,
    /// `auto` (default), `utf-8`, `gb18030`...
    pub encoding: Option<String>,
    /// One-character CSV delimiter; detected when absent.
    pub delimiter: Option<String>,
    /// Column mapping.
    #[serde(default)]
    pub columns: ColumnMap,
    /// Label every record without one with this label.
    pub fixed_label: Option<String>,
    /// Add unknown labels to the label set.
    #[serde(default)]
    pub add_labels: bool,
    /// Import nothing if any row is bad.
    #[serde(default)]
    pub strict: bool,
    /// Import records whose text is already in the project.
    #[serde(default)]
    pub keep_duplicates: bool,
    /// Generate projects, dialogs: which agent turns become outputs (`last`, the default: one
    /// record a dialog; `each_agent_turn`: every agent turn is the output of the turns before it).
    #[serde(default)]
    #[ts(optional)]
    pub dialog_targets: Option<DialogTargets>,
    /// Generate projects: the speakers whose turns are the agent's (default: assistant, agent,
    /// bot, gpt, 客服, 坐席, 助手...).
    #[serde(default)]
    #[ts(optional)]
    pub agents: Option<Vec<String>>,
}

impl ImportRequest {
    /// Validates the request into the store's options.
    pub fn to_options(&self) -> Result<ImportOptions> {
        let delimiter = match self.delimiter.as_deref() {
            None | Some("") => None,
            Some("\\t") | Some("tab") | Some("\t") => Some(b'\t'),
            Some(d) if d.len() == 1 => Some(d.as_bytes()[0]),
            Some(d) => return Err(AppError::Invalid(format!("the delimiter must be one character, got {d:?}"))),
        };
        let nonempty = |s: &Option<String>| s.clone().filter(|v| !v.trim().is_empty());
        Ok(ImportOptions {
            format: self.format.as_deref().filter(|f| !f.is_empty()).map(str::parse::<Format>).transpose()?,
            encoding: match self.encoding.as_deref() {
                None | Some("") => EncodingChoice::Auto,
                Some(e) => e.parse()?,
            },
            delimiter,
            columns: ColumnMap {
                text: nonempty(&self.columns.text),
                label: nonempty(&self.columns.label),
                id: nonempty(&self.columns.id),
                group: nonempty(&self.columns.group),
                speaker: nonempty(&self.columns.speaker),
                output: nonempty(&self.columns.output),
            },
            fixed_label: nonempty(&self.fixed_label),
            add_labels: self.add_labels,
            strict: self.strict,
            keep_duplicates: self.keep_duplicates,
            dialog_targets: self.dialog_targets.unwrap_or_default(),
            agent_speakers: self
                .agents
                .iter()
                .flatten()
                .map(|a| a.trim().to_string())
                .filter(|a| !a.is_empty())
                .collect(),
            annotator: None,
            skip_search_index: false,
        })
    }
}

/// A folder as given (a form, a flag) made absolute: canonical when it exists, else joined to
/// the current folder.
pub fn absolute(dir: &str) -> PathBuf {
    let p = PathBuf::from(dir);
    std::fs::canonicalize(&p).unwrap_or_else(|_| std::env::current_dir().map(|c| c.join(&p)).unwrap_or(p))
}

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

/// Imports one file; its labeled records get their splits in the import's transaction. The
/// search index is brought up to date separately ([`index_search`]), so the records can be
/// labeled as soon as they land.
pub fn import(
    dir: &Path,
    path: &Path,
    options: &ImportOptions,
    progress: &mut dyn FnMut(&ImportProgress) -> bool,
) -> Result<ImportOutcome> {
    let mut store = Store::open(dir)?;
    let report = store.import(path, options, progress)?;
    // The records are committed: the split totals below are for the report only, and a failure
    // to read them must not turn a done import into an error.
    let mut splits = store.split_totals().unwrap_or_default();
    splits.assigned = report.splits_assigned;
    Ok(ImportOutcome { report, splits })
}

/// Starts importing `path` into the project in `dir` as a job of kind `import` (progress in
/// bytes read); its result is the [`ImportOutcome`]. A missing project or file fails before a
/// job exists; cancelling leaves the project as it was.
pub fn start_import(jobs: &Jobs, dir: &Path, path: &Path, options: ImportOptions) -> Result<JobState> {
    if !dir.join(finelab_store::DB_FILE).is_file() {
        return Err(finelab_store::Error::NotAProject(dir.to_path_buf()).into());
    }
    let total =
        std::fs::metadata(path).map_err(|e| AppError::Io { path: path.display().to_string(), source: e })?.len();
    let start = JobStart {
        kind: JobKind::Import,
        dir: Some(dir.display().to_string()),
        message: format!("importing {}", path.display()),
        total,
        train: None,
    };
    let (dir, path) = (dir.to_path_buf(), path.to_path_buf());
    jobs.spawn("import", start, move |job| {
        let outcome = import(&dir, &path, &options, &mut |p| {
            job.update(|s| {
                s.done = p.bytes_read;
                s.total = p.bytes_total;
                s.message = format!("{} rows read", p.rows);
            });
            !job.is_cancelled()
        })
        .map_err(|e| {
            if e.is_cancelled() {
                AppError::Cancelled("cancelled: nothing was imported".into())
            } else {
                e
            }
        })?;
        job.update(|s| s.done = s.total);
        Ok(JobEnd {
            message: format!("imported {} records", outcome.report.imported),
            result: serde_json::to_value(&outcome).expect("an import outcome serializes"),
            cancelled: false,
        })
    })
}

/// Adds records not yet indexed to the search index; `progress(done, total)` may stop it.
pub fn index_search(dir: &Path, progress: &mut dyn FnMut(u64, u64) -> bool) -> Result<u64> {
    let mut store = Store::open(dir)?;
    Ok(store.index_pending(50_000, progress)?)
}

/// Exports the project to `out`.
pub fn export(
    dir: &Path,
    options: &ExportOptions,
    out: &mut dyn std::io::Write,
    progress: &mut dyn FnMut(u64, u64) -> bool,
) -> Result<ExportSummary> {
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

/// The next `n` records the label screen would show `annotator`, in that order.
pub fn next_records(
    dir: &Path,
    annotator: &str,
    n: usize,
    keep: &dyn Fn(&RecordView) -> bool,
) -> Result<Vec<RecordView>> {
    let store = Store::open(dir)?;
    let mut out: Vec<RecordView> = Vec::with_capacity(n.min(1000));
    let mut seen = std::collections::HashSet::new();
    let mut after = None;
    while out.len() < n {
        // The queue wraps around (then serves skipped records): once a record comes round again,
        // everything has been seen.
        let Some(view) = store.next_record(annotator, after)? else { break };
        if !seen.insert(view.record.seq) {
            break;
        }
        after = Some(view.record.seq);
        if keep(&view) {
            out.push(view);
        }
    }
    Ok(out)
}

/// The project's guidelines (Markdown).
pub fn guidelines(dir: &Path) -> Result<String> {
    Ok(Store::open(dir)?.settings()?.guidelines)
}

/// Replaces the project's guidelines.
pub fn set_guidelines(dir: &Path, markdown: &str) -> Result<()> {
    Ok(Store::open(dir)?.set_guidelines(markdown)?)
}

/// Settings to change (`None`: leave as it is).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, ts_rs::TS)]
pub struct SettingsChange {
    /// Labels between two background retrains of the instant model (0: never).
    #[serde(default)]
    pub retrain_every: Option<u64>,
    /// Annotators per record (1 to 20).
    #[serde(default)]
    pub overlap: Option<u32>,
    /// Whether signed-in annotators see the labels of others.
    #[serde(default)]
    pub annotators_see_others: Option<bool>,
    /// What a record whose annotators tie trains on.
    #[serde(default)]
    pub tie_rule: Option<finelab_store::TieRule>,
}

/// The project's settings, after the changes given.
pub fn settings(dir: &Path, change: &SettingsChange) -> Result<finelab_store::ProjectSettings> {
    let store = Store::open(dir)?;
    if let Some(every) = change.retrain_every {
        store.set_retrain_every(every)?;
    }
    if let Some(k) = change.overlap {
        store.set_overlap(k)?;
    }
    if let Some(see) = change.annotators_see_others {
        store.set_annotators_see_others(see)?;
    }
    if let Some(rule) = change.tie_rule {
        store.set_tie_rule(rule)?;
    }
    Ok(store.settings()?)
}

/// What [`annotate_file`] did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct AnnotateFileReport {
    /// The file read.
    pub path: String,
    /// Non-empty lines read.
    pub lines: u64,
    /// Annotations written (one log entry each).
    pub applied: u64,
    /// How many of them made an unlabeled record labeled.
    pub newly_labeled: u64,
    /// Lines not applied, with their line number and reason (the first 1,000).
    pub rejected: Vec<finelab_store::import::RowError>,
    /// Lines not applied in all.
    pub n_rejected: u64,
}

/// Applies labels made elsewhere to existing records: a JSON Lines file of `{"id", "label"}`
/// (single), `{"id", "labels"}` (multi; a `label` string is one label) or `{"id", "spans":
/// [{"start", "end", "label"}]}` (code points), each line one annotation-log entry by
/// `annotator`, all in one transaction. Lines with an unknown id, no value or a value the
/// project cannot take are reported by line and skipped. With `decisions`, `annotator` is a
/// reviewer and each label their decision where annotators disagree (adjudication).
pub fn annotate_file(dir: &Path, path: &Path, annotator: &str, decisions: bool) -> Result<AnnotateFileReport> {
    use finelab_store::import::RowError;
    use finelab_store::AnnotationValue;
    use std::io::BufRead;
    let mut store = Store::open(dir)?;
    let kind = store.kind()?;
    let file = std::fs::File::open(path).map_err(|e| AppError::Io { path: path.display().to_string(), source: e })?;
    let mut report = AnnotateFileReport {
        path: path.display().to_string(),
        lines: 0,
        applied: 0,
        newly_labeled: 0,
        rejected: Vec::new(),
        n_rejected: 0,
    };
    let reject = |report: &mut AnnotateFileReport, line: u64, reason: String| {
        report.n_rejected += 1;
        if report.rejected.len() < 1000 {
            report.rejected.push(RowError { line, reason });
        }
    };
    let mut items: Vec<(i64, Action)> = Vec::new();
    let mut item_lines: Vec<u64> = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line_no = i as u64 + 1;
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                reject(&mut report, line_no, format!("cannot read the line: {e}"));
                continue;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        report.lines += 1;
        let value: serde_json::Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(e) => {
                reject(&mut report, line_no, format!("not JSON: {e}"));
                continue;
            }
        };
        let Some(id) =
            value.get("id").and_then(|v| v.as_str().map(str::to_string).or_else(|| v.as_i64().map(|n| n.to_string())))
        else {
            reject(&mut report, line_no, "no \"id\"".into());
            continue;
        };
        let parsed: std::result::Result<AnnotationValue, String> = match kind {
            ProjectKind::Single => match value.get("label") {
                Some(serde_json::Value::String(l)) => Ok(AnnotationValue::Label(l.clone())),
                _ => Err("a single-label project needs \"label\": a string".into()),
            },
            ProjectKind::Multi => match (value.get("labels"), value.get("label")) {
                (Some(ls), _) => serde_json::from_value::<Vec<String>>(ls.clone())
                    .map(AnnotationValue::Labels)
                    .map_err(|_| "\"labels\" must be a list of strings".to_string()),
                (None, Some(serde_json::Value::String(l))) => Ok(AnnotationValue::Labels(vec![l.clone()])),
                _ => Err("a multi-label project needs \"labels\": a list of strings".into()),
            },
            ProjectKind::Spans => match value.get("spans") {
                Some(spans) => serde_json::from_value::<Vec<finelab_store::Span>>(spans.clone())
                    .map(AnnotationValue::Spans)
                    .map_err(|e| format!("\"spans\" must be a list of {{\"start\", \"end\", \"label\"}}: {e}")),
                None => Err("a span project needs \"spans\": a list of {\"start\", \"end\", \"label\"}".into()),
            },
            ProjectKind::Generate => match value.get("output") {
                Some(serde_json::Value::String(o)) => Ok(AnnotationValue::Output(o.clone())),
                _ => Err("a generate project needs \"output\": a string".into()),
            },
        };
        let value = match parsed {
            Ok(v) => v,
            Err(reason) => {
                reject(&mut report, line_no, reason);
                continue;
            }
        };
        let seq = match store.record(&id) {
            Ok(view) => view.record.seq,
            Err(finelab_store::Error::NoSuchRecord(_)) => {
                reject(&mut report, line_no, format!("no record has the id {id:?}"));
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        items.push((seq, Action::Label { value }));
        item_lines.push(line_no);
    }
    let outcomes = store.annotate_many_as(annotator, &items, decisions)?;
    for (outcome, line) in outcomes.into_iter().zip(item_lines) {
        match outcome {
            Ok(receipt) => {
                report.applied += 1;
                report.newly_labeled += u64::from(receipt.labeled_delta > 0);
            }
            Err(e) => reject(&mut report, line, e.to_string()),
        }
    }
    report.rejected.sort_by_key(|r| r.line);
    Ok(report)
}
