//! Scoring a prediction file against a gold file ([`metrics`], `finelab metrics`), and reports read
//! back from their stored JSON and printed as text ([`report_from_json`], [`report_text`]; a
//! generator run's report, loss and generation scores, with [`generation_report_text`]; either
//! with [`evaluation_text`]).

use crate::{AppError, Result};
use finelab_store::ProjectKind;
use finelab_train::metrics::{self, Report, ReportKind, Scores};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// A request to score a prediction file against a gold file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsRequest {
    /// The task.
    pub kind: ProjectKind,
    /// Gold JSONL: `{"id"?, "label"}` (single), `{"id"?, "labels"}` (multi) or
    /// `{"id"?, "text"?, "spans"}` (spans).
    pub gold: PathBuf,
    /// Predictions, in the same shape (`finelab predict` output qualifies).
    pub pred: PathBuf,
    /// The label set, in report order. Without it, the labels are the sorted union of those in
    /// both files (scikit-learn's default); with it, a label outside it is an error.
    pub labels: Option<Vec<String>>,
}

/// One record of a gold or prediction file.
struct Item {
    line: u64,
    id: Option<String>,
    text: Option<String>,
    value: ItemValue,
}

enum ItemValue {
    Single(String),
    Multi(Vec<String>),
    Spans(Vec<finelab_train::Span>),
}

fn label_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Reads a gold or prediction file, checking each line and the ids (all or none, no duplicates).
fn read_items(path: &Path, kind: ProjectKind, labels: Option<&[String]>) -> Result<Vec<Item>> {
    let name = path.display().to_string();
    let io = |e: std::io::Error| AppError::Io { path: name.clone(), source: e };
    let reader = std::io::BufReader::new(std::fs::File::open(path).map_err(io)?);
    let mut items = Vec::new();
    let mut first_line_of: HashMap<String, u64> = HashMap::new();
    for (i, line) in reader.lines().enumerate() {
        let line_no = i as u64 + 1;
        let line = line.map_err(io)?;
        let raw = line.trim_start_matches('\u{feff}').trim();
        if raw.is_empty() {
            continue;
        }
        let bad = |message: String| AppError::BadInput { path: name.clone(), line: line_no, message };
        let obj: Map<String, Value> = match serde_json::from_str::<Value>(raw) {
            Ok(Value::Object(obj)) => obj,
            Ok(_) => return Err(bad("not a JSON object".into())),
            Err(e) => return Err(bad(format!("not a JSON object: {e}"))),
        };
        let id = match obj.get("id") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(other) => return Err(bad(format!("\"id\" must be a string or a number, found {other}"))),
        };
        if let Some(id) = &id {
            if let Some(first) = first_line_of.insert(id.clone(), line_no) {
                return Err(bad(format!("duplicate id {id:?} (first on line {first})")));
            }
        }
        let text = match obj.get("text") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => return Err(bad(format!("\"text\" must be a string, found {other}"))),
        };
        let check_label = |label: &str| -> Result<()> {
            match labels {
                Some(known) if !known.iter().any(|k| k == label) => {
                    Err(bad(format!("unknown label {label:?}; --labels allows {}", known.join(", "))))
                }
                _ => Ok(()),
            }
        };
        let value = match kind {
            ProjectKind::Single => {
                let label = obj
                    .get("label")
                    .and_then(label_of)
                    .ok_or_else(|| bad("no \"label\" (a string) in this record".into()))?;
                check_label(&label)?;
                ItemValue::Single(label)
            }
            ProjectKind::Multi => {
                let Some(Value::Array(list)) = obj.get("labels") else {
                    return Err(bad("no \"labels\" list in this record (use [] for none)".into()));
                };
                let mut set = BTreeSet::new();
                for v in list {
                    let label = label_of(v).ok_or_else(|| bad(format!("\"labels\" must hold strings, found {v}")))?;
                    check_label(&label)?;
                    set.insert(label);
                }
                ItemValue::Multi(set.into_iter().collect())
            }
            ProjectKind::Spans => {
                let Some(Value::Array(list)) = obj.get("spans") else {
                    return Err(bad("no \"spans\" list in this record (use [] for none)".into()));
                };
                let n_chars = text.as_ref().map(|t| t.chars().count());
                let mut spans = Vec::with_capacity(list.len());
                for v in list {
                    let (start, end, label) = match (v.get("start"), v.get("end"), v.get("label").and_then(label_of)) {
                        (Some(s), Some(e), Some(l)) => match (s.as_u64(), e.as_u64()) {
                            (Some(s), Some(e)) => (s as usize, e as usize, l),
                            _ => return Err(bad(format!("span {v}: start and end must be non-negative integers"))),
                        },
                        _ => return Err(bad(format!("span {v} needs \"start\", \"end\" and \"label\""))),
                    };
                    if start >= end || n_chars.is_some_and(|n| end > n) {
                        return Err(bad(format!(
                            "span {start}..{end} {label:?} is empty or outside the text{}",
                            n_chars.map(|n| format!(" ({n} code points)")).unwrap_or_default()
                        )));
                    }
                    check_label(&label)?;
                    spans.push(finelab_train::Span::new(start, end, label));
                }
                ItemValue::Spans(spans)
            }
            ProjectKind::Generate => return Err(generate_unsupported()),
        };
        items.push(Item { line: line_no, id, text, value });
    }
    if items.is_empty() {
        return Err(AppError::Invalid(format!("{name} has no records")));
    }
    let with_id = items.iter().filter(|it| it.id.is_some()).count();
    if with_id > 0 && with_id < items.len() {
        let missing = items.iter().find(|it| it.id.is_none()).expect("some record lacks an id");
        let has = items.iter().find(|it| it.id.is_some()).expect("some record has an id");
        return Err(AppError::BadInput {
            path: name,
            line: missing.line,
            message: format!(
                "this record has no \"id\" but line {} has one; give every record an id, or none",
                has.line
            ),
        });
    }
    Ok(items)
}

/// Scores `pred` against `gold` (see [`MetricsRequest`]). Records are matched by `id` when both
/// files have ids, else by position (blank lines do not count). An id of one file missing from
/// the other is an error naming the file and line, as is a span record whose text differs from
/// the gold one.
pub fn metrics(req: &MetricsRequest) -> Result<Report> {
    if req.kind == ProjectKind::Generate {
        return Err(generate_unsupported());
    }
    let labels = req.labels.as_deref();
    let gold = read_items(&req.gold, req.kind, labels)?;
    let pred = read_items(&req.pred, req.kind, labels)?;
    let (gold_name, pred_name) = (req.gold.display().to_string(), req.pred.display().to_string());
    let by_id = gold[0].id.is_some() && pred[0].id.is_some();
    let pairs: Vec<(&Item, &Item)> = if by_id {
        let index: HashMap<&str, &Item> = gold.iter().map(|it| (it.id.as_deref().unwrap_or_default(), it)).collect();
        let mut matched: HashMap<&str, &Item> = HashMap::new();
        for p in &pred {
            let id = p.id.as_deref().unwrap_or_default();
            if !index.contains_key(id) {
                return Err(AppError::BadInput {
                    path: pred_name,
                    line: p.line,
                    message: format!("id {id:?} is not in the gold file {gold_name}"),
                });
            }
            matched.insert(id, p);
        }
        let mut pairs = Vec::with_capacity(gold.len());
        for g in &gold {
            let id = g.id.as_deref().unwrap_or_default();
            match matched.get(id) {
                Some(p) => pairs.push((g, *p)),
                None => {
                    return Err(AppError::BadInput {
                        path: gold_name,
                        line: g.line,
                        message: format!("id {id:?} has no prediction in {pred_name}"),
                    })
                }
            }
        }
        pairs
    } else {
        if gold.len() != pred.len() {
            let why = match (gold[0].id.is_some(), pred[0].id.is_some()) {
                (true, false) => format!(" ({pred_name} has no ids, so records are matched by position)"),
                (false, true) => format!(" ({gold_name} has no ids, so records are matched by position)"),
                _ => " (without ids, records are matched by position)".to_string(),
            };
            return Err(AppError::Invalid(format!(
                "{gold_name} has {} records but {pred_name} has {}{why}",
                gold.len(),
                pred.len()
            )));
        }
        gold.iter().zip(&pred).collect()
    };
    if req.kind == ProjectKind::Spans {
        for (g, p) in &pairs {
            if let (Some(gt), Some(pt)) = (&g.text, &p.text) {
                if gt != pt {
                    return Err(AppError::BadInput {
                        path: pred_name,
                        line: p.line,
                        message: format!(
                            "its text differs from that of the gold record on line {} of {gold_name}, so their span offsets cannot be compared",
                            g.line
                        ),
                    });
                }
            }
        }
    }
    let report = match req.kind {
        ProjectKind::Single => {
            let (g, p): (Vec<String>, Vec<String>) = pairs
                .iter()
                .map(|(g, p)| match (&g.value, &p.value) {
                    (ItemValue::Single(g), ItemValue::Single(p)) => (g.clone(), p.clone()),
                    _ => unreachable!("read_items reads one kind"),
                })
                .unzip();
            match labels {
                Some(labels) => metrics::single_label_report_with_labels(&g, &p, labels)?,
                None => metrics::single_label_report(&g, &p)?,
            }
        }
        ProjectKind::Multi => {
            let (g, p): (Vec<Vec<String>>, Vec<Vec<String>>) = pairs
                .iter()
                .map(|(g, p)| match (&g.value, &p.value) {
                    (ItemValue::Multi(g), ItemValue::Multi(p)) => (g.clone(), p.clone()),
                    _ => unreachable!("read_items reads one kind"),
                })
                .unzip();
            let labels: Vec<String> = match labels {
                Some(labels) => labels.to_vec(),
                // MultiLabelBinarizer fitted on both sides: the sorted union.
                None => g.iter().chain(&p).flatten().cloned().collect::<BTreeSet<_>>().into_iter().collect(),
            };
            metrics::multi_label_report(&g, &p, &labels)?
        }
        ProjectKind::Spans => {
            let (g, p): (Vec<Vec<finelab_train::Span>>, Vec<Vec<finelab_train::Span>>) = pairs
                .iter()
                .map(|(g, p)| match (&g.value, &p.value) {
                    (ItemValue::Spans(g), ItemValue::Spans(p)) => (g.clone(), p.clone()),
                    _ => unreachable!("read_items reads one kind"),
                })
                .unzip();
            metrics::span_report(&g, &p)?
        }
        ProjectKind::Generate => return Err(generate_unsupported()),
    };
    Ok(report)
}

const AGGREGATE_KEYS: [&str; 6] = ["accuracy", "micro avg", "macro avg", "weighted avg", "samples avg", "confusion"];

/// Reads a report back from its JSON dictionary ([`Report::to_json`]), for printing. Per-label
/// rows follow the confusion matrix's order when there is one, else `label_order` (labels it
/// does not name come after it, sorted).
pub fn report_from_json(kind: ProjectKind, report: &Value, label_order: &[String]) -> Result<Report> {
    let bad = || AppError::Invalid("a stored report is not a classification report dictionary".into());
    let obj = report.as_object().ok_or_else(bad)?;
    let scores = |v: &Value| -> Result<Scores> { serde_json::from_value(v.clone()).map_err(|_| bad()) };
    let confusion: Option<metrics::Confusion> =
        obj.get("confusion").map(|c| serde_json::from_value(c.clone()).map_err(|_| bad())).transpose()?;
    let mut names: Vec<&String> = obj.keys().filter(|k| !AGGREGATE_KEYS.contains(&k.as_str())).collect();
    let order: Vec<&String> =
        confusion.as_ref().map(|c| c.labels.iter().collect()).unwrap_or_else(|| label_order.iter().collect());
    names.sort_by_key(|name| (order.iter().position(|o| o == name).unwrap_or(usize::MAX), (*name).clone()));
    let per_label = names.into_iter().map(|n| Ok((n.clone(), scores(&obj[n])?))).collect::<Result<Vec<_>>>()?;
    let macro_avg = scores(obj.get("macro avg").ok_or_else(bad)?)?;
    let weighted_avg = scores(obj.get("weighted avg").ok_or_else(bad)?)?;
    Ok(Report {
        kind: report_kind(kind)?,
        per_label,
        accuracy: obj.get("accuracy").and_then(Value::as_f64),
        micro_avg: obj.get("micro avg").map(scores).transpose()?,
        macro_avg,
        weighted_avg,
        samples_avg: obj.get("samples avg").map(scores).transpose()?,
        confusion,
        support: weighted_avg.support,
    })
}

/// A report as text: scikit-learn's printed `classification_report` (4 digits), then the
/// confusion matrix for single-label reports (rows gold, columns predicted).
pub fn report_text(report: &Report) -> String {
    let mut text = report.to_text(4);
    if let Some(confusion) = &report.confusion {
        let width = |s: &str| s.chars().count();
        let cell = confusion
            .labels
            .iter()
            .map(|l| width(l))
            .chain(confusion.matrix.iter().flatten().map(|n| n.to_string().len()))
            .max()
            .unwrap_or(1);
        let head = confusion.labels.iter().map(|l| width(l)).chain([4]).max().unwrap_or(4);
        let pad = |s: &str, w: usize| format!("{}{s}", " ".repeat(w.saturating_sub(width(s))));
        let _ = writeln!(text, "\nconfusion matrix (rows: gold, columns: predicted)");
        let _ = write!(text, "{}", pad("", head));
        for label in &confusion.labels {
            let _ = write!(text, "  {}", pad(label, cell));
        }
        text.push('\n');
        for (label, row) in confusion.labels.iter().zip(&confusion.matrix) {
            let _ = write!(text, "{}", pad(label, head));
            for n in row {
                let _ = write!(text, "  {}", pad(&n.to_string(), cell));
            }
            text.push('\n');
        }
    }
    text
}

/// The report shape of a project kind.
pub(crate) fn report_kind(kind: ProjectKind) -> Result<ReportKind> {
    match kind {
        ProjectKind::Single => Ok(ReportKind::Single),
        ProjectKind::Multi => Ok(ReportKind::Multi),
        ProjectKind::Spans => Ok(ReportKind::Spans),
        ProjectKind::Generate => Err(generate_unsupported()),
    }
}

/// Generate projects have no classification report: their runs report generation scores.
fn generate_unsupported() -> AppError {
    AppError::Unsupported(
        "a generate project has no classification report: its runs report the loss and generation scores \
         (chrF, BLEU, ROUGE-L, exact match), and `finelab metrics --kind generate` scores output files"
            .into(),
    )
}

/// A generator run's report as text: the loss and perplexity on the split's target tokens, the
/// generation scores of its outputs (chrF and BLEU 0–100, ROUGE-L and exact match 0–1), then a
/// row per `meta.category` when the records had one.
pub fn generation_report_text(report: &Value) -> String {
    let num = |v: &Value, key: &str| v.get(key).and_then(Value::as_f64);
    let fmt = |v: Option<f64>, digits: usize| v.map(|x| format!("{x:.digits$}")).unwrap_or_else(|| "-".into());
    let mut text = String::new();
    if num(report, "loss").is_some() {
        let _ = writeln!(
            text,
            "loss {}  perplexity {}  ({} target tokens, {} records)",
            fmt(num(report, "loss"), 4),
            fmt(num(report, "perplexity"), 4),
            report.get("n_tokens").and_then(Value::as_u64).unwrap_or(0),
            report.get("n_examples").and_then(Value::as_u64).unwrap_or(0),
        );
    }
    let row = |name: &str, v: &Value| {
        format!(
            "{name:<16} {:>8} {:>8} {:>8} {:>8} {:>6}\n",
            fmt(num(v, "chrf"), 2),
            fmt(num(v, "bleu"), 2),
            fmt(num(v, "rouge_l"), 4),
            fmt(num(v, "exact_match"), 4),
            v.get("n").and_then(Value::as_u64).unwrap_or(0)
        )
    };
    if num(report, "chrf").is_some() {
        let lang = report.get("lang").and_then(Value::as_str).unwrap_or("-");
        let _ = writeln!(text, "\ngenerated outputs (lang {lang})");
        let _ = writeln!(text, "{:<16} {:>8} {:>8} {:>8} {:>8} {:>6}", "", "chrF", "BLEU", "ROUGE-L", "exact", "n");
        text.push_str(&row("all", report));
        if let Some(Value::Object(categories)) = report.get("categories") {
            for (name, scores) in categories {
                text.push_str(&row(name, scores));
            }
        }
    }
    text
}

/// A run's evaluation as text, whatever its project's kind: the classification report
/// ([`report_from_json`], [`report_text`]) or the generation report ([`generation_report_text`]).
pub fn evaluation_text(ev: &crate::runs::Evaluation) -> Result<String> {
    if ev.kind == ProjectKind::Generate {
        return Ok(generation_report_text(&ev.report));
    }
    Ok(report_text(&report_from_json(ev.kind, &ev.report, &ev.labels)?))
}
