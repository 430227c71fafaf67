//! Labels that are likely wrong: out-of-fold probabilities for every labeled record by K-fold
//! cross-validation (stratified, seeded) of the instant family, then confident learning
//! ([`finelab_train::noise`]) ranks the records whose given label the other folds' models
//! confidently contradict, with the label they suggest.

use std::path::{Path, PathBuf};

use finelab_store::ProjectKind;
use finelab_train::noise::{find_label_issues, stratified_folds, RankBy};
use finelab_train::{Control, Dataset, Example, Prediction, Predictor, Target, Task, TrainConfig};
use serde::{Deserialize, Serialize};

use crate::jobs::{spawn_analysis, JobKind, JobState, Jobs};
use crate::runs::open;
use crate::{AppError, Result};

/// What [`suspects`] is asked.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(default)]
#[ts(optional_fields = nullable)]
pub struct SuspectsRequest {
    /// Folds of the cross-validation (default 5, at least 2).
    pub folds: Option<usize>,
    /// Seed of the folds and of the models (default 42).
    pub seed: Option<u64>,
    /// `self_confidence` (default) or `normalized_margin`.
    pub rank_by: Option<String>,
    /// At most this many suspects listed (default all).
    pub limit: Option<usize>,
}

/// A record whose label is likely wrong.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct Suspect {
    /// The record's stable id.
    pub id: String,
    /// Its sequence number (what the label screen and `annotate` take).
    pub seq: i64,
    /// Who gave the label it has.
    pub annotator: String,
    /// Whether that label was already kept on a second look (given again, as the Review
    /// screen's "keep" does): the Review queue leaves such records out.
    pub confirmed: bool,
    /// Its text.
    pub text: String,
    /// The label it has (multi-label: its labels, joined with commas).
    pub label: String,
    /// The label the cross-validated models suggest (multi-label: the suggested set, joined
    /// with commas).
    pub suggested: String,
    /// Multi-label: the labels it has.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    #[ts(optional)]
    pub labels: Option<Vec<String>>,
    /// Multi-label: the labels the models suggest (the given set with the suspect labels
    /// added or removed).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    #[ts(optional)]
    pub suggested_labels: Option<Vec<String>>,
    /// Spans: the spans it has.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    #[ts(optional)]
    pub spans: Option<Vec<finelab_store::Span>>,
    /// Spans: the spans the tagger suggests (the contradicted ones replaced, the missed ones
    /// added).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    #[ts(optional)]
    pub suggested_spans: Option<Vec<finelab_store::Span>>,
    /// Label quality, cleanlab's: the probability of the given label (self-confidence), or
    /// `(p_given − max other p + 1) / 2` (normalized margin); lower is more likely wrong.
    pub score: f64,
}

/// Suspected-noise counts of one label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct LabelNoise {
    /// The label.
    pub label: String,
    /// Records labeled so.
    pub n: u64,
    /// Of them, suspects (multi-label: records suspected of wrongly having it).
    pub n_suspects: u64,
}

/// Suspected-noise counts of one annotator's labels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct AnnotatorNoise {
    /// Who gave the labels (the latest annotator of each record).
    pub annotator: String,
    /// Records whose label they gave.
    pub n: u64,
    /// Of them, suspects.
    pub n_suspects: u64,
}

/// What [`suspects`] found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct SuspectsReport {
    /// Labeled records scored.
    pub n_records: u64,
    /// Folds used.
    pub folds: u64,
    /// Suspects found (all of them, whatever the limit).
    pub n_suspects: u64,
    /// Per label.
    pub per_label: Vec<LabelNoise>,
    /// Per annotator.
    pub per_annotator: Vec<AnnotatorNoise>,
    /// The suspects, most likely wrong first.
    pub suspects: Vec<Suspect>,
}

/// Suspected-noise counts per annotator: `origin` (seq, annotator, confirmed) per record,
/// `suspected` the indices of the suspects.
fn per_annotator(origin: &[(i64, String, bool)], suspected: &[usize]) -> Vec<AnnotatorNoise> {
    let mut annotators: Vec<&str> = origin.iter().map(|o| o.1.as_str()).collect();
    annotators.sort();
    annotators.dedup();
    annotators
        .into_iter()
        .map(|a| AnnotatorNoise {
            annotator: a.to_string(),
            n: origin.iter().filter(|o| o.1 == a).count() as u64,
            n_suspects: suspected.iter().filter(|&&i| origin[i].1 == a).count() as u64,
        })
        .collect()
}

/// Spans as one line: `PER 张三; LOC 北京` (code points of `text`).
fn describe_spans(text: &str, spans: &[finelab_store::Span]) -> String {
    let chars: Vec<char> = text.chars().collect();
    let part = |s: &finelab_store::Span| -> String {
        chars[s.start.min(chars.len())..s.end.min(chars.len())].iter().collect()
    };
    spans.iter().map(|s| format!("{} {}", s.label, part(s))).collect::<Vec<_>>().join("; ")
}

/// Span projects: the instant tagger cross-validated over the labeled records, then the records
/// whose gold spans its out-of-fold predictions confidently contradict, or where it confidently
/// finds a span the annotator missed ([`finelab_train::noise::find_span_issues`]).
fn span_suspects(
    dir: &Path,
    store: &finelab_store::Store,
    k: usize,
    seed: u64,
    limit: Option<usize>,
    progress: &mut dyn FnMut(usize, usize) -> bool,
) -> Result<SuspectsReport> {
    use finelab_train::Span as TrainSpan;
    let labels: Vec<String> = store.labels()?.into_iter().map(|l| l.name).collect();
    // (id, text, gold spans), (seq, annotator, confirmed) beside it; by id.
    let mut records: Vec<(String, String, Vec<finelab_store::Span>)> = Vec::new();
    let mut origin: Vec<(i64, String, bool)> = Vec::new();
    for r in store.labeled_records()? {
        if let finelab_store::AnnotationValue::Spans(spans) = r.value {
            records.push((r.id, r.text, spans));
            origin.push((r.seq, r.annotator, r.confirmed));
        }
    }
    let mut order: Vec<usize> = (0..records.len()).collect();
    order.sort_by(|&a, &b| records[a].0.cmp(&records[b].0));
    let (records, origin): (Vec<_>, Vec<_>) =
        order.into_iter().map(|i| (records[i].clone(), origin[i].clone())).unzip();
    if records.len() < 2 * k {
        return Err(AppError::Invalid(format!(
            "{} labeled record(s) are too few for {k}-fold cross-validation: label at least {}",
            records.len(),
            2 * k
        )));
    }
    let to_train = |spans: &[finelab_store::Span]| -> Vec<TrainSpan> {
        spans.iter().map(|s| TrainSpan { start: s.start, end: s.end, label: s.label.clone() }).collect()
    };
    // Folds stratified by the set of entity types a record holds.
    let sets: Vec<String> = records
        .iter()
        .map(|r| {
            let mut types: Vec<&str> = r.2.iter().map(|s| s.label.as_str()).collect();
            types.sort();
            types.dedup();
            types.join(",")
        })
        .collect();
    let mut distinct: Vec<&String> = sets.iter().collect();
    distinct.sort();
    distinct.dedup();
    let strata: Vec<usize> = sets.iter().map(|s| distinct.binary_search(&s).unwrap_or(0)).collect();
    let folds = stratified_folds(&strata, k, seed);
    let scratch =
        Scratch(dir.join("runs").join(format!(".suspects-{}-{}", std::process::id(), finelab_store::now_ms())));
    let mut predicted: Vec<Vec<finelab_train::ScoredSpan>> = vec![Vec::new(); records.len()];
    if !progress(0, k) {
        return Err(AppError::Cancelled("finding suspects was cancelled".into()));
    }
    for fold in 0..k {
        let train: Vec<Example> = records
            .iter()
            .zip(&folds)
            .filter(|(_, f)| **f != fold)
            .map(|((id, text, gold), _)| Example {
                id: id.clone(),
                text: text.clone(),
                target: Target::Spans(to_train(gold)),
            })
            .collect();
        let data = Dataset { task: Task::Spans, labels: labels.clone(), train, dev: Vec::new(), test: Vec::new() };
        let config = TrainConfig { seed: seed.wrapping_add(fold as u64), ..TrainConfig::default() };
        let out = scratch.0.join(fold.to_string());
        finelab_train::train(&data, &config, &out, &mut |_| Control::Continue)?;
        let predictor = Predictor::load(&out)?;
        let held: Vec<usize> = (0..records.len()).filter(|&i| folds[i] == fold).collect();
        let texts: Vec<&str> = held.iter().map(|&i| records[i].1.as_str()).collect();
        for (&i, p) in held.iter().zip(predictor.predict_batch(&texts)?) {
            predicted[i] = match p {
                Prediction::Spans { spans } => spans,
                _ => return Err(AppError::Invalid("the instant tagger did not answer with spans".into())),
            };
        }
        if !progress(fold + 1, k) {
            return Err(AppError::Cancelled("finding suspects was cancelled".into()));
        }
    }
    drop(scratch);
    let gold: Vec<Vec<TrainSpan>> = records.iter().map(|r| to_train(&r.2)).collect();
    let found = finelab_train::noise::find_span_issues(&gold, &predicted);
    let involves = |f: &finelab_train::noise::SpanSuspect, label: &str| {
        f.contradicted.iter().any(|s| s.label == label) || f.proposed.iter().any(|s| s.label == label)
    };
    let per_label = labels
        .iter()
        .map(|label| LabelNoise {
            label: label.clone(),
            n: records.iter().filter(|r| r.2.iter().any(|s| &s.label == label)).count() as u64,
            n_suspects: found.iter().filter(|f| involves(f, label)).count() as u64,
        })
        .collect();
    let suspected: Vec<usize> = found.iter().map(|f| f.index).collect();
    let per_annotator = per_annotator(&origin, &suspected);
    let n_suspects = found.len() as u64;
    let suspects = found
        .into_iter()
        .take(limit.unwrap_or(usize::MAX))
        .map(|f| {
            let (id, text, given) = &records[f.index];
            let suggested: Vec<finelab_store::Span> = f
                .suggested
                .iter()
                .map(|s| finelab_store::Span { start: s.start, end: s.end, label: s.label.clone() })
                .collect();
            Suspect {
                id: id.clone(),
                seq: origin[f.index].0,
                annotator: origin[f.index].1.clone(),
                confirmed: origin[f.index].2,
                text: text.clone(),
                label: describe_spans(text, given),
                suggested: describe_spans(text, &suggested),
                labels: None,
                suggested_labels: None,
                spans: Some(given.clone()),
                suggested_spans: Some(suggested),
                score: f.score,
            }
        })
        .collect();
    Ok(SuspectsReport {
        n_records: records.len() as u64,
        folds: k as u64,
        n_suspects,
        per_label,
        per_annotator,
        suspects,
    })
}

/// A scratch folder for the folds' models, removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// [`suspects_with`] as a job of kind `suspects` (progress in folds, cancel between folds).
pub fn start_suspects(jobs: &Jobs, dir: &Path, req: SuspectsRequest) -> Result<JobState> {
    spawn_analysis(jobs, JobKind::Suspects, dir, "cross-validating", move |dir, progress| {
        suspects_with(dir, &req, progress)
    })
}

/// Cross-validates the instant family over the project's labeled records (every split) and lists
/// the records whose label is likely wrong: single-label projects, and multi-label ones where
/// each label is a yes/no question of its own (a suspect there has labels to add or remove).
pub fn suspects(dir: &Path, req: &SuspectsRequest) -> Result<SuspectsReport> {
    suspects_with(dir, req, &mut |_, _| true)
}

/// [`suspects`], telling `progress` (folds trained, folds in all) after each fold; it returns
/// false to cancel, which fails with [`AppError::Cancelled`].
pub fn suspects_with(
    dir: &Path,
    req: &SuspectsRequest,
    progress: &mut dyn FnMut(usize, usize) -> bool,
) -> Result<SuspectsReport> {
    let k = req.folds.unwrap_or(5);
    if !(2..=50).contains(&k) {
        return Err(AppError::Invalid(format!("--folds {k}: must be between 2 and 50")));
    }
    let rank_by = match req.rank_by.as_deref().unwrap_or("self_confidence") {
        "self_confidence" => RankBy::SelfConfidence,
        "normalized_margin" => RankBy::NormalizedMargin,
        other => {
            return Err(AppError::Invalid(format!(
                "--rank-by {other:?}: expected self_confidence or normalized_margin"
            )))
        }
    };
    let seed = req.seed.unwrap_or(42);
    let store = open(dir)?;
    let kind = store.kind()?;
    if kind == ProjectKind::Spans {
        return span_suspects(dir, &store, k, seed, req.limit, progress);
    }
    if !matches!(kind, ProjectKind::Single | ProjectKind::Multi) {
        return Err(AppError::Unsupported(format!(
            "suspects are found in single-label, multi-label and span projects; {} is a {} project",
            dir.display(),
            kind.as_str()
        )));
    }
    let multi = kind == ProjectKind::Multi;
    let labels: Vec<String> = store.labels()?.into_iter().map(|l| l.name).collect();
    // (id, text, the indices of its labels)
    let mut records: Vec<(String, String, Vec<usize>)> = Vec::new();
    // (seq, annotator, confirmed), beside `records`.
    let mut origin: Vec<(i64, String, bool)> = Vec::new();
    for r in store.labeled_records()? {
        let given: Vec<&String> = match &r.value {
            finelab_store::AnnotationValue::Label(label) => vec![label],
            finelab_store::AnnotationValue::Labels(set) => set.iter().collect(),
            _ => continue,
        };
        let idx: Vec<usize> = given.iter().filter_map(|g| labels.iter().position(|l| l == *g)).collect();
        if idx.len() == given.len() && (multi || idx.len() == 1) {
            records.push((r.id, r.text, idx));
            origin.push((r.seq, r.annotator, r.confirmed));
        }
    }
    let mut order: Vec<usize> = (0..records.len()).collect();
    order.sort_by(|&a, &b| records[a].0.cmp(&records[b].0));
    let (records, origin): (Vec<_>, Vec<_>) =
        order.into_iter().map(|i| (records[i].clone(), origin[i].clone())).unzip();
    if records.len() < 2 * k {
        return Err(AppError::Invalid(format!(
            "{} labeled record(s) are too few for {k}-fold cross-validation: label at least {}",
            records.len(),
            2 * k
        )));
    }
    // Folds stratified by the label (single) or the set of labels (multi).
    let sets: Vec<String> = records.iter().map(|r| format!("{:?}", r.2)).collect();
    let mut distinct: Vec<&String> = sets.iter().collect();
    distinct.sort();
    distinct.dedup();
    let strata: Vec<usize> = sets.iter().map(|s| distinct.binary_search(&s).unwrap_or(0)).collect();
    let folds = stratified_folds(&strata, k, seed);
    let scratch =
        Scratch(dir.join("runs").join(format!(".suspects-{}-{}", std::process::id(), finelab_store::now_ms())));
    let target = |given: &[usize]| {
        if multi {
            Target::Multi(given.iter().map(|&i| labels[i].clone()).collect())
        } else {
            Target::Single(labels[given[0]].clone())
        }
    };
    let mut probs: Vec<Vec<f64>> = vec![Vec::new(); records.len()];
    if !progress(0, k) {
        return Err(AppError::Cancelled("finding suspects was cancelled".into()));
    }
    for fold in 0..k {
        let train: Vec<Example> = records
            .iter()
            .zip(&folds)
            .filter(|(_, f)| **f != fold)
            .map(|((id, text, given), _)| Example { id: id.clone(), text: text.clone(), target: target(given) })
            .collect();
        let task = if multi { Task::Multi } else { Task::Single };
        let data = Dataset { task, labels: labels.clone(), train, dev: Vec::new(), test: Vec::new() };
        let config = TrainConfig { seed: seed.wrapping_add(fold as u64), ..TrainConfig::default() };
        let out = scratch.0.join(fold.to_string());
        finelab_train::train(&data, &config, &out, &mut |_| Control::Continue)?;
        let predictor = Predictor::load(&out)?;
        let held: Vec<usize> = (0..records.len()).filter(|&i| folds[i] == fold).collect();
        let texts: Vec<&str> = held.iter().map(|&i| records[i].1.as_str()).collect();
        for (&i, p) in held.iter().zip(predictor.predict_batch(&texts)?) {
            let scores = match p {
                Prediction::Single { scores, .. } | Prediction::Multi { scores, .. } => scores,
                Prediction::Spans { .. } => {
                    return Err(AppError::Invalid("the instant model did not answer with label scores".into()))
                }
            };
            probs[i] = labels.iter().map(|l| scores.get(l).copied().unwrap_or(0.0) as f64).collect();
        }
        if !progress(fold + 1, k) {
            return Err(AppError::Cancelled("finding suspects was cancelled".into()));
        }
    }
    drop(scratch);
    // (record, the labels to toggle, score): single-label, the given label for the suggested one;
    // multi-label, each label a yes/no question of its own.
    let mut found: Vec<(usize, Vec<usize>, f64)> = Vec::new();
    let mut suggested_single: std::collections::HashMap<usize, usize> = Default::default();
    if multi {
        let mut by_record: std::collections::BTreeMap<usize, (Vec<usize>, f64)> = Default::default();
        for l in 0..labels.len() {
            let binary: Vec<Vec<f64>> = probs.iter().map(|p| vec![1.0 - p[l], p[l]]).collect();
            let given: Vec<usize> = records.iter().map(|r| usize::from(r.2.contains(&l))).collect();
            for s in find_label_issues(&binary, &given, 2, rank_by) {
                let entry = by_record.entry(s.index).or_insert((Vec::new(), f64::INFINITY));
                entry.0.push(l);
                entry.1 = entry.1.min(s.score);
            }
        }
        found.extend(by_record.into_iter().map(|(i, (toggle, score))| (i, toggle, score)));
    } else {
        let classes: Vec<usize> = records.iter().map(|r| r.2[0]).collect();
        for s in find_label_issues(&probs, &classes, labels.len(), rank_by) {
            suggested_single.insert(s.index, s.suggested);
            found.push((s.index, vec![s.given], s.score));
        }
    }
    found.sort_by(|a, b| a.2.total_cmp(&b.2).then(a.0.cmp(&b.0)));
    let per_label = labels
        .iter()
        .enumerate()
        .map(|(c, label)| LabelNoise {
            label: label.clone(),
            n: records.iter().filter(|r| r.2.contains(&c)).count() as u64,
            n_suspects: found.iter().filter(|(i, toggle, _)| records[*i].2.contains(&c) && toggle.contains(&c)).count()
                as u64,
        })
        .collect();
    let suspected: Vec<usize> = found.iter().map(|f| f.0).collect();
    let per_annotator = per_annotator(&origin, &suspected);
    let n_suspects = found.len() as u64;
    let names = |idx: &[usize]| -> Vec<String> {
        let mut v: Vec<String> = idx.iter().map(|&i| labels[i].clone()).collect();
        v.sort();
        v
    };
    let suspects = found
        .into_iter()
        .take(req.limit.unwrap_or(usize::MAX))
        .map(|(i, toggle, score)| {
            let given = &records[i].2;
            if multi {
                let suggested: Vec<usize> =
                    (0..labels.len()).filter(|l| given.contains(l) != toggle.contains(l)).collect();
                Suspect {
                    id: records[i].0.clone(),
                    seq: origin[i].0,
                    annotator: origin[i].1.clone(),
                    confirmed: origin[i].2,
                    text: records[i].1.clone(),
                    label: names(given).join(","),
                    suggested: names(&suggested).join(","),
                    labels: Some(names(given)),
                    suggested_labels: Some(names(&suggested)),
                    spans: None,
                    suggested_spans: None,
                    score,
                }
            } else {
                Suspect {
                    id: records[i].0.clone(),
                    seq: origin[i].0,
                    annotator: origin[i].1.clone(),
                    confirmed: origin[i].2,
                    text: records[i].1.clone(),
                    label: labels[given[0]].clone(),
                    suggested: labels[suggested_single[&i]].clone(),
                    labels: None,
                    suggested_labels: None,
                    spans: None,
                    suggested_spans: None,
                    score,
                }
            }
        })
        .collect();
    Ok(SuspectsReport {
        n_records: records.len() as u64,
        folds: k as u64,
        n_suspects,
        per_label,
        per_annotator,
        suspects,
    })
}
