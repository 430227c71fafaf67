//! Import: one streaming pipeline from a file to records and annotations.
//!
//! A reader per format turns the file into [`SourceRow`]s (or [`RowError`]s that name the line and
//! the reason); the writer validates each row against the project and inserts it. One file is one
//! transaction: a process killed mid-import leaves the project as it was. Bad rows are reported, not
//! dropped silently; `strict` imports nothing when any row is bad.
//!
//! A generate project reads the shapes text-to-text data comes in (see `generate.rs`): JSON
//! Lines of `prompt`/`completion`, `input`/`output` (Finelab's own export, also with `turns`),
//! Alpaca's `instruction`/`input`/`output`, OpenAI's `messages` and ShareGPT's
//! `conversations`, one shape a file; tables with an input and an output column; dialogs
//! grouped by conversation id, whose agent turns become outputs ([`DialogTargets`]). The
//! output is imported as a label (an [`crate::AnnotationValue::Output`] logged under the
//! import's annotator), like the labels of the other kinds.

mod delimited;
mod encoding;
mod generate;
mod json;
mod tables;
mod text;
mod workbook;

pub use encoding::EncodingChoice;

use crate::annotations::{normalize_value, write_current};
use crate::{AnnotationValue, Error, ProjectKind, Result, Span, Split, Store, Turn};
pub use generate::DialogTargets;
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// File formats Finelab imports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Comma-separated (or any detected delimiter).
    Csv,
    /// Tab-separated.
    Tsv,
    /// One JSON object a line.
    Jsonl,
    /// A JSON array of objects.
    Json,
    /// Excel workbook (first sheet).
    Xlsx,
    /// Plain text, one record a line.
    Text,
    /// CoNLL / BIO / BMES: one token and its tag a line, a blank line between sentences.
    Conll,
}

impl std::str::FromStr for Format {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "csv" => Format::Csv,
            "tsv" | "tab" => Format::Tsv,
            "jsonl" | "ndjson" => Format::Jsonl,
            "json" => Format::Json,
            "xlsx" | "xlsm" | "xls" | "excel" => Format::Xlsx,
            "txt" | "text" => Format::Text,
            "conll" | "bio" | "bmes" | "iob" => Format::Conll,
            other => {
                return Err(Error::Invalid(format!(
                    "unknown format {other:?}; expected csv, tsv, jsonl, json, xlsx, text or conll"
                )))
            }
        })
    }
}

impl Format {
    /// The format a file's extension (and, for `.txt`, its first lines) suggests.
    pub fn detect(path: &Path) -> Result<Format> {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        Ok(match ext.as_str() {
            "csv" => Format::Csv,
            "tsv" | "tab" => Format::Tsv,
            "jsonl" | "ndjson" => Format::Jsonl,
            "json" => Format::Json,
            "xlsx" | "xlsm" | "xls" | "xlsb" | "ods" => Format::Xlsx,
            "conll" | "bio" | "bmes" | "iob" | "conllu" => Format::Conll,
            _ => {
                if text::looks_like_conll(path)? {
                    Format::Conll
                } else {
                    Format::Text
                }
            }
        })
    }

    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Tsv => "tsv",
            Format::Jsonl => "jsonl",
            Format::Json => "json",
            Format::Xlsx => "xlsx",
            Format::Text => "text",
            Format::Conll => "conll",
        }
    }
}

/// Which source columns (or JSON keys) hold what. `None` means detect from common names.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct ColumnMap {
    /// The text column (name, or 1-based number).
    pub text: Option<String>,
    /// The label column.
    pub label: Option<String>,
    /// The id column.
    pub id: Option<String>,
    /// The conversation-id column: rows sharing it become one dialog record.
    pub group: Option<String>,
    /// The speaker column of dialog rows.
    pub speaker: Option<String>,
    /// The output column (or JSON key) of a generate project; the text column is its input.
    #[serde(default)]
    #[ts(optional = nullable)]
    pub output: Option<String>,
}

/// Everything an import can be told.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Format; detected from the extension when `None`.
    pub format: Option<Format>,
    /// Encoding of text formats.
    pub encoding: EncodingChoice,
    /// CSV delimiter; detected when `None`.
    pub delimiter: Option<u8>,
    /// Column mapping.
    pub columns: ColumnMap,
    /// A label given to every imported record that has none (e.g. `pos` for `pos.txt`).
    pub fixed_label: Option<String>,
    /// Add labels missing from the label set instead of rejecting their rows.
    pub add_labels: bool,
    /// Import nothing when any row is bad.
    pub strict: bool,
    /// Import records whose text is already in the project instead of skipping them.
    pub keep_duplicates: bool,
    /// The annotator that labels found in the file are logged under (default `import`).
    pub annotator: Option<String>,
    /// Leave the search index alone (records are then found by scanning until `index_pending`).
    pub skip_search_index: bool,
    /// Generate projects: which agent turns of a dialog (a `messages` or `conversations` line,
    /// rows grouped by conversation id) become outputs.
    pub dialog_targets: DialogTargets,
    /// Generate projects: the speakers whose turns are the agent's, compared
    /// case-insensitively. Empty: the names the project was given before, else
    /// [`crate::DEFAULT_AGENT_SPEAKERS`]; `assistant` and `gpt` always are. Names given here are
    /// remembered by the project (for its exports) when the import is written.
    pub agent_speakers: Vec<String>,
}

/// A rejected row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct RowError {
    /// Line in the file (1-based; for a spreadsheet, the row number).
    pub line: u64,
    /// Why it was rejected.
    pub reason: String,
}

/// A row skipped because its text is already in the project (or earlier in the file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct Duplicate {
    /// Line in the file.
    pub line: u64,
    /// The id of the record that already has this text.
    pub existing_id: String,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct ImportReport {
    /// The file.
    pub path: String,
    /// Its format.
    pub format: Format,
    /// The encoding it was read with.
    pub encoding: String,
    /// The CSV delimiter used.
    pub delimiter: Option<String>,
    /// Rows (records, dialogs, sentences) read from the file.
    pub rows: u64,
    /// Records imported.
    pub imported: u64,
    /// Of those, records that came with a label.
    pub labeled: u64,
    /// Labeled records given their train/dev/test split by this import (those whose row named
    /// no split), in the same transaction.
    pub splits_assigned: u64,
    /// Rows skipped as duplicates.
    pub duplicates: u64,
    /// The first duplicates, with the record they repeat.
    pub duplicate_examples: Vec<Duplicate>,
    /// Every rejected row (up to 100,000 listed; `n_rejected` counts all).
    pub rejected: Vec<RowError>,
    /// Rejected rows.
    pub n_rejected: u64,
    /// Rows left out on purpose, with their line and why (a Prodigy `ignore` answer, a `reject`
    /// that names no label); the first 100,000. They are no error: `strict` accepts them.
    pub skipped: Vec<RowError>,
    /// Rows left out on purpose in all.
    pub n_skipped: u64,
    /// Labels added to the label set (`add_labels`).
    pub added_labels: Vec<String>,
    /// Seconds spent.
    pub seconds: f64,
}

/// Progress of a running import.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct ImportProgress {
    /// Bytes of the file read so far.
    pub bytes_read: u64,
    /// The file's size.
    pub bytes_total: u64,
    /// Rows handled so far.
    pub rows: u64,
}

/// The first rows of a file as the importer sees it, for the column-mapping screen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct ImportPreview {
    /// Detected (or given) format.
    pub format: Format,
    /// Detected (or given) encoding.
    pub encoding: String,
    /// Detected (or given) CSV delimiter.
    pub delimiter: Option<String>,
    /// Column names (tables) or keys (JSON), in file order.
    pub columns: Vec<String>,
    /// The first rows, one cell a column.
    pub rows: Vec<Vec<String>>,
    /// The columns the importer picks when none are named.
    pub detected: ColumnMap,
}

/// Reads the first `n` rows of `path` for a preview; `kind` decides how labels are read.
pub fn preview(path: &Path, kind: ProjectKind, options: &ImportOptions, n: usize) -> Result<ImportPreview> {
    let format = match options.format {
        Some(f) => f,
        None => Format::detect(path)?,
    };
    let ctx = ReadContext {
        path,
        options,
        kind,
        labels: Vec::new(),
        agents: options.agent_speakers.clone(),
        counter: ByteCounter::default(),
    };
    match format {
        Format::Csv | Format::Tsv | Format::Xlsx => tables::preview(&ctx, format, n),
        _ => {
            let opened = match format {
                Format::Jsonl => json::open_jsonl(&ctx)?,
                Format::Json => json::open_json_array(&ctx)?,
                Format::Text => text::open_lines(&ctx)?,
                _ => text::open_conll(&ctx)?,
            };
            let columns = vec!["line".to_string(), "id".into(), "text".into(), "label".into()];
            let rows = opened
                .rows
                .take(n)
                .map(|r| match r {
                    Ok(row) => {
                        let text = match &row.turns {
                            Some(turns) => crate::format_dialog(turns),
                            None => row.text.clone().unwrap_or_default(),
                        };
                        let label = match &row.value {
                            None => String::new(),
                            Some(RawValue::Label(l)) => l.clone(),
                            Some(RawValue::Labels(ls)) => ls.join("|"),
                            Some(RawValue::Spans(s)) => serde_json::to_string(s).unwrap_or_default(),
                            Some(RawValue::Output(o)) => o.clone(),
                        };
                        vec![row.line.to_string(), row.id.clone().unwrap_or_default(), text, label]
                    }
                    Err(e) => vec![e.line.to_string(), String::new(), format!("rejected: {}", e.reason), String::new()],
                })
                .collect();
            Ok(ImportPreview {
                format,
                encoding: opened.encoding,
                delimiter: None,
                columns,
                rows,
                detected: ColumnMap::default(),
            })
        }
    }
}

/// A value found in a source row, before it is checked against the project.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RawValue {
    Label(String),
    Labels(Vec<String>),
    Spans(Vec<Span>),
    /// A generate project's output.
    Output(String),
}

/// A row as a reader produces it.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct SourceRow {
    pub line: u64,
    pub id: Option<String>,
    pub text: Option<String>,
    pub turns: Option<Vec<Turn>>,
    pub meta: serde_json::Map<String, serde_json::Value>,
    pub value: Option<RawValue>,
    pub split: Option<Split>,
    pub annotator: Option<String>,
    /// More annotations of the same row by other annotators (annotator, value), e.g. a Label
    /// Studio task labeled by several people; `value` and `annotator` hold the first.
    pub extra_annotations: Vec<(String, RawValue)>,
    /// Why the row is left out on purpose (a Prodigy `ignore` answer): counted in the report as
    /// skipped, which is not an error.
    pub skip: Option<String>,
    /// The split group: records made from one dialog get one split (see `splits.rs`).
    pub group: Option<String>,
}

pub(crate) type RowResult = std::result::Result<SourceRow, RowError>;

/// What a reader needs to know.
pub(crate) struct ReadContext<'a> {
    pub path: &'a Path,
    pub options: &'a ImportOptions,
    pub kind: ProjectKind,
    /// The project's label names (empty in a preview), for answers that name a label by
    /// rejecting the other one (Prodigy's `reject`).
    pub labels: Vec<String>,
    /// The agent speakers of dialogs (generate projects; empty: the defaults).
    pub agents: Vec<String>,
    pub counter: ByteCounter,
}

/// Counts bytes read from the file, for progress.
#[derive(Clone, Default)]
pub(crate) struct ByteCounter(Arc<AtomicU64>);

impl ByteCounter {
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

pub(crate) struct Counting<R> {
    pub inner: R,
    pub counter: ByteCounter,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counter.add(n as u64);
        Ok(n)
    }
}

/// What a reader returns: the rows, and facts for the report.
pub(crate) struct Opened<'a> {
    pub rows: Box<dyn Iterator<Item = RowResult> + 'a>,
    pub encoding: String,
    pub delimiter: Option<u8>,
}

const MAX_LISTED: usize = 100_000;
const MAX_DUPLICATE_EXAMPLES: usize = 1_000;

/// Splits a multi-label cell: `a|b`, `a;b`, `a,b` and the Chinese separators.
pub(crate) fn split_labels(cell: &str) -> Vec<String> {
    cell.split(['|', ';', ',', '，', '；', '、']).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

fn resolve_value(kind: ProjectKind, raw: RawValue) -> AnnotationValue {
    match (kind, raw) {
        // An empty list is "no spans" in a span project and "no labels" elsewhere.
        (ProjectKind::Spans, RawValue::Labels(ls)) if ls.is_empty() => AnnotationValue::Spans(Vec::new()),
        (_, RawValue::Spans(s)) => AnnotationValue::Spans(s),
        (_, RawValue::Output(o)) => AnnotationValue::Output(o),
        (ProjectKind::Multi, RawValue::Label(l)) => AnnotationValue::Labels(split_labels(&l)),
        (_, RawValue::Label(l)) => AnnotationValue::Label(l),
        (_, RawValue::Labels(ls)) => AnnotationValue::Labels(ls),
    }
}

/// A short id derived from the content, so the same text gets the same id in every project.
fn generated_id(hash: i64) -> String {
    format!("{:012x}", (hash as u64) >> 16)
}

impl Store {
    /// Imports one file in one transaction; see the module docs.
    pub fn import(
        &mut self,
        path: &Path,
        options: &ImportOptions,
        progress: &mut dyn FnMut(&ImportProgress) -> bool,
    ) -> Result<ImportReport> {
        let started = std::time::Instant::now();
        let kind = self.kind()?;
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if !meta.is_file() {
            return Err(Error::BadFile { path: path.to_path_buf(), reason: "not a file".into() });
        }
        let bytes_total = meta.len();
        let format = match options.format {
            Some(f) => f,
            None => Format::detect(path)?,
        };
        if let Some(label) = &options.fixed_label {
            if kind == ProjectKind::Generate {
                return Err(Error::Invalid(
                    "a generate project takes outputs, not a fixed label for every record".into(),
                ));
            }
            crate::project::validate_label_name(label)?;
        }
        let counter = ByteCounter::default();
        let labels = self.labels()?.into_iter().map(|l| l.name).collect();
        let agents =
            if options.agent_speakers.is_empty() { self.agent_speakers()? } else { options.agent_speakers.clone() };
        let ctx = ReadContext { path, options, kind, labels, agents, counter: counter.clone() };
        let opened = match format {
            Format::Csv | Format::Tsv | Format::Xlsx => tables::open(&ctx, format)?,
            Format::Jsonl => json::open_jsonl(&ctx)?,
            Format::Json => json::open_json_array(&ctx)?,
            Format::Text => text::open_lines(&ctx)?,
            Format::Conll => text::open_conll(&ctx)?,
        };
        let annotator_default = options.annotator.clone().unwrap_or_else(|| "import".to_string());
        crate::annotations::validate_annotator(&annotator_default)?;
        let mut report = ImportReport {
            path: path.display().to_string(),
            format,
            encoding: opened.encoding.clone(),
            delimiter: opened.delimiter.map(|d| (d as char).to_string()),
            rows: 0,
            imported: 0,
            labeled: 0,
            splits_assigned: 0,
            duplicates: 0,
            duplicate_examples: Vec::new(),
            rejected: Vec::new(),
            n_rejected: 0,
            skipped: Vec::new(),
            n_skipped: 0,
            added_labels: Vec::new(),
            seconds: 0.0,
        };
        let labels_before: Vec<String> = self.labels()?.into_iter().map(|l| l.name).collect();
        let known_labels: std::collections::HashSet<String> = labels_before.iter().cloned().collect();
        let mut labels_to_add: Vec<String> = Vec::new();
        let reject = |report: &mut ImportReport, line: u64, reason: String| {
            report.n_rejected += 1;
            if report.rejected.len() < MAX_LISTED {
                report.rejected.push(RowError { line, reason });
            }
        };

        // Phase 1, without the write lock: read, validate and de-duplicate every row into memory.
        // Labeling (and anything else that writes) goes on meanwhile; only phase 2 makes it wait.
        let seen_upto: i64 = self.conn.query_row("SELECT coalesce(max(id), 0) FROM records", [], |r| r.get(0))?;
        let mut pending: Vec<PendingRow> = Vec::new();
        {
            let mut find_text = self.conn.prepare_cached("SELECT uid, text FROM records WHERE id = ?1")?;
            let mut find_uid = self.conn.prepare_cached("SELECT 1 FROM records WHERE uid = ?1")?;
            // Content hash -> the first record (or row of this file) with it, for the whole
            // project, in memory (16 bytes a record): duplicate detection without a random-insert
            // index on disk. A hit is confirmed on the text.
            let mut known_hashes: std::collections::HashMap<i64, Seen> = {
                let mut stmt = self.conn.prepare("SELECT content_hash, id FROM records WHERE id <= ?1")?;
                let rows = stmt.query_map([seen_upto], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?;
                let mut map = std::collections::HashMap::new();
                for row in rows {
                    let (hash, seq) = row?;
                    map.entry(hash).or_insert(Seen::Record(seq));
                }
                map
            };
            let mut given_ids: std::collections::HashSet<String> = std::collections::HashSet::new();
            for item in opened.rows {
                report.rows += 1;
                if report.rows.is_multiple_of(4096) {
                    let p =
                        ImportProgress { bytes_read: counter.get().min(bytes_total), bytes_total, rows: report.rows };
                    if !progress(&p) {
                        return Err(Error::Cancelled);
                    }
                }
                let mut row = match item {
                    Ok(row) => row,
                    Err(e) => {
                        reject(&mut report, e.line, e.reason);
                        continue;
                    }
                };
                if let Some(reason) = row.skip.take() {
                    report.n_skipped += 1;
                    if report.skipped.len() < MAX_LISTED {
                        report.skipped.push(RowError { line: row.line, reason });
                    }
                    continue;
                }
                let line = row.line;
                let text = match (&row.turns, row.text) {
                    (Some(turns), _) => crate::format_dialog(turns),
                    (None, Some(text)) => text,
                    (None, None) => {
                        reject(&mut report, line, "no text".into());
                        continue;
                    }
                };
                if text.trim().is_empty() {
                    reject(&mut report, line, "the text is empty".into());
                    continue;
                }
                let first = row
                    .value
                    .or_else(|| options.fixed_label.clone().map(RawValue::Label))
                    .map(|raw| (row.annotator.clone().unwrap_or_else(|| annotator_default.clone()), raw));
                let mut annotations: Vec<(String, String)> = Vec::new();
                let mut bad: Option<String> = None;
                for (annotator, raw) in first.into_iter().chain(row.extra_annotations) {
                    let value = match normalize_value(kind, resolve_value(kind, raw), &text)
                        .and_then(|v| crate::annotations::validate_annotator(&annotator).map(|()| v))
                    {
                        Ok(v) => v,
                        Err(e) => {
                            bad = Some(e.to_string());
                            break;
                        }
                    };
                    let missing: Vec<&str> =
                        value.label_names().into_iter().filter(|n| !known_labels.contains(*n)).collect();
                    if !missing.is_empty() {
                        if options.add_labels {
                            for name in missing {
                                if let Err(e) = crate::project::validate_label_name(name) {
                                    bad = Some(e.to_string());
                                    break;
                                }
                                if !labels_to_add.iter().any(|l| l == name) {
                                    labels_to_add.push(name.to_string());
                                }
                            }
                        } else {
                            bad = Some(format!(
                                "label{} {} not in the project's label set (add them with --add-labels)",
                                if missing.len() > 1 { "s" } else { "" },
                                missing.iter().map(|m| encoding::snippet(m)).collect::<Vec<_>>().join(", ")
                            ));
                        }
                        if bad.is_some() {
                            break;
                        }
                    }
                    annotations.push((annotator, serde_json::to_string(&value)?));
                }
                if let Some(reason) = bad {
                    reject(&mut report, line, reason);
                    continue;
                }
                // In a generate project a row repeats another only when its outputs are the same
                // too: one question often has several good answers, each an example to learn.
                let hash = if kind == ProjectKind::Generate {
                    let outputs: Vec<&str> = annotations.iter().map(|(_, value)| value.as_str()).collect();
                    crate::content_hash(&format!("{text}\u{0}{}", outputs.join("\u{0}")))
                } else {
                    crate::content_hash(&text)
                };
                if !options.keep_duplicates {
                    let existing_id = match known_hashes.get(&hash) {
                        Some(Seen::Record(first)) => {
                            let mut rows = find_text.query([first])?;
                            match rows.next()? {
                                Some(r) if r.get_ref(1)?.as_str().map_err(rusqlite::Error::from)? == text => {
                                    Some(r.get::<_, String>(0)?)
                                }
                                _ => None,
                            }
                        }
                        Some(Seen::Row(index)) => {
                            let earlier = &pending[*index];
                            (earlier.text == text).then(|| earlier.uid.clone())
                        }
                        None => None,
                    };
                    if let Some(existing_id) = existing_id {
                        report.duplicates += 1;
                        if report.duplicate_examples.len() < MAX_DUPLICATE_EXAMPLES {
                            report.duplicate_examples.push(Duplicate { line, existing_id });
                        }
                        continue;
                    }
                }
                let given_id = row.id.is_some();
                let uid = match row.id {
                    Some(id) if id.trim().is_empty() => {
                        reject(&mut report, line, "the id is empty".into());
                        continue;
                    }
                    Some(id) => {
                        if given_ids.contains(&id) || find_uid.exists([&id])? {
                            reject(&mut report, line, format!("id {id:?} is already used by another record"));
                            continue;
                        }
                        given_ids.insert(id.clone());
                        id
                    }
                    None => generated_id(hash),
                };
                let turns = row.turns.as_ref().map(serde_json::to_string).transpose()?;
                let meta = if row.meta.is_empty() { None } else { Some(serde_json::to_string(&row.meta)?) };
                known_hashes.entry(hash).or_insert(Seen::Row(pending.len()));
                pending.push(PendingRow {
                    line,
                    uid,
                    given_id,
                    text,
                    turns,
                    meta,
                    hash,
                    split: row.split,
                    group: row.group,
                    annotations,
                });
            }
        }
        let p = ImportProgress { bytes_read: bytes_total, bytes_total, rows: report.rows };
        if !progress(&p) {
            return Err(Error::Cancelled);
        }
        if options.strict && report.n_rejected > 0 {
            return Err(strict_error(path, &report));
        }

        // Phase 2: write everything in one transaction, holding the write lock only for this.
        // The uid and content-hash indexes take random inserts; a larger page cache for the
        // import keeps them in memory (bounded: 96 MB).
        self.conn.pragma_update(None, "cache_size", -96_000)?;
        let source = (path, format, opened.encoding.as_str(), bytes_total);
        let written = self.write_import(source, options, seen_upto, pending, &labels_to_add, &mut report, progress);
        self.conn.pragma_update(None, "cache_size", -32_000)?;
        written?;
        report.added_labels =
            self.labels()?.into_iter().map(|l| l.name).filter(|n| !labels_before.contains(n)).collect();
        report.seconds = started.elapsed().as_secs_f64();
        Ok(report)
    }

    /// The write phase of [`Store::import`]: one transaction that inserts the rows read and checked
    /// before, their annotations and splits, after checking them once more against records
    /// another writer added meanwhile (above `seen_upto`).
    #[allow(clippy::too_many_arguments)]
    fn write_import(
        &mut self,
        (path, format, encoding, bytes_total): (&Path, Format, &str, u64),
        options: &ImportOptions,
        seen_upto: i64,
        pending: Vec<PendingRow>,
        labels_to_add: &[String],
        report: &mut ImportReport,
        progress: &mut dyn FnMut(&ImportProgress) -> bool,
    ) -> Result<()> {
        let now = crate::now_ms();
        let dir = self.dir.clone();
        let generate = self.kind()? == ProjectKind::Generate;
        let tx = crate::project::write_tx(&mut self.conn)?;
        if !labels_to_add.is_empty() {
            crate::project::add_labels_in(&tx, labels_to_add)?;
        }
        if generate && !options.agent_speakers.is_empty() {
            crate::project::add_agent_speakers_in(&tx, &options.agent_speakers)?;
        }
        // Records another import committed while this one read its file: their texts count as
        // duplicates too.
        let mut arrived: std::collections::HashMap<i64, Vec<(String, String)>> = std::collections::HashMap::new();
        {
            let mut stmt = tx.prepare("SELECT content_hash, uid, text FROM records WHERE id > ?1")?;
            let rows = stmt.query_map([seen_upto], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
            })?;
            for row in rows {
                let (hash, uid, text) = row?;
                arrived.entry(hash).or_default().push((uid, text));
            }
        }
        // Index while writing, on the other core, when the index is complete so far (otherwise
        // it would skip a range; `index_pending` catches up instead).
        let pending_index: i64 = tx.query_row(
            "SELECT count(*) FROM records WHERE id > (SELECT value FROM search.search_meta WHERE key = 'indexed_upto')",
            [],
            |r| r.get(0),
        )?;
        let mut indexer = if !options.skip_search_index && pending_index == 0 && !pending.is_empty() {
            Some(crate::search::ConcurrentIndexer::start(&dir.join(crate::DB_FILE))?)
        } else {
            None
        };
        tx.execute(
            "INSERT INTO sources (path, format, encoding, imported_at, n_imported, n_duplicates, n_rejected)
             VALUES (?1, ?2, ?3, ?4, 0, 0, 0)",
            params![absolute(path).display().to_string(), format.as_str(), encoding, now],
        )?;
        let source_id = tx.last_insert_rowid();
        let mut last_seq = 0i64;
        let mut labeled_seqs: Vec<i64> = Vec::new();
        {
            let mut find_uid = tx.prepare_cached("SELECT 1 FROM records WHERE uid = ?1")?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO records (uid, text, turns, meta, source_id, source_line, content_hash, split, created_at,
                   split_group)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
            let mut log = tx.prepare_cached(
                "INSERT INTO annotations (record_id, annotator, action, value, created_at) VALUES (?1, ?2, 'label', ?3, ?4)",
            )?;
            let rows_total = report.rows;
            for (n, row) in pending.into_iter().enumerate() {
                if n % 4096 == 4095 {
                    // Reading is done; this asks only whether to go on.
                    let p = ImportProgress { bytes_read: bytes_total, bytes_total, rows: rows_total };
                    if !progress(&p) {
                        return Err(Error::Cancelled);
                    }
                }
                if !options.keep_duplicates {
                    if let Some((uid, _)) = arrived.get(&row.hash).and_then(|v| v.iter().find(|(_, t)| *t == row.text))
                    {
                        report.duplicates += 1;
                        if report.duplicate_examples.len() < MAX_DUPLICATE_EXAMPLES {
                            report.duplicate_examples.push(Duplicate { line: row.line, existing_id: uid.clone() });
                        }
                        continue;
                    }
                }
                // The UNIQUE index on uid finds taken ids; only then do we look further.
                let mut uid = row.uid;
                let mut attempt = 1;
                let inserted = loop {
                    match insert.execute(params![
                        uid,
                        row.text,
                        row.turns,
                        row.meta,
                        source_id,
                        row.line as i64,
                        row.hash,
                        row.split.map(|s| s.as_str()),
                        now,
                        row.group
                    ]) {
                        Ok(_) => break true,
                        Err(rusqlite::Error::SqliteFailure(e, _))
                            if e.code == rusqlite::ErrorCode::ConstraintViolation && find_uid.exists([&uid])? =>
                        {
                            if row.given_id {
                                break false;
                            }
                            attempt += 1;
                            uid = format!("{}-{attempt}", generated_id(row.hash));
                        }
                        Err(e) => return Err(e.into()),
                    }
                };
                if !inserted {
                    report.n_rejected += 1;
                    if report.rejected.len() < MAX_LISTED {
                        report.rejected.push(RowError {
                            line: row.line,
                            reason: format!("id {uid:?} is already used by another record"),
                        });
                    }
                    continue;
                }
                let seq = tx.last_insert_rowid();
                last_seq = seq;
                if let Some(ix) = indexer.as_mut() {
                    ix.push(seq, &row.text);
                }
                report.imported += 1;
                if !row.annotations.is_empty() {
                    for (annotator, json) in &row.annotations {
                        log.execute(params![seq, annotator, json, now])?;
                        let id = tx.last_insert_rowid();
                        write_current(&tx, seq, annotator, Some((id, json)), false, false, now)?;
                    }
                    labeled_seqs.push(seq);
                    report.labeled += 1;
                }
            }
        }
        if options.strict && report.n_rejected > 0 {
            return Err(strict_error(path, report));
        }
        // Labeled records get their split in the transaction that makes them labeled.
        report.splits_assigned = crate::splits::assign_in(&tx, Some(&labeled_seqs))?;
        tx.execute(
            "UPDATE sources SET n_imported = ?2, n_duplicates = ?3, n_rejected = ?4 WHERE id = ?1",
            params![source_id, report.imported as i64, report.duplicates as i64, report.n_rejected as i64],
        )?;
        tx.commit()?;
        // The records are committed: nothing after this may fail the import. The index is a
        // cache; if the indexer failed (another indexer held its file), the records are above
        // its watermark, where search scans them, and `index_pending` adds them later.
        if let Some(ix) = indexer.take() {
            if last_seq > 0 {
                let _ = ix.finish(last_seq);
            }
        }
        Ok(())
    }

    /// The id of the import source a record came from, by path (for tests and reports).
    pub fn source_count(&self) -> Result<u64> {
        Ok(self.conn.query_row("SELECT count(*) FROM sources", [], |r| r.get::<_, i64>(0))? as u64)
    }

    /// Whether a record with this stable id exists.
    pub fn has_record(&self, id: &str) -> Result<bool> {
        Ok(self.conn.query_row("SELECT 1 FROM records WHERE uid = ?1", [id], |_| Ok(())).optional()?.is_some())
    }
}

/// Where a content hash was seen first: a record of the project, or a row of the file read.
enum Seen {
    Record(i64),
    Row(usize),
}

/// A row read, checked and ready to insert.
struct PendingRow {
    line: u64,
    uid: String,
    given_id: bool,
    text: String,
    turns: Option<String>,
    meta: Option<String>,
    hash: i64,
    split: Option<Split>,
    group: Option<String>,
    /// (annotator, value as JSON), already checked against the project.
    annotations: Vec<(String, String)>,
}

fn strict_error(path: &Path, report: &ImportReport) -> Error {
    let first = report.rejected.first().cloned().unwrap_or(RowError { line: 0, reason: String::new() });
    Error::StrictRejected {
        path: path.to_path_buf(),
        n_rejected: report.n_rejected as usize,
        first_line: first.line,
        first_reason: first.reason,
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}
