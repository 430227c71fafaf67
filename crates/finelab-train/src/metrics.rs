//! Evaluation metrics that give the same numbers as the references that define them:
//! scikit-learn's `classification_report(..., output_dict=True, zero_division=0)` for single- and
//! multi-label classification, and seqeval's entity-level `classification_report` (default mode)
//! for spans.
//!
//! Every function refuses empty input ([`Error::EmptyInput`]) and gold/prediction lists of
//! different lengths ([`Error::LengthMismatch`]) instead of returning numbers that mean nothing.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::error::{Error, Result};

/// A labeled stretch of text. Offsets are Unicode code points (as Python's `str` indexes them),
/// `end` exclusive.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Span {
    /// First code point of the span.
    pub start: usize,
    /// One past the last code point.
    pub end: usize,
    /// The entity type.
    pub label: String,
}

impl Span {
    /// Builds a span.
    pub fn new(start: usize, end: usize, label: impl Into<String>) -> Self {
        Span { start, end, label: label.into() }
    }
}

/// One row of a report: precision, recall, F1 and support.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// Precision.
    pub precision: f64,
    /// Recall.
    pub recall: f64,
    /// F1 score (harmonic mean of precision and recall).
    #[serde(rename = "f1-score")]
    pub f1: f64,
    /// Number of gold items the row covers.
    pub support: u64,
}

/// Which task a report describes; it decides the rows that appear, as in the references.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportKind {
    /// Single-label classification (scikit-learn, multiclass).
    Single,
    /// Multi-label classification (scikit-learn, indicator matrices).
    Multi,
    /// Entity-level span evaluation (seqeval).
    Spans,
}

/// A confusion matrix: rows are gold labels, columns predicted labels, in `labels` order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confusion {
    /// Row and column labels.
    pub labels: Vec<String>,
    /// `matrix[gold][pred]` counts.
    pub matrix: Vec<Vec<u64>>,
}

/// A classification report, the same rows as the reference implementation prints.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The kind of task.
    pub kind: ReportKind,
    /// Per-label rows, in the reference's order (sorted, or the order of an explicit label list).
    pub per_label: Vec<(String, Scores)>,
    /// Accuracy: present for single-label reports when the labels cover every label seen
    /// (scikit-learn then prints `accuracy` instead of `micro avg`).
    pub accuracy: Option<f64>,
    /// Micro average, when the reference prints it.
    pub micro_avg: Option<Scores>,
    /// Macro average (unweighted mean of the per-label rows).
    pub macro_avg: Scores,
    /// Average weighted by support.
    pub weighted_avg: Scores,
    /// Per-sample average (multi-label only).
    pub samples_avg: Option<Scores>,
    /// Confusion matrix (single-label only).
    pub confusion: Option<Confusion>,
    /// Total number of gold items (records for single-label).
    pub support: u64,
}

impl Report {
    /// Macro-averaged F1, the number training optimizes for early stopping.
    pub fn macro_f1(&self) -> f64 {
        self.macro_avg.f1
    }

    /// The report as scikit-learn's `output_dict=True` dictionary, plus `"confusion"` for
    /// single-label reports. (Key order follows `serde_json`'s map, sorted unless the
    /// `preserve_order` feature is on; the keys and numbers are the reference's.)
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        for (label, scores) in &self.per_label {
            out.insert(label.clone(), scores_json(scores));
        }
        if let Some(accuracy) = self.accuracy {
            out.insert("accuracy".into(), json!(accuracy));
        }
        if let Some(micro) = &self.micro_avg {
            out.insert("micro avg".into(), scores_json(micro));
        }
        out.insert("macro avg".into(), scores_json(&self.macro_avg));
        out.insert("weighted avg".into(), scores_json(&self.weighted_avg));
        if let Some(samples) = &self.samples_avg {
            out.insert("samples avg".into(), scores_json(samples));
        }
        if let Some(confusion) = &self.confusion {
            out.insert("confusion".into(), json!({"labels": confusion.labels, "matrix": confusion.matrix}));
        }
        Value::Object(out)
    }

    /// The report as text, laid out like scikit-learn's printed `classification_report` with
    /// `digits` decimals.
    pub fn to_text(&self, digits: usize) -> String {
        let headings = ["micro avg", "macro avg", "weighted avg", "samples avg"];
        let width = self
            .per_label
            .iter()
            .map(|(label, _)| label.chars().count())
            .chain(headings.iter().map(|h| h.len()))
            .chain([digits])
            .max()
            .unwrap_or(0);
        // Right-aligning by code points, as Python's str.format does.
        let pad = |s: &str| format!("{}{}", " ".repeat(width.saturating_sub(s.chars().count())), s);
        let mut text =
            format!("{}  {:>9} {:>9} {:>9} {:>9}\n\n", pad(""), "precision", "recall", "f1-score", "support");
        let row = |text: &mut String, name: &str, s: &Scores| {
            let _ = writeln!(
                text,
                "{}  {:>9.d$} {:>9.d$} {:>9.d$} {:>9}",
                pad(name),
                s.precision,
                s.recall,
                s.f1,
                s.support,
                d = digits
            );
        };
        for (label, scores) in &self.per_label {
            row(&mut text, label, scores);
        }
        text.push('\n');
        if let Some(accuracy) = self.accuracy {
            let _ = writeln!(
                text,
                "{}  {:>9} {:>9} {:>9.d$} {:>9}",
                pad("accuracy"),
                "",
                "",
                accuracy,
                self.support,
                d = digits
            );
        }
        if let Some(micro) = &self.micro_avg {
            row(&mut text, "micro avg", micro);
        }
        row(&mut text, "macro avg", &self.macro_avg);
        row(&mut text, "weighted avg", &self.weighted_avg);
        if let Some(samples) = &self.samples_avg {
            row(&mut text, "samples avg", samples);
        }
        text
    }
}

fn scores_json(s: &Scores) -> Value {
    json!({"precision": s.precision, "recall": s.recall, "f1-score": s.f1, "support": s.support})
}

/// `num / den`, or 0 when the denominator is 0 (scikit-learn's `zero_division=0`).
fn ratio(num: f64, den: f64) -> f64 {
    if den == 0.0 {
        0.0
    } else {
        num / den
    }
}

/// Per-label counts from which every classification score follows.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    tp: u64,
    pred: u64,
    gold: u64,
}

/// scikit-learn's per-label scores: F1 as `2tp / (gold + pred)`, the form sklearn ≥ 1.3 uses.
fn sklearn_scores(c: Counts) -> Scores {
    Scores {
        precision: ratio(c.tp as f64, c.pred as f64),
        recall: ratio(c.tp as f64, c.gold as f64),
        f1: ratio(2.0 * c.tp as f64, (c.gold + c.pred) as f64),
        support: c.gold,
    }
}

/// seqeval's per-type scores: F1 from precision and recall, as seqeval computes it.
fn seqeval_scores(c: Counts) -> Scores {
    let precision = ratio(c.tp as f64, c.pred as f64);
    let recall = ratio(c.tp as f64, c.gold as f64);
    let den = precision + recall;
    let f1 = if den == 0.0 { 0.0 } else { 2.0 * precision * recall / den };
    Scores { precision, recall, f1, support: c.gold }
}

fn sum_counts(counts: &[Counts]) -> Counts {
    counts.iter().fold(Counts::default(), |acc, c| Counts {
        tp: acc.tp + c.tp,
        pred: acc.pred + c.pred,
        gold: acc.gold + c.gold,
    })
}

fn macro_of(rows: &[Scores], support: u64) -> Scores {
    let n = rows.len() as f64;
    if rows.is_empty() {
        // seqeval gives NaN here (mean of nothing); JSON cannot hold NaN, so 0 it is.
        return Scores { precision: 0.0, recall: 0.0, f1: 0.0, support };
    }
    Scores {
        precision: rows.iter().map(|s| s.precision).sum::<f64>() / n,
        recall: rows.iter().map(|s| s.recall).sum::<f64>() / n,
        f1: rows.iter().map(|s| s.f1).sum::<f64>() / n,
        support,
    }
}

/// Support-weighted mean. When no label has support, scikit-learn falls back to the plain mean,
/// seqeval returns zeros (with `zero_division=0`); `fallback_plain` picks which.
fn weighted_of(rows: &[Scores], support: u64, fallback_plain: bool) -> Scores {
    if support == 0 {
        if fallback_plain {
            return macro_of(rows, 0);
        }
        return Scores { precision: 0.0, recall: 0.0, f1: 0.0, support: 0 };
    }
    let w = support as f64;
    let avg = |f: fn(&Scores) -> f64| rows.iter().map(|s| f(s) * s.support as f64).sum::<f64>() / w;
    Scores { precision: avg(|s| s.precision), recall: avg(|s| s.recall), f1: avg(|s| s.f1), support }
}

fn check_lengths(gold: usize, pred: usize, what: &str) -> Result<()> {
    if gold != pred {
        return Err(Error::LengthMismatch { gold, pred });
    }
    if gold == 0 {
        return Err(Error::EmptyInput(format!("no {what} to evaluate; metrics need at least one gold/predicted pair")));
    }
    Ok(())
}

fn check_label_list(labels: &[String]) -> Result<HashMap<&str, usize>> {
    if labels.is_empty() {
        return Err(Error::EmptyInput("the label list is empty".into()));
    }
    let mut index = HashMap::with_capacity(labels.len());
    for (i, label) in labels.iter().enumerate() {
        if index.insert(label.as_str(), i).is_some() {
            return Err(Error::DuplicateLabel(label.clone()));
        }
    }
    Ok(index)
}

/// Single-label report over the sorted union of gold and predicted labels, like
/// `classification_report(gold, pred, output_dict=True, zero_division=0)`.
pub fn single_label_report(gold: &[String], pred: &[String]) -> Result<Report> {
    single_label_inner(gold, pred, None)
}

/// Single-label report restricted to an explicit label list, like scikit-learn's `labels=`:
/// rows follow `labels`' order, and when the list misses a label that occurs in the data the
/// `accuracy` line becomes a `micro avg` over the listed labels.
pub fn single_label_report_with_labels(gold: &[String], pred: &[String], labels: &[String]) -> Result<Report> {
    single_label_inner(gold, pred, Some(labels))
}

fn single_label_inner(gold: &[String], pred: &[String], labels: Option<&[String]>) -> Result<Report> {
    check_lengths(gold.len(), pred.len(), "records")?;
    let seen: BTreeSet<&String> = gold.iter().chain(pred).collect();
    let (labels, micro_is_accuracy): (Vec<String>, bool) = match labels {
        None => (seen.iter().map(|s| (*s).clone()).collect(), true),
        Some(given) => {
            let covers = seen.iter().all(|l| given.contains(l));
            (given.to_vec(), covers)
        }
    };
    let index = check_label_list(&labels)?;

    let k = labels.len();
    let mut counts = vec![Counts::default(); k];
    let mut matrix = vec![vec![0u64; k]; k];
    for (g, p) in gold.iter().zip(pred) {
        let gi = index.get(g.as_str()).copied();
        let pi = index.get(p.as_str()).copied();
        // A label outside the list still counts against the listed ones it is confused with,
        // exactly as scikit-learn's multilabel_confusion_matrix does with `labels=`.
        if let Some(gi) = gi {
            counts[gi].gold += 1;
        }
        if let Some(pi) = pi {
            counts[pi].pred += 1;
        }
        if let (Some(gi), Some(pi)) = (gi, pi) {
            matrix[gi][pi] += 1;
            if gi == pi {
                counts[gi].tp += 1;
            }
        }
    }

    let rows: Vec<Scores> = counts.iter().map(|c| sklearn_scores(*c)).collect();
    let total = sum_counts(&counts);
    let micro = sklearn_scores(total);
    Ok(Report {
        kind: ReportKind::Single,
        macro_avg: macro_of(&rows, total.gold),
        weighted_avg: weighted_of(&rows, total.gold, true),
        per_label: labels.iter().cloned().zip(rows).collect(),
        // scikit-learn reports micro precision as "accuracy" in this case; it equals accuracy.
        accuracy: micro_is_accuracy.then_some(micro.precision),
        micro_avg: (!micro_is_accuracy).then_some(micro),
        samples_avg: None,
        confusion: Some(Confusion { labels, matrix }),
        support: total.gold,
    })
}

/// Multi-label report over `labels` (in that order), like scikit-learn's `classification_report`
/// on indicator matrices binarized with `MultiLabelBinarizer(classes=labels)`: per label, then
/// `micro avg`, `macro avg`, `weighted avg` and `samples avg`. A label outside `labels` is an
/// error rather than silently ignored.
pub fn multi_label_report(gold: &[Vec<String>], pred: &[Vec<String>], labels: &[String]) -> Result<Report> {
    check_lengths(gold.len(), pred.len(), "records")?;
    let index = check_label_list(labels)?;
    let k = labels.len();
    let binarize = |set: &[String], side: &str, record: usize| -> Result<Vec<bool>> {
        let mut row = vec![false; k];
        for label in set {
            let i = *index.get(label.as_str()).ok_or_else(|| Error::UnknownLabel {
                label: label.clone(),
                context: format!("{side} record {record}"),
            })?;
            row[i] = true;
        }
        Ok(row)
    };

    let mut counts = vec![Counts::default(); k];
    let mut sample_rows = Vec::with_capacity(gold.len());
    for (record, (g, p)) in gold.iter().zip(pred).enumerate() {
        let g = binarize(g, "gold", record)?;
        let p = binarize(p, "predicted", record)?;
        let mut sample = Counts::default();
        for i in 0..k {
            let c = Counts { tp: (g[i] && p[i]) as u64, pred: p[i] as u64, gold: g[i] as u64 };
            counts[i].tp += c.tp;
            counts[i].pred += c.pred;
            counts[i].gold += c.gold;
            sample.tp += c.tp;
            sample.pred += c.pred;
            sample.gold += c.gold;
        }
        sample_rows.push(sklearn_scores(sample));
    }

    let rows: Vec<Scores> = counts.iter().map(|c| sklearn_scores(*c)).collect();
    let total = sum_counts(&counts);
    let n = sample_rows.len() as f64;
    let samples = Scores {
        precision: sample_rows.iter().map(|s| s.precision).sum::<f64>() / n,
        recall: sample_rows.iter().map(|s| s.recall).sum::<f64>() / n,
        f1: sample_rows.iter().map(|s| s.f1).sum::<f64>() / n,
        support: total.gold,
    };
    Ok(Report {
        kind: ReportKind::Multi,
        micro_avg: Some(sklearn_scores(total)),
        macro_avg: macro_of(&rows, total.gold),
        weighted_avg: weighted_of(&rows, total.gold, true),
        samples_avg: Some(samples),
        per_label: labels.iter().cloned().zip(rows).collect(),
        accuracy: None,
        confusion: None,
        support: total.gold,
    })
}

/// Entity-level span report: an entity counts as found only when start, end and label all match,
/// which is what seqeval's default mode computes over well-formed IOB2 tags. Per type (sorted
/// union of gold and predicted types), then `micro avg`, `macro avg`, `weighted avg`. Duplicate
/// spans in one record count once, as seqeval's entity sets do.
pub fn span_report(gold: &[Vec<Span>], pred: &[Vec<Span>]) -> Result<Report> {
    check_lengths(gold.len(), pred.len(), "records")?;
    let mut types: BTreeSet<&str> = BTreeSet::new();
    for spans in gold.iter().chain(pred) {
        for span in spans {
            if span.start >= span.end {
                return Err(Error::InvalidSpan {
                    start: span.start,
                    end: span.end,
                    reason: "a span must cover at least one code point".into(),
                });
            }
            types.insert(&span.label);
        }
    }
    let types: Vec<String> = types.into_iter().map(String::from).collect();
    let index: HashMap<&str, usize> = types.iter().enumerate().map(|(i, t)| (t.as_str(), i)).collect();

    let mut counts = vec![Counts::default(); types.len()];
    for (g, p) in gold.iter().zip(pred) {
        let g: HashSet<&Span> = g.iter().collect();
        let p: HashSet<&Span> = p.iter().collect();
        for span in &g {
            counts[index[span.label.as_str()]].gold += 1;
        }
        for span in &p {
            let c = &mut counts[index[span.label.as_str()]];
            c.pred += 1;
            c.tp += g.contains(span) as u64;
        }
    }

    let rows: Vec<Scores> = counts.iter().map(|c| seqeval_scores(*c)).collect();
    let total = sum_counts(&counts);
    Ok(Report {
        kind: ReportKind::Spans,
        micro_avg: Some(seqeval_scores(total)),
        macro_avg: macro_of(&rows, total.gold),
        weighted_avg: weighted_of(&rows, total.gold, false),
        per_label: types.into_iter().zip(rows).collect(),
        accuracy: None,
        samples_avg: None,
        confusion: None,
        support: total.gold,
    })
}

/// The standard normal quantile of 0.975: a two-sided 95 % interval.
pub const Z_95: f64 = 1.959_963_984_540_054;

/// The Wilson score interval of a proportion of `k` successes in `n` trials at the normal
/// quantile `z` (statsmodels' `proportion_confint(k, n, alpha, method="wilson")`, clipped to
/// [0, 1]); `None` for `n == 0`.
pub fn wilson_interval(k: u64, n: u64, z: f64) -> Option<(f64, f64)> {
    if n == 0 {
        return None;
    }
    let (k, n) = (k as f64, n as f64);
    let p = k / n;
    let z2 = z * z;
    let denominator = 1.0 + z2 / n;
    let center = (p + z2 / (2.0 * n)) / denominator;
    let half = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denominator;
    Some(((center - half).max(0.0), (center + half).min(1.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    /// Checks one single-label case against numbers taken from scikit-learn 1.x.
    fn check(gold: &str, pred: &str, expected: Value) {
        let report = single_label_report(&strings(gold), &strings(pred)).unwrap();
        let mut got = report.to_json();
        got.as_object_mut().unwrap().remove("confusion");
        assert_eq!(got, expected, "gold={gold} pred={pred}");
    }

    #[test]
    fn single_label_matches_sklearn() {
        check(
            "a a b",
            "a b b",
            json!({
                "a": {"precision": 1.0, "recall": 0.5, "f1-score": 2.0/3.0, "support": 2},
                "b": {"precision": 0.5, "recall": 1.0, "f1-score": 2.0/3.0, "support": 1},
                "accuracy": 2.0/3.0,
                "macro avg": {"precision": 0.75, "recall": 0.75, "f1-score": 2.0/3.0, "support": 3},
                "weighted avg": {"precision": 2.5/3.0, "recall": 2.0/3.0, "f1-score": 2.0/3.0, "support": 3},
            }),
        );
        // A label only predicted has support 0 and all-zero scores.
        check(
            "a",
            "z",
            json!({
                "a": {"precision": 0.0, "recall": 0.0, "f1-score": 0.0, "support": 1},
                "z": {"precision": 0.0, "recall": 0.0, "f1-score": 0.0, "support": 0},
                "accuracy": 0.0,
                "macro avg": {"precision": 0.0, "recall": 0.0, "f1-score": 0.0, "support": 1},
                "weighted avg": {"precision": 0.0, "recall": 0.0, "f1-score": 0.0, "support": 1},
            }),
        );
    }

    #[test]
    fn explicit_labels_missing_one_gives_micro_avg() {
        let r = single_label_report_with_labels(&strings("a b c"), &strings("a c c"), &strings("a b")).unwrap();
        let json = r.to_json();
        assert!(json.get("accuracy").is_none());
        assert_eq!(json["micro avg"]["precision"], json!(1.0));
        assert_eq!(json["micro avg"]["recall"], json!(0.5));
        assert_eq!(json["micro avg"]["support"], json!(2));
    }

    #[test]
    fn errors_are_explicit() {
        assert!(matches!(single_label_report(&[], &[]), Err(Error::EmptyInput(_))));
        assert!(matches!(
            single_label_report(&strings("a"), &strings("a b")),
            Err(Error::LengthMismatch { gold: 1, pred: 2 })
        ));
        assert!(matches!(
            multi_label_report(&[strings("x")], &[vec![]], &strings("a b")),
            Err(Error::UnknownLabel { .. })
        ));
        assert!(matches!(span_report(&[vec![Span::new(2, 2, "X")]], &[vec![]]), Err(Error::InvalidSpan { .. })));
    }

    #[test]
    fn confusion_rows_are_gold() {
        let r = single_label_report(&strings("a a b"), &strings("b a b")).unwrap();
        let c = r.confusion.unwrap();
        assert_eq!(c.labels, strings("a b"));
        assert_eq!(c.matrix, vec![vec![1, 1], vec![0, 1]]);
    }

    #[test]
    fn text_rendering_looks_like_sklearn() {
        let r = single_label_report(&strings("a a b"), &strings("a b b")).unwrap();
        let expected = "              precision    recall  f1-score   support

           a       1.00      0.50      0.67         2
           b       0.50      1.00      0.67         1

    accuracy                           0.67         3
   macro avg       0.75      0.75      0.67         3
weighted avg       0.83      0.67      0.67         3
";
        assert_eq!(r.to_text(2), expected);
    }
}
