//! Production traffic back into the project: the texts a served model answered become unlabeled
//! records marked as production (`meta.source = "production"`, with the model, the time and the
//! served prediction), so the label screen's uncertain-first order can serve the ones the model
//! was least sure of; and the mix of predicted labels in production per day beside the labels
//! the project trains on.

use crate::active::uncertainty;
use crate::{AppError, Result};
use finelab_store::import::ImportOptions;
use finelab_store::{ProjectKind, Split, Store};
use finelab_train::Prediction;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use ts_rs::TS;

/// One answered request, to log.
#[derive(Debug, Clone)]
pub struct Served {
    /// The text.
    pub text: String,
    /// The served model's name.
    pub model: String,
    /// When (ms since the epoch).
    pub at: i64,
    /// What it answered.
    pub prediction: Prediction,
}

/// What a flush of the production log did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
pub struct Logged {
    /// New records.
    pub added: u64,
    /// Texts already in the project.
    pub duplicates: u64,
    /// Texts dropped because the project holds `keep` unlabeled production records already.
    pub dropped: u64,
}

/// The predicted label of `p` as the mix counts it: the label, the labels joined by `|`, or
/// the span types found.
fn mix_key(p: &Prediction) -> Vec<String> {
    match p {
        Prediction::Single { label, .. } => vec![label.clone()],
        Prediction::Multi { labels, .. } if labels.is_empty() => vec!["(none)".into()],
        Prediction::Multi { labels, .. } => labels.clone(),
        Prediction::Spans { spans } if spans.is_empty() => vec!["(none)".into()],
        Prediction::Spans { spans } => spans.iter().map(|s| s.label.clone()).collect(),
    }
}

/// Adds `served` to the project in `dir` as unlabeled production records, one import (one
/// transaction; texts already in the project are skipped as duplicates), keeping at most `keep`
/// unlabeled production records (the rest are dropped, newest last). The file imported stays in
/// `DIR/production/` as the record of what was served.
pub fn log(dir: &Path, served: &[Served], keep: u64) -> Result<Logged> {
    let mut store = Store::open(dir)?;
    if store.kind()? == ProjectKind::Generate {
        return Err(AppError::Unsupported("production logging is for classifiers and taggers".into()));
    }
    let waiting = store.n_production_unlabeled()?;
    let room = keep.saturating_sub(waiting) as usize;
    let take = served.len().min(room);
    let mut logged = Logged { dropped: (served.len() - take) as u64, ..Logged::default() };
    if take == 0 {
        return Ok(logged);
    }
    let folder = dir.join("production");
    std::fs::create_dir_all(&folder).map_err(|e| AppError::Io { path: folder.display().to_string(), source: e })?;
    let path = folder.join(format!("{}-{}.jsonl", crate::train::utc_stamp(served[0].at), served[0].at % 1000));
    let write = || -> std::io::Result<()> {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path)?);
        for s in &served[..take] {
            let line = serde_json::json!({
                "text": s.text,
                "meta": {
                    "source": "production",
                    "model": s.model,
                    "served_at": s.at,
                    "prediction": s.prediction,
                    "uncertainty": uncertainty(&s.prediction),
                },
            });
            writeln!(f, "{line}")?;
        }
        f.flush()
    };
    write().map_err(|e| AppError::Io { path: path.display().to_string(), source: e })?;
    let report = store.import(&path, &ImportOptions::default(), &mut |_| true)?;
    logged.added = report.imported;
    logged.duplicates = report.duplicates;
    Ok(logged)
}

/// The predicted labels of one day in production.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct DayMix {
    /// The day, `YYYY-MM-DD` (UTC).
    pub day: String,
    /// Requests answered.
    pub n: u64,
    /// Predicted label → share of that day's requests (multi-label and spans: of the labels).
    pub shares: BTreeMap<String, f64>,
}

/// Production's predicted labels per day beside the label mix of the train split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ProductionMix {
    /// Production records logged.
    pub n_production: u64,
    /// Of them, labeled since.
    pub n_labeled: u64,
    /// Per day, oldest first.
    pub days: Vec<DayMix>,
    /// Label → share among the train split's labels.
    pub train: BTreeMap<String, f64>,
}

fn shares(counts: &BTreeMap<String, u64>) -> BTreeMap<String, f64> {
    let total: u64 = counts.values().sum();
    counts.iter().map(|(k, &v)| (k.clone(), if total == 0 { 0.0 } else { v as f64 / total as f64 })).collect()
}

/// [`ProductionMix`] of the project in `dir`.
pub fn mix(dir: &Path) -> Result<ProductionMix> {
    let store = Store::open(dir)?;
    let mut per_day: BTreeMap<String, (u64, BTreeMap<String, u64>)> = BTreeMap::new();
    let rows = store.production_records()?;
    let n_labeled = rows.iter().filter(|r| r.2).count() as u64;
    for (meta, _seq, _labeled) in &rows {
        let Some(at) = meta.get("served_at").and_then(|v| v.as_i64()) else { continue };
        let Some(p) = meta.get("prediction").and_then(|v| serde_json::from_value::<Prediction>(v.clone()).ok()) else {
            continue;
        };
        let day = crate::train::utc_stamp(at)[..8].to_string();
        let day = format!("{}-{}-{}", &day[..4], &day[4..6], &day[6..8]);
        let entry = per_day.entry(day).or_default();
        entry.0 += 1;
        for k in mix_key(&p) {
            *entry.1.entry(k).or_default() += 1;
        }
    }
    let mut train: BTreeMap<String, u64> = BTreeMap::new();
    for r in store.labeled_records()?.into_iter().filter(|r| r.split == Some(Split::Train)) {
        for name in r.value.label_names() {
            *train.entry(name.to_string()).or_default() += 1;
        }
    }
    Ok(ProductionMix {
        n_production: rows.len() as u64,
        n_labeled,
        days: per_day.into_iter().map(|(day, (n, c))| DayMix { day, n, shares: shares(&c) }).collect(),
        train: shares(&train),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn single(label: &str, p: f32) -> Prediction {
        let other = if label == "pos" { "neg" } else { "pos" };
        Prediction::Single { label: label.into(), scores: [(label.into(), p), (other.into(), 1.0 - p)].into() }
    }

    #[test]
    fn served_texts_become_production_records_up_to_the_limit() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("p");
        let create = crate::project::CreateProject {
            name: None,
            kind: ProjectKind::Single,
            labels: vec!["pos".into(), "neg".into()],
            label_defs: None,
            guidelines: None,
            split_seed: None,
            split_ratios: None,
        };
        crate::project::create(&dir, &create).unwrap();
        let day1 = 1_796_342_400_000; // 2026-12-04T00:00:00Z
        let served = |text: &str, label: &str, p: f32, at: i64| Served {
            text: text.into(),
            model: "m".into(),
            at,
            prediction: single(label, p),
        };
        let first =
            [served("好评", "pos", 0.9, day1), served("差评", "neg", 0.6, day1), served("好评", "pos", 0.9, day1)];
        let logged = log(&dir, &first, 3).unwrap();
        assert_eq!(logged, Logged { added: 2, duplicates: 1, dropped: 0 });
        let next = [served("一般", "pos", 0.55, day1 + 86_400_000), served("还行", "neg", 0.7, day1 + 86_400_000)];
        assert_eq!(log(&dir, &next, 3).unwrap(), Logged { added: 1, duplicates: 0, dropped: 1 }, "3 waiting at most");
        let mix = mix(&dir).unwrap();
        assert_eq!((mix.n_production, mix.n_labeled), (3, 0));
        assert_eq!(
            mix.days.iter().map(|d| (d.day.as_str(), d.n)).collect::<Vec<_>>(),
            [("2026-12-04", 2), ("2026-12-05", 1)]
        );
        assert_eq!(mix.days[0].shares, [("neg".to_string(), 0.5), ("pos".to_string(), 0.5)].into());
        // Kept with what was served: the meta carries the prediction and its uncertainty.
        let store = Store::open(&dir).unwrap();
        let rows = store.production_records().unwrap();
        assert_eq!(rows[1].0["prediction"]["label"], "neg");
        assert!((rows[1].0["uncertainty"].as_f64().unwrap() - uncertainty(&single("neg", 0.6))).abs() < 1e-9);
        assert!(dir.join("production").read_dir().unwrap().count() >= 2, "the files served stay");
    }
}
