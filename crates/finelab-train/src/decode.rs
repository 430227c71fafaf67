//! Turning a model's outputs into answers, shared by every family: BIO tag names and their
//! constrained Viterbi decoding into code-point spans, per-label thresholds tuned on dev for
//! multi-label models, the evaluation of a model's outputs against gold, and the
//! [`Prediction`] a model gives for one text.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::data::{Example, Target, Task};
use crate::error::Result;
use crate::metrics::{self, Report, Span};

/// BIO tag names for entity types: O, then B-x and I-x for each type in order.
pub(crate) fn bio_tags(labels: &[String]) -> Vec<String> {
    let mut tags = vec!["O".to_string()];
    for label in labels {
        tags.push(format!("B-{label}"));
        tags.push(format!("I-{label}"));
    }
    tags
}

/// Best tag sequence under the BIO constraint (I-x only after B-x or I-x), maximizing the sum
/// of log-probabilities; then the spans it encodes with their mean tag probability as score.
pub(crate) fn decode_bio(probs: &[Vec<f32>], labels: &[String]) -> Vec<ScoredSpan> {
    let n = probs.len();
    if n == 0 {
        return Vec::new();
    }
    let n_tags = probs[0].len();
    let allowed = |prev: Option<usize>, tag: usize| -> bool {
        if tag == 0 || tag % 2 == 1 {
            return true; // O and B-x may follow anything
        }
        let begin = tag - 1;
        matches!(prev, Some(p) if p == begin || p == tag)
    };
    let log = |p: f32| (p.max(1e-12)).ln();
    let mut score = vec![f32::NEG_INFINITY; n_tags];
    let mut back = vec![vec![0usize; n_tags]; n];
    for tag in 0..n_tags {
        if allowed(None, tag) {
            score[tag] = log(probs[0][tag]);
        }
    }
    for t in 1..n {
        let mut next = vec![f32::NEG_INFINITY; n_tags];
        for tag in 0..n_tags {
            let emit = log(probs[t][tag]);
            for (prev, &prev_score) in score.iter().enumerate() {
                if prev_score == f32::NEG_INFINITY || !allowed(Some(prev), tag) {
                    continue;
                }
                let s = prev_score + emit;
                if s > next[tag] {
                    next[tag] = s;
                    back[t][tag] = prev;
                }
            }
        }
        score = next;
    }
    let mut tag = (0..n_tags).fold(0, |best, t| if score[t] > score[best] { t } else { best });
    let mut path = vec![0usize; n];
    for t in (0..n).rev() {
        path[t] = tag;
        tag = back[t][tag];
    }

    let mut spans = Vec::new();
    let mut t = 0;
    while t < n {
        let tag = path[t];
        if tag != 0 && tag % 2 == 1 {
            let start = t;
            let mut total = probs[t][tag];
            t += 1;
            while t < n && path[t] == tag + 1 {
                total += probs[t][tag + 1];
                t += 1;
            }
            spans.push(ScoredSpan {
                start,
                end: t,
                label: labels[(tag - 1) / 2].clone(),
                score: total / (t - start) as f32,
            });
        } else {
            t += 1;
        }
    }
    spans
}

/// The candidate thresholds tuned per label on dev.
fn threshold_grid() -> impl Iterator<Item = f32> {
    (1..20).map(|i| i as f32 * 0.05)
}

/// Per-label threshold maximizing that label's F1 on `probs` vs `gold`; ties go to the
/// threshold closest to 0.5, so a label dev says nothing about keeps 0.5.
pub(crate) fn tune_thresholds(probs: &[Vec<f32>], gold: &[Vec<bool>], n_labels: usize) -> Vec<f32> {
    (0..n_labels)
        .map(|l| {
            let mut best = (f64::NEG_INFINITY, 0.5f32);
            for t in threshold_grid() {
                let (mut tp, mut n_pred, mut n_gold) = (0u32, 0u32, 0u32);
                for (p, g) in probs.iter().zip(gold) {
                    let predicted = p[l] >= t;
                    tp += (predicted && g[l]) as u32;
                    n_pred += predicted as u32;
                    n_gold += g[l] as u32;
                }
                let den = n_pred + n_gold;
                let f1 = if den == 0 { 0.0 } else { 2.0 * tp as f64 / den as f64 };
                let closer = (t - 0.5).abs() < (best.1 - 0.5).abs();
                if f1 > best.0 + 1e-12 || ((f1 - best.0).abs() <= 1e-12 && closer) {
                    best = (f1, t);
                }
            }
            best.1
        })
        .collect()
}

/// The report of a model on `examples` (dev or test) from its probabilities: `probs[i]` holds
/// one row of class probabilities for a sequence task, and one row per unit (token, character)
/// for spans, which `spans(i, rows)` decodes. For multi-label with `tune`, the thresholds are
/// tuned on these examples first and returned; otherwise `thresholds` are used (and returned).
pub(crate) fn evaluate(
    task: Task,
    labels: &[String],
    examples: &[Example],
    probs: Vec<Vec<Vec<f32>>>,
    spans: impl Fn(usize, &[Vec<f32>]) -> Vec<ScoredSpan>,
    tune: bool,
    thresholds: &[f32],
) -> Result<(Report, Vec<f32>)> {
    match task {
        Task::Single => {
            let gold: Vec<String> = examples
                .iter()
                .map(|e| match &e.target {
                    Target::Single(l) => l.clone(),
                    _ => String::new(),
                })
                .collect();
            let pred: Vec<String> = probs.iter().map(|p| labels[argmax(&p[0])].clone()).collect();
            Ok((metrics::single_label_report_with_labels(&gold, &pred, labels)?, Vec::new()))
        }
        Task::Multi => {
            let gold: Vec<Vec<String>> = examples
                .iter()
                .map(|e| match &e.target {
                    Target::Multi(l) => l.clone(),
                    _ => Vec::new(),
                })
                .collect();
            let flat: Vec<Vec<f32>> = probs.into_iter().map(|mut p| p.remove(0)).collect();
            let thresholds = if tune {
                let bits: Vec<Vec<bool>> =
                    gold.iter().map(|g| labels.iter().map(|l| g.contains(l)).collect()).collect();
                tune_thresholds(&flat, &bits, labels.len())
            } else {
                thresholds.to_vec()
            };
            let pred: Vec<Vec<String>> = flat.iter().map(|p| multi_labels(p, &thresholds, labels)).collect();
            Ok((metrics::multi_label_report(&gold, &pred, labels)?, thresholds))
        }
        Task::Spans => {
            let gold: Vec<Vec<Span>> = examples
                .iter()
                .map(|e| match &e.target {
                    Target::Spans(s) => s.clone(),
                    _ => Vec::new(),
                })
                .collect();
            let pred: Vec<Vec<Span>> = probs
                .iter()
                .enumerate()
                .map(|(i, p)| spans(i, p).into_iter().map(ScoredSpan::into_span).collect())
                .collect();
            Ok((metrics::span_report(&gold, &pred)?, Vec::new()))
        }
    }
}

/// Index of the largest value; the first one on ties.
pub(crate) fn argmax(values: &[f32]) -> usize {
    (0..values.len()).fold(0, |best, i| if values[i] > values[best] { i } else { best })
}

pub(crate) fn multi_labels(probs: &[f32], thresholds: &[f32], labels: &[String]) -> Vec<String> {
    labels.iter().enumerate().filter(|(i, _)| probs[*i] >= thresholds[*i]).map(|(_, l)| l.clone()).collect()
}

/// A span found by the model, with its confidence (mean probability of its tags).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredSpan {
    /// First code point.
    pub start: usize,
    /// One past the last code point.
    pub end: usize,
    /// Entity type.
    pub label: String,
    /// Confidence in 0..=1.
    pub score: f32,
}

impl ScoredSpan {
    /// The span without its score.
    pub fn into_span(self) -> Span {
        Span { start: self.start, end: self.end, label: self.label }
    }
}

/// A model's answer for one text. Serializes without a tag: `{"label", "scores"}` (single),
/// `{"labels", "scores"}` (multi) or `{"spans"}` (spans).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Prediction {
    /// Single-label answer.
    Single {
        /// The most probable label.
        label: String,
        /// Probability of every label.
        scores: BTreeMap<String, f32>,
    },
    /// Multi-label answer.
    Multi {
        /// Labels whose probability reaches their threshold, in label order.
        labels: Vec<String>,
        /// Probability of every label.
        scores: BTreeMap<String, f32>,
    },
    /// Span answer.
    Spans {
        /// Spans found, in text order.
        spans: Vec<ScoredSpan>,
    },
}
