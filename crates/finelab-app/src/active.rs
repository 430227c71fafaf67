//! The order records are served in for labeling: sequential (import order), random (seeded),
//! uncertain first (the newest model's least confident records), uncertain with diversity
//! (uncertain records, but not twenty near-duplicates of one), or production traffic only (the
//! texts a deployed model answered, least sure when it answered first).
//!
//! Uncertainty, from the newest completed run's model predicting the unlabeled records:
//! single-label, the margin between the two most probable labels; multi-label, how near the
//! nearest label's probability is to 0.5; spans, the confidence of the least confident span
//! found (a sentence with none counts as confident). Before any run has a model, `uncertain` and
//! `diverse` serve the random order (cold start), and say so.

use std::collections::HashSet;
use std::path::Path;

use finelab_store::{RecordView, RunRow, RunStatus, Store};
use finelab_train::Prediction;
use serde::{Deserialize, Serialize};

use crate::predict::load_model;
use crate::project::next_records;
use crate::{AppError, Result};

/// How the next records are chosen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Import order.
    #[default]
    Sequential,
    /// A seeded random order.
    Random,
    /// The newest model's least confident records first.
    Uncertain,
    /// Uncertain first, spread out: each pick is penalized by its similarity to the picks before.
    Diverse,
    /// Only records logged from production traffic ([`crate::production`]), the ones the served
    /// model was least sure of first (by the uncertainty it answered with).
    Production,
}

impl std::str::FromStr for Strategy {
    type Err = AppError;
    fn from_str(s: &str) -> Result<Strategy> {
        Ok(match s {
            "sequential" => Strategy::Sequential,
            "random" => Strategy::Random,
            "uncertain" => Strategy::Uncertain,
            "diverse" => Strategy::Diverse,
            "production" => Strategy::Production,
            other => {
                return Err(AppError::Invalid(format!(
                    "strategy {other:?}: expected sequential, random, uncertain, diverse or production"
                )))
            }
        })
    }
}

/// The records to label next and how they were chosen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct NextBatch {
    /// The strategy asked for.
    pub strategy: Strategy,
    /// The strategy used (`random` for `uncertain` / `diverse` before any model exists).
    pub used: Strategy,
    /// The run whose model ranked them (uncertain, diverse) or picked them (a label asked for).
    pub run: Option<String>,
    /// When that run finished (ms since the epoch).
    pub trained_at: Option<i64>,
    /// That run's dev macro-F1.
    pub dev_macro_f1: Option<f64>,
    /// Only records that model predicts as this label.
    pub label: Option<String>,
    /// The records, in order, each with the uncertainty it was ranked by (0: sure, 1: a coin
    /// toss) when a model ranked it.
    pub records: Vec<NextRecord>,
}

/// One record to label next.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct NextRecord {
    /// The record as the label screen shows it.
    pub view: RecordView,
    /// The model's uncertainty about it (uncertain, diverse; production: the served model's).
    pub uncertainty: Option<f64>,
}

/// The uncertainty of a prediction, 0 (sure) to 1 (a coin toss).
pub fn uncertainty(p: &Prediction) -> f64 {
    match p {
        Prediction::Single { scores, .. } => {
            let mut v: Vec<f32> = scores.values().copied().collect();
            v.sort_by(|a, b| b.total_cmp(a));
            let margin = v.first().copied().unwrap_or(1.0) - v.get(1).copied().unwrap_or(0.0);
            1.0 - margin.clamp(0.0, 1.0) as f64
        }
        Prediction::Multi { scores, .. } => {
            let nearest = scores.values().map(|&s| (s as f64 - 0.5).abs()).fold(0.5, f64::min);
            1.0 - 2.0 * nearest
        }
        Prediction::Spans { spans } => spans.iter().map(|s| 1.0 - s.score as f64).fold(0.0, f64::max).clamp(0.0, 1.0),
    }
}

/// The set of character trigrams of a text (whitespace folded, lowercased).
fn trigrams(text: &str) -> HashSet<[char; 3]> {
    let chars: Vec<char> = text.chars().flat_map(char::to_lowercase).filter(|c| !c.is_whitespace()).collect();
    chars.windows(3).map(|w| [w[0], w[1], w[2]]).collect()
}

fn jaccard(a: &HashSet<[char; 3]>, b: &HashSet<[char; 3]>) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    a.intersection(b).count() as f64 / a.union(b).count() as f64
}

/// Greedy picks from candidates ranked by uncertainty: each time the one with the highest
/// uncertainty minus `penalty` times its largest trigram similarity to a pick already made.
/// Returns indices into `candidates`, `n` at most.
pub fn diverse_order(candidates: &[(&str, f64)], n: usize, penalty: f64) -> Vec<usize> {
    let grams: Vec<HashSet<[char; 3]>> = candidates.iter().map(|(t, _)| trigrams(t)).collect();
    let mut closest = vec![0.0f64; candidates.len()];
    let mut taken = vec![false; candidates.len()];
    let mut out = Vec::with_capacity(n.min(candidates.len()));
    while out.len() < n.min(candidates.len()) {
        let best = (0..candidates.len())
            .filter(|&i| !taken[i])
            .max_by(|&a, &b| {
                let score = |i: usize| candidates[i].1 - penalty * closest[i];
                score(a).total_cmp(&score(b)).then(b.cmp(&a))
            })
            .expect("a candidate is left");
        taken[best] = true;
        out.push(best);
        for i in 0..candidates.len() {
            if !taken[i] {
                closest[i] = closest[i].max(jaccard(&grams[i], &grams[best]));
            }
        }
    }
    out
}

/// A seeded random rank of a record id.
fn random_key(seed: u64, id: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(id.as_bytes(), seed)
}

/// The newest completed run with a model that predicts labels (not a generator).
fn serving_run(store: &Store, dir: &Path) -> Result<Option<(RunRow, finelab_train::Predictor)>> {
    for row in store.runs()? {
        if row.status != RunStatus::Completed || row.family == finelab_train::generator::FAMILY {
            continue;
        }
        let Some(model_dir) = row.model_dir.as_ref().map(|m| dir.join(m)).filter(|m| m.is_dir()) else { continue };
        let predictor = load_model(&model_dir)?;
        return Ok(Some((row, predictor)));
    }
    Ok(None)
}

/// Whether a prediction names `label` (single: its label; multi: among its labels; spans: a
/// span of it).
fn predicts(p: &Prediction, label: &str) -> bool {
    match p {
        Prediction::Single { label: l, .. } => l == label,
        Prediction::Multi { labels, .. } => labels.iter().any(|l| l == label),
        Prediction::Spans { spans } => spans.iter().any(|s| s.label == label),
    }
}

/// The next `n` records for `annotator` in the order `strategy` gives (records the annotator
/// skipped left out); with `label`, only the records the newest model predicts as that label
/// (in the same order). `seed` orders the random strategy (and the cold start). Records `keep`
/// refuses (held by other people, [`crate::assign`]) are left out.
pub fn next_batch(
    dir: &Path,
    annotator: &str,
    n: usize,
    strategy: Strategy,
    seed: u64,
    label: Option<&str>,
    keep: &dyn Fn(&finelab_store::RecordView) -> bool,
) -> Result<NextBatch> {
    if strategy == Strategy::Sequential && label.is_none() {
        let records =
            next_records(dir, annotator, n, keep)?.into_iter().map(|view| NextRecord { view, uncertainty: None });
        return Ok(NextBatch::unranked(strategy, strategy, records.collect()));
    }
    let store = crate::runs::open(dir)?;
    if let Some(label) = label {
        if !store.labels()?.iter().any(|l| l.name == label) {
            return Err(AppError::Invalid(format!("label {label:?} is not one of the project's labels")));
        }
    }
    let mut pool: Vec<(i64, String)> = store.open_for(annotator, 0, usize::MAX >> 1)?;
    let model = match (strategy, label) {
        (Strategy::Uncertain | Strategy::Diverse, _) | (_, Some(_)) => serving_run(&store, dir)?,
        _ => None,
    };
    if label.is_some() && model.is_none() {
        return Err(AppError::Unsupported(
            "records predicted as a label are served once a run has a model: train one first".into(),
        ));
    }
    let used = match strategy {
        Strategy::Uncertain | Strategy::Diverse if model.is_none() => Strategy::Random,
        s => s,
    };
    // The model's uncertainty per pool index (none without a model), and the pool indices kept.
    let mut scores: Vec<Option<f64>> = vec![None; pool.len()];
    let mut kept: Vec<usize> = (0..pool.len()).collect();
    if let Some((_, predictor)) = &model {
        let mut keep = vec![true; pool.len()];
        for (start, chunk) in pool.chunks(256).enumerate() {
            let texts: Vec<&str> = chunk.iter().map(|(_, t)| t.as_str()).collect();
            for (j, p) in predictor.predict_batch(&texts)?.iter().enumerate() {
                scores[start * 256 + j] = Some(uncertainty(p));
                keep[start * 256 + j] = label.is_none_or(|l| predicts(p, l));
            }
        }
        kept.retain(|&i| keep[i]);
    }
    if used == Strategy::Production {
        // The uncertainty each production record was served with.
        let served: std::collections::HashMap<i64, f64> = store
            .production_records()?
            .into_iter()
            .filter(|(_, _, labeled)| !labeled)
            .map(|(meta, seq, _)| (seq, meta["uncertainty"].as_f64().unwrap_or(0.0)))
            .collect();
        kept.retain(|&i| served.contains_key(&pool[i].0));
        for &i in &kept {
            scores[i] = served.get(&pool[i].0).copied();
        }
    }
    // Pool indices in serving order.
    let order: Vec<usize> = match used {
        Strategy::Sequential => kept,
        Strategy::Random => {
            let mut keyed: Vec<(u64, i64, usize)> = Vec::with_capacity(kept.len());
            for i in kept {
                let id = store.record_by_seq(pool[i].0)?.record.id;
                keyed.push((random_key(seed, &id), pool[i].0, i));
            }
            keyed.sort();
            keyed.into_iter().map(|(_, _, i)| i).collect()
        }
        Strategy::Uncertain | Strategy::Diverse | Strategy::Production => {
            let u = |i: usize| scores[i].unwrap_or(0.0);
            kept.sort_by(|&a, &b| u(b).total_cmp(&u(a)).then(pool[a].0.cmp(&pool[b].0)));
            if used == Strategy::Diverse {
                // Diversity among the most uncertain: a pool a few times larger than the batch.
                let head = kept.len().min((5 * n).max(50));
                let candidates: Vec<(&str, f64)> = kept[..head].iter().map(|&i| (pool[i].1.as_str(), u(i))).collect();
                let picks = diverse_order(&candidates, head, 1.0);
                let mut spread: Vec<usize> = picks.into_iter().map(|k| kept[k]).collect();
                spread.extend_from_slice(&kept[head..]);
                spread
            } else {
                kept
            }
        }
    };
    let mut records = Vec::with_capacity(n.min(order.len()));
    for i in order {
        if records.len() >= n {
            break;
        }
        let view = store.record_by_seq(pool[i].0)?;
        if view.annotations.iter().any(|a| a.annotator == annotator && a.skipped) || !keep(&view) {
            continue;
        }
        let ranked = matches!(used, Strategy::Uncertain | Strategy::Diverse | Strategy::Production);
        let uncertainty = if ranked { scores[i] } else { None };
        records.push(NextRecord { view, uncertainty });
    }
    pool.clear();
    let mut batch = NextBatch::unranked(strategy, used, records);
    if let Some((row, _)) = model {
        batch.trained_at = row.finished_at;
        batch.dev_macro_f1 = row.dev_report.as_ref().and_then(macro_f1);
        batch.run = Some(row.id);
    }
    batch.label = label.map(str::to_string);
    Ok(batch)
}

/// The macro-averaged F1 of a stored report.
fn macro_f1(report: &serde_json::Value) -> Option<f64> {
    report.get("macro avg")?.get("f1-score")?.as_f64()
}

impl NextBatch {
    fn unranked(strategy: Strategy, used: Strategy, records: Vec<NextRecord>) -> NextBatch {
        NextBatch { strategy, used, run: None, trained_at: None, dev_macro_f1: None, label: None, records }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn single(p: &[(&str, f32)]) -> Prediction {
        let scores: BTreeMap<String, f32> = p.iter().map(|(l, s)| (l.to_string(), *s)).collect();
        Prediction::Single { label: p[0].0.into(), scores }
    }

    #[test]
    fn uncertainty_is_one_minus_the_margin() {
        assert!((uncertainty(&single(&[("a", 0.9), ("b", 0.1)])) - 0.2).abs() < 1e-6);
        assert!((uncertainty(&single(&[("a", 0.5), ("b", 0.5)])) - 1.0).abs() < 1e-6);
        // Three labels: the top two decide.
        assert!((uncertainty(&single(&[("a", 0.45), ("b", 0.40), ("c", 0.15)])) - 0.95).abs() < 1e-6);
        let multi = Prediction::Multi {
            labels: vec![],
            scores: [("x".to_string(), 0.9f32), ("y".to_string(), 0.6)].into_iter().collect(),
        };
        assert!((uncertainty(&multi) - 0.8).abs() < 1e-6, "0.6 is 0.1 from 0.5");
    }

    #[test]
    fn diverse_order_skips_near_duplicates_of_what_it_took() {
        // Three near-identical uncertain texts, then two distinct, slightly less uncertain ones.
        let candidates = [
            ("the delivery was late but the price was fine", 0.99),
            ("the delivery was late but the price was fine!", 0.98),
            ("the delivery was late, but the price was fine", 0.97),
            ("物流很快，包装一般", 0.90),
            ("great screen, weak battery", 0.85),
        ];
        let order = diverse_order(&candidates, 3, 1.0);
        assert_eq!(order, vec![0, 3, 4], "one of the duplicates, then the distinct ones");
        // Without the penalty it is the uncertainty order.
        assert_eq!(diverse_order(&candidates, 5, 0.0), vec![0, 1, 2, 3, 4]);
    }
}
