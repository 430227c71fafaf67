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

/// A labeled record as cross-validation takes it: its example, the key of its stratum, and where
/// its label came from (seq, annotator, confirmed).
struct Fold {
    example: Example,
    stratum: String,
    origin: (i64, String, bool),
}

/// Out-of-fold predictions of the instant family for `records` (sorted by id here, the order of
/// the answer): K folds stratified by each record's stratum and seeded, one model trained on the
/// other folds predicting each fold; `progress` after each fold, false cancels.
fn out_of_fold(
    dir: &Path,
    task: Task,
    labels: &[String],
    records: &mut [Fold],
    k: usize,
    seed: u64,
    progress: &mut dyn FnMut(usize, usize) -> bool,
) -> Result<Vec<Prediction>> {
    records.sort_by(|a, b| a.example.id.cmp(&b.example.id));
    if records.len() < 2 * k {
        return Err(AppError::Invalid(format!(
            "{} labeled record(s) are too few for {k}-fold cross-validation: label at least {}",
            records.len(),
            2 * k
        )));
    }
    let mut distinct: Vec<&String> = records.iter().map(|r| &r.stratum).collect();
    distinct.sort();
    distinct.dedup();
    let strata: Vec<usize> = records.iter().map(|r| distinct.binary_search(&&r.stratum).unwrap_or(0)).collect();
    let folds = stratified_folds(&strata, k, seed);
    let scratch =
        Scratch(dir.join("runs").join(format!(".suspects-{}-{}", std::process::id(), finelab_store::now_ms())));
    let cancelled = || AppError::Cancelled("finding suspects was cancelled".into());
    if !progress(0, k) {
        return Err(cancelled());
    }
    let mut predicted: Vec<Option<Prediction>> = vec![None; records.len()];
    for fold in 0..k {
        let train: Vec<Example> =
            records.iter().zip(&folds).filter(|(_, f)| **f != fold).map(|(r, _)| r.example.clone()).collect();
        let data = Dataset { task, labels: labels.to_vec(), train, dev: Vec::new(), test: Vec::new() };
        let config = TrainConfig { seed: seed.wrapping_add(fold as u64), ..TrainConfig::default() };
        let out = scratch.0.join(fold.to_string());
        finelab_train::train(&data, &config, &out, &mut |_| Control::Continue)?;
        let predictor = Predictor::load(&out)?;
        let held: Vec<usize> = (0..records.len()).filter(|&i| folds[i] == fold).collect();
        let texts: Vec<&str> = held.iter().map(|&i| records[i].example.text.as_str()).collect();
        for (&i, p) in held.iter().zip(predictor.predict_batch(&texts)?) {
            predicted[i] = Some(p);
        }
        if !progress(fold + 1, k) {
            return Err(cancelled());
        }
    }
    Ok(predicted.into_iter().map(|p| p.expect("every record is in one fold")).collect())
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
    let mut records: Vec<Fold> = Vec::new();
    for r in store.labeled_records()? {
        if let finelab_store::AnnotationValue::Spans(spans) = r.value {
            // Folds stratified by the set of entity types a record holds.
            let mut types: Vec<&str> = spans.iter().map(|s| s.label.as_str()).collect();
            types.sort();
            types.dedup();
            let stratum = types.join(",");
            let gold = spans.iter().map(|s| TrainSpan { start: s.start, end: s.end, label: s.label.clone() }).collect();
            records.push(Fold {
                example: Example { id: r.id, text: r.text, target: Target::Spans(gold) },
                stratum,
                origin: (r.seq, r.annotator, r.confirmed),
            });
        }
    }
    let predictions = out_of_fold(dir, Task::Spans, &labels, &mut records, k, seed, progress)?;
    let mut predicted: Vec<Vec<finelab_train::ScoredSpan>> = Vec::with_capacity(records.len());
    for p in predictions {
        match p {
            Prediction::Spans { spans } => predicted.push(spans),
            _ => return Err(AppError::Invalid("the instant tagger did not answer with spans".into())),
        }
    }
    let gold: Vec<Vec<TrainSpan>> = records
        .iter()
        .map(|r| match &r.example.target {
            Target::Spans(spans) => spans.clone(),
            _ => Vec::new(),
        })
        .collect();
    let store_spans = |spans: &[TrainSpan]| -> Vec<finelab_store::Span> {
        spans.iter().map(|s| finelab_store::Span { start: s.start, end: s.end, label: s.label.clone() }).collect()
    };
    let origin: Vec<(i64, String, bool)> = records.iter().map(|r| r.origin.clone()).collect();
    let found = finelab_train::noise::find_span_issues(&gold, &predicted);
    let involves = |f: &finelab_train::noise::SpanSuspect, label: &str| {
        f.contradicted.iter().any(|s| s.label == label) || f.proposed.iter().any(|s| s.label == label)
    };
    let per_label = labels
        .iter()
        .map(|label| LabelNoise {
            label: label.clone(),
            n: gold.iter().filter(|g| g.iter().any(|s| &s.label == label)).count() as u64,
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
            let (id, text) = (&records[f.index].example.id, &records[f.index].example.text);
            let given = store_spans(&gold[f.index]);
            let suggested = store_spans(&f.suggested);
            Suspect {
                id: id.clone(),
                seq: origin[f.index].0,
                annotator: origin[f.index].1.clone(),
                confirmed: origin[f.index].2,
                text: text.clone(),
                label: describe_spans(text, &given),
                suggested: describe_spans(text, &suggested),
                labels: None,
                suggested_labels: None,
                spans: Some(given),
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
    let mut records: Vec<Fold> = Vec::new();
    for r in store.labeled_records()? {
        let given: Vec<&String> = match &r.value {
            finelab_store::AnnotationValue::Label(label) => vec![label],
            finelab_store::AnnotationValue::Labels(set) => set.iter().collect(),
            _ => continue,
        };
        let mut idx: Vec<usize> = given.iter().filter_map(|g| labels.iter().position(|l| l == *g)).collect();
        idx.sort();
        if idx.len() == given.len() && (multi || idx.len() == 1) {
            let target = if multi {
                Target::Multi(idx.iter().map(|&i| labels[i].clone()).collect())
            } else {
                Target::Single(labels[idx[0]].clone())
            };
            // Folds stratified by the label (single) or the set of labels (multi).
            records.push(Fold {
                example: Example { id: r.id, text: r.text, target },
                stratum: format!("{idx:?}"),
                origin: (r.seq, r.annotator, r.confirmed),
            });
        }
    }
    let task = if multi { Task::Multi } else { Task::Single };
    let predictions = out_of_fold(dir, task, &labels, &mut records, k, seed, progress)?;
    let mut probs: Vec<Vec<f64>> = Vec::with_capacity(records.len());
    for p in predictions {
        let scores = match p {
            Prediction::Single { scores, .. } | Prediction::Multi { scores, .. } => scores,
            Prediction::Spans { .. } => {
                return Err(AppError::Invalid("the instant model did not answer with label scores".into()))
            }
        };
        probs.push(labels.iter().map(|l| scores.get(l).copied().unwrap_or(0.0) as f64).collect());
    }
    // The given labels' indices, and where they came from, in the records' order.
    let given_of = |t: &Target| -> Vec<usize> {
        match t {
            Target::Single(l) => labels.iter().position(|x| x == l).into_iter().collect(),
            Target::Multi(ls) => ls.iter().filter_map(|l| labels.iter().position(|x| x == l)).collect(),
            Target::Spans(_) => Vec::new(),
        }
    };
    let origin: Vec<(i64, String, bool)> = records.iter().map(|r| r.origin.clone()).collect();
    let records: Vec<(String, String, Vec<usize>)> = records
        .into_iter()
        .map(|r| {
            let given = given_of(&r.example.target);
            (r.example.id, r.example.text, given)
        })
        .collect();
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
