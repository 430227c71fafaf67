//! Several people on one project: how far they agree (`finelab agreement`), the records they
//! disagree on for a reviewer to decide (adjudication), and each person's work at a glance.

use crate::{AppError, Result};
use finelab_store::{AnnotationValue, ProjectKind, RecordView, Store};
use finelab_train::agreement::{self, Rated, Rating};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use ts_rs::TS;

/// Agreement between two annotators over the records both labeled.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct PairAgreement {
    /// One annotator (the smaller name).
    pub a: String,
    /// The other.
    pub b: String,
    /// Records both labeled.
    pub n: usize,
    /// Share of those given the same label (the same set, multi-label); not for spans.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent_agreement: Option<f64>,
    /// Cohen's kappa (scikit-learn's `cohen_kappa_score`); absent where undefined or for spans.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cohen_kappa: Option<f64>,
    /// Spans: micro entity-level F1 of one against the other (seqeval's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub f1: Option<f64>,
    /// Spans: F1 per type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_label: Option<BTreeMap<String, f64>>,
}

/// Agreement on one label, read as "has it" against "has it not".
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct LabelAgreement {
    /// Mean over pairs of the binary Cohen's kappa (where defined).
    pub cohen_kappa_mean: Option<f64>,
    /// Krippendorff's alpha (nominal) on the binary ratings.
    pub krippendorff_alpha: Option<f64>,
}

/// `finelab agreement`: the agreement among a project's annotators.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct AgreementReport {
    /// Records labeled by at least two of the annotators.
    pub n_records: usize,
    /// The annotators measured, sorted.
    pub annotators: Vec<String>,
    /// Every pair that shares a record.
    pub pairs: Vec<PairAgreement>,
    /// Fleiss' kappa (statsmodels' `fleiss_kappa`) over the records with the most common number
    /// of raters (at least two).
    pub fleiss_kappa: Option<f64>,
    /// Records Fleiss' kappa was computed on.
    pub fleiss_records: usize,
    /// Their number of raters.
    pub fleiss_raters: usize,
    /// Krippendorff's alpha, nominal, missing ratings allowed (the `krippendorff` package).
    pub krippendorff_alpha: Option<f64>,
    /// Per label, one against the rest (not for spans).
    pub per_label: BTreeMap<String, LabelAgreement>,
    /// The labels in the project's order (then others used).
    pub label_order: Vec<String>,
    /// Records with different labels that no reviewer has decided yet.
    pub n_undecided: u64,
}

fn rating_of(value: AnnotationValue) -> Option<Rating> {
    match value {
        AnnotationValue::Label(l) => Some(Rating::Class(l)),
        AnnotationValue::Labels(ls) => Some(Rating::Labels(ls)),
        AnnotationValue::Spans(spans) => Some(Rating::Spans(
            spans.into_iter().map(|s| finelab_train::Span { start: s.start, end: s.end, label: s.label }).collect(),
        )),
        AnnotationValue::Output(_) => None,
    }
}

/// The agreement among the annotators of the project in `dir` (only those in `only` if given),
/// over every record at least two of them labeled; reviewers' decisions are not ratings.
pub fn agreement(dir: &Path, only: Option<&[String]>) -> Result<AgreementReport> {
    let store = Store::open(dir)?;
    if store.kind()? == ProjectKind::Generate {
        return Err(AppError::Unsupported(
            "agreement is measured on labels and spans; written outputs are compared with `finelab metrics`".into(),
        ));
    }
    let labels: Vec<String> = store.labels()?.into_iter().map(|l| l.name).collect();
    let items: Vec<Rated> = store
        .ratings()?
        .into_iter()
        .filter_map(|r| Some(Rated { record: r.seq, annotator: r.annotator, value: rating_of(r.value)? }))
        .collect();
    if let Some(names) = only {
        let known: std::collections::HashSet<&str> = items.iter().map(|r| r.annotator.as_str()).collect();
        if let Some(missing) = names.iter().find(|n| !known.contains(n.as_str())) {
            return Err(AppError::Invalid(format!("annotator {missing:?} has labeled nothing in this project")));
        }
    }
    let report = agreement::agreement(&items, &labels, only);
    Ok(AgreementReport {
        n_records: report.n_records,
        annotators: report.annotators,
        pairs: report
            .pairs
            .into_iter()
            .map(|p| PairAgreement {
                a: p.a,
                b: p.b,
                n: p.n,
                percent_agreement: p.percent_agreement,
                cohen_kappa: p.cohen_kappa,
                f1: p.f1,
                per_label: p.per_label,
            })
            .collect(),
        fleiss_kappa: report.fleiss_kappa,
        fleiss_records: report.fleiss_records,
        fleiss_raters: report.fleiss_raters,
        krippendorff_alpha: report.krippendorff_alpha,
        per_label: report
            .per_label
            .into_iter()
            .map(|(l, a)| {
                (l, LabelAgreement { cohen_kappa_mean: a.cohen_kappa_mean, krippendorff_alpha: a.krippendorff_alpha })
            })
            .collect(),
        label_order: report.label_order,
        n_undecided: store.n_disagreements()?,
    })
}

/// A record several people labeled differently, with each one's label.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct Disagreement {
    /// The record (its annotations include everyone's).
    pub view: RecordView,
    /// Each annotator's label (reviewers' decisions aside), by annotator.
    pub labels: Vec<AnnotatorLabel>,
}

/// One annotator's label of a record.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct AnnotatorLabel {
    /// Who.
    pub annotator: String,
    /// Their label.
    pub value: AnnotationValue,
}

/// A page of disagreements.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct Disagreements {
    /// The records, in import order.
    pub records: Vec<Disagreement>,
    /// How many there are in all (undecided ones; for a pair, where the two differ).
    pub total: u64,
}

/// The records to adjudicate (labels differ, no reviewer decided), or with `pair` the records
/// where those two annotators differ, up to `limit` after `after_seq`.
pub fn disagreements(
    dir: &Path,
    pair: Option<(&str, &str)>,
    after_seq: Option<i64>,
    limit: usize,
) -> Result<Disagreements> {
    let store = Store::open(dir)?;
    let after = after_seq.unwrap_or(0);
    let (seqs, total) = match pair {
        Some((a, b)) => {
            let all = store.pair_disagreements(a, b, usize::MAX >> 1)?;
            let total = all.len() as u64;
            (all.into_iter().filter(|&s| s > after).take(limit).collect::<Vec<_>>(), total)
        }
        None => (store.disagreements(after, limit)?, store.n_disagreements()?),
    };
    let ratings: HashMap<i64, Vec<AnnotatorLabel>> = {
        let mut by: HashMap<i64, Vec<AnnotatorLabel>> = HashMap::new();
        let wanted: std::collections::HashSet<i64> = seqs.iter().copied().collect();
        for r in store.ratings()?.into_iter().filter(|r| wanted.contains(&r.seq)) {
            by.entry(r.seq).or_default().push(AnnotatorLabel { annotator: r.annotator, value: r.value });
        }
        by
    };
    let mut records = Vec::with_capacity(seqs.len());
    for seq in seqs {
        let view = store.record_by_seq(seq)?;
        let labels = ratings.get(&seq).cloned().unwrap_or_default();
        records.push(Disagreement { view, labels });
    }
    Ok(Disagreements { records, total })
}

/// One person's work.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct Person {
    /// Their name.
    pub annotator: String,
    /// Records they have a label on now.
    pub labeled: u64,
    /// Labels per hour of active work (gaps over five minutes between two labels are breaks).
    pub labels_per_hour: Option<f64>,
    /// Mean of their pairwise percent agreement with the others (records shared).
    pub agreement_with_others: Option<f64>,
    /// Mean of their pairwise Cohen's kappa with the others.
    pub kappa_with_others: Option<f64>,
    /// Share of their labels on decided records that equal the reviewer's decision.
    pub agreement_with_decisions: Option<f64>,
    /// Records of theirs a reviewer decided.
    pub n_decided: u64,
    /// When asked for: the share of their labels that cross-validated confident learning
    /// ([`crate::suspects`]) finds likely wrong (the record is a suspect and their label is the
    /// one it doubts).
    pub suspected_noise: Option<f64>,
}

/// Gaps between two labels longer than this are breaks, not work.
const BREAK_MS: i64 = 5 * 60 * 1000;

/// Each annotator's work in the project: how much, how fast, how far they agree; with `noise`,
/// also how many of their labels look wrong (K-fold cross-validation: seconds to minutes).
pub fn people(dir: &Path, noise: bool) -> Result<Vec<Person>> {
    let store = Store::open(dir)?;
    let doubted: Option<HashMap<i64, AnnotationValue>> = if noise {
        let report = crate::suspects::suspects(dir, &crate::suspects::SuspectsRequest::default())?;
        Some(
            report
                .suspects
                .into_iter()
                .map(|s| {
                    let value = match (s.labels, s.spans) {
                        (Some(labels), _) => AnnotationValue::Labels(labels),
                        (_, Some(spans)) => AnnotationValue::Spans(spans),
                        _ => AnnotationValue::Label(s.label),
                    };
                    (s.seq, value)
                })
                .collect(),
        )
    } else {
        None
    };
    let ratings = store.ratings()?;
    let decisions: HashMap<i64, AnnotationValue> = store.decisions()?.into_iter().collect();
    let times: HashMap<String, Vec<i64>> = store.label_times()?.into_iter().collect();
    let report = if store.kind()? == ProjectKind::Generate { None } else { Some(agreement(dir, None)?) };
    let mut names: Vec<String> = ratings.iter().map(|r| r.annotator.clone()).collect();
    names.sort();
    names.dedup();
    let mut out = Vec::new();
    for name in names {
        let mine: Vec<&finelab_store::Rating> = ratings.iter().filter(|r| r.annotator == name).collect();
        let on_decided: Vec<bool> = mine.iter().filter_map(|r| decisions.get(&r.seq).map(|d| *d == r.value)).collect();
        let pace = times.get(&name).and_then(|t| {
            let active: i64 = t.windows(2).map(|w| (w[1] - w[0]).min(BREAK_MS)).sum();
            // Under a minute of work says nothing about a pace.
            (active >= 60_000).then(|| (t.len() - 1) as f64 / (active as f64 / 3_600_000.0))
        });
        let pairs: Vec<&PairAgreement> = report
            .as_ref()
            .map(|r| r.pairs.iter().filter(|p| p.a == name || p.b == name).collect())
            .unwrap_or_default();
        let mean = |xs: Vec<f64>| (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64);
        out.push(Person {
            labeled: mine.len() as u64,
            labels_per_hour: pace,
            agreement_with_others: mean(pairs.iter().filter_map(|p| p.percent_agreement.or(p.f1)).collect()),
            kappa_with_others: mean(pairs.iter().filter_map(|p| p.cohen_kappa).collect()),
            agreement_with_decisions: mean(on_decided.iter().map(|&b| f64::from(u8::from(b))).collect()),
            n_decided: on_decided.len() as u64,
            suspected_noise: doubted.as_ref().and_then(|d| {
                let doubted = mine.iter().filter(|r| d.get(&r.seq) == Some(&r.value)).count();
                (!mine.is_empty()).then(|| doubted as f64 / mine.len() as f64)
            }),
            annotator: name,
        });
    }
    Ok(out)
}
