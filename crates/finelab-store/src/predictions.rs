//! Runs' predictions: written when a run finishes, read for drill-down from its charts
//! ([`Store::run_records`]), for suggestions in the label screen (`RecordView::prediction`) and
//! for browsing by predicted label and score (the search filters).

use crate::{AnnotationValue, Error, Record, Result, Split, Store, Suggestion};
use rusqlite::{params, params_from_iter, types::Value, OptionalExtension};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// One prediction to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPrediction {
    /// The record's sequence number.
    pub seq: i64,
    /// The split the run scored it in (dev, test), or `None` for a record it only predicted.
    pub split: Option<Split>,
    /// The value the run scored it against (its label in the run's data snapshot).
    pub gold: Option<AnnotationValue>,
    /// The prediction (labels sorted, spans sorted, as annotation values are).
    pub value: AnnotationValue,
    /// The top label (see [`Suggestion::label`]).
    pub label: Option<String>,
    /// The confidence (see [`Suggestion::score`]).
    pub score: Option<f64>,
}

/// Which of a run's predictions [`Store::run_records`] returns; every field narrows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct RunRecordsQuery {
    /// Records the run scored in this split (none: every predicted record, unlabeled ones too).
    pub split: Option<Split>,
    /// Records whose gold value has this label (single-label: is this label).
    pub gold: Option<String>,
    /// Records whose prediction has this label (single-label: is this label).
    pub predicted: Option<String>,
    /// Records where this label is gold or predicted (a label's bar).
    pub label: Option<String>,
    /// Only wrong predictions: with `label`, records where that label is in exactly one of gold
    /// and prediction (its false positives and false negatives); without, records whose
    /// prediction differs from gold.
    #[serde(default)]
    pub only_errors: bool,
    /// At most this many rows (default 50, at most 1000).
    pub limit: Option<u32>,
    /// Skip this many rows first.
    pub offset: Option<u64>,
}

/// A record behind a chart element.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct RunRecord {
    /// The record (text or turns, split, source).
    pub record: Record,
    /// The split the run scored it in (absent for an unlabeled record it predicted).
    pub split: Option<Split>,
    /// The value the run scored it against.
    pub gold: Option<AnnotationValue>,
    /// The run's prediction.
    pub predicted: AnnotationValue,
    /// The top predicted label.
    pub label: Option<String>,
    /// The prediction's confidence.
    pub score: Option<f64>,
    /// Whether the prediction equals gold (absent without gold).
    pub correct: Option<bool>,
    /// The record's current value (the latest annotator's): it may have been fixed since.
    pub current: Option<AnnotationValue>,
    /// Who gave `current`.
    pub current_annotator: Option<String>,
}

/// One output a generator run wrote ([`Store::run_outputs`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RunOutput {
    /// The record.
    pub seq: i64,
    /// The split the run scored it in.
    pub split: Option<Split>,
    /// The reference it was scored against.
    pub reference: Option<String>,
    /// The output.
    pub output: String,
}

/// One page of [`RunRecord`]s.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct RunRecordsPage {
    /// The rows, in import order.
    pub rows: Vec<RunRecord>,
    /// Rows matching the query in all.
    pub total: u64,
}

fn label_names(value: &AnnotationValue) -> String {
    serde_json::to_string(&value.label_names()).expect("names serialize")
}

impl Store {
    /// Stores predictions of `run` in one transaction (replacing earlier ones for the same
    /// records). Callers write in batches so that labeling never waits long.
    pub fn write_predictions(&mut self, run: &str, rows: &[NewPrediction]) -> Result<()> {
        let tx = crate::project::write_tx(&mut self.conn)?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR REPLACE INTO predictions (run_id, record_id, split, gold, gold_labels, value, label, labels, score)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            for p in rows {
                insert.execute(params![
                    run,
                    p.seq,
                    p.split.map(Split::as_str),
                    p.gold.as_ref().map(serde_json::to_string).transpose()?,
                    p.gold.as_ref().map(label_names).unwrap_or_else(|| "[]".into()),
                    serde_json::to_string(&p.value)?,
                    p.label,
                    label_names(&p.value),
                    p.score
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// How many predictions `run` has stored.
    pub fn n_predictions(&self, run: &str) -> Result<u64> {
        Ok(self.conn.query_row("SELECT count(*) FROM predictions WHERE run_id = ?1", [run], |r| r.get::<_, i64>(0))?
            as u64)
    }

    /// A generator run's stored outputs, in import order. Predictions that are not outputs are
    /// left out.
    pub fn run_outputs(&self, run: &str) -> Result<Vec<RunOutput>> {
        let mut stmt = self
            .conn
            .prepare("SELECT record_id, split, gold, value FROM predictions WHERE run_id = ?1 ORDER BY record_id")?;
        let rows = stmt.query_map([run], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, String>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, split, gold, value) = row?;
            let AnnotationValue::Output(output) = serde_json::from_str::<AnnotationValue>(&value)? else { continue };
            let reference = match gold.map(|g| serde_json::from_str::<AnnotationValue>(&g)).transpose()? {
                Some(AnnotationValue::Output(g)) => Some(g),
                _ => None,
            };
            out.push(RunOutput { seq, split: split.map(|s| s.parse()).transpose()?, reference, output });
        }
        Ok(out)
    }

    /// Sequence numbers of records by stable id (ids not found are left out).
    pub fn seqs_by_uid(&self, uids: &[&str]) -> Result<HashMap<String, i64>> {
        let mut stmt = self.conn.prepare_cached("SELECT id FROM records WHERE uid = ?1")?;
        let mut out = HashMap::with_capacity(uids.len());
        for uid in uids {
            if let Some(seq) = stmt.query_row([uid], |r| r.get::<_, i64>(0)).optional()? {
                out.insert(uid.to_string(), seq);
            }
        }
        Ok(out)
    }

    /// How many records no annotator has labeled.
    pub fn n_unlabeled(&self) -> Result<u64> {
        Ok(self.conn.query_row("SELECT count(*) FROM records WHERE n_labeled = 0", [], |r| r.get::<_, i64>(0))? as u64)
    }

    /// How many records logged from production traffic (`meta.source = "production"`) nobody
    /// has labeled yet.
    pub fn n_production_unlabeled(&self) -> Result<u64> {
        Ok(self.conn.query_row(
            "SELECT count(*) FROM records WHERE n_labeled = 0 AND json_extract(meta, '$.source') = 'production'",
            [],
            |r| r.get::<_, i64>(0),
        )? as u64)
    }

    /// Every record logged from production traffic: its meta, sequence number and whether it is
    /// labeled, in import order.
    pub fn production_records(&self) -> Result<Vec<(serde_json::Value, i64, bool)>> {
        let mut stmt = self.conn.prepare(
            "SELECT meta, id, n_labeled > 0 FROM records WHERE json_extract(meta, '$.source') = 'production' ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, bool>(2)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (meta, seq, labeled) = row?;
            out.push((serde_json::from_str(&meta)?, seq, labeled));
        }
        Ok(out)
    }

    /// Up to `limit` unlabeled records after `after_seq`, as (sequence number, text), in order.
    pub fn unlabeled_texts(&self, after_seq: i64, limit: usize) -> Result<Vec<(i64, String)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, text FROM records WHERE n_labeled = 0 AND id > ?1 ORDER BY id LIMIT ?2")?;
        let rows = stmt.query_map(params![after_seq, limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The newest completed run that has predictions.
    pub fn latest_predicting_run(&self) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT r.id FROM runs r WHERE r.status = 'completed'
                   AND EXISTS (SELECT 1 FROM predictions p WHERE p.run_id = r.id)
                 ORDER BY r.created_at DESC, r.id DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// The newest completed run's prediction for a record.
    pub(crate) fn suggestion(&self, seq: i64) -> Result<Option<Suggestion>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT p.run_id, p.value, p.label, p.score FROM predictions p JOIN runs r ON r.id = p.run_id
             WHERE p.record_id = ?1 AND r.status = 'completed' ORDER BY r.created_at DESC, r.id DESC LIMIT 1",
        )?;
        let row = stmt
            .query_row([seq], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, Option<f64>>(3)?,
                ))
            })
            .optional()?;
        match row {
            None => Ok(None),
            Some((run, value, label, score)) => {
                Ok(Some(Suggestion { run, value: serde_json::from_str(&value)?, label, score }))
            }
        }
    }

    /// The records behind a chart element of `run`: its predictions narrowed by `query`, with
    /// each record's text and current value.
    pub fn run_records(&self, run: &str, query: &RunRecordsQuery) -> Result<RunRecordsPage> {
        self.run(run)?;
        let mut conds = vec!["p.run_id = ?".to_string()];
        let mut args: Vec<Value> = vec![Value::Text(run.to_string())];
        let has = |column: &str| format!("EXISTS (SELECT 1 FROM json_each(p.{column}) WHERE value = ?)");
        let has_gold = has("gold_labels");
        if let Some(split) = query.split {
            conds.push("p.split = ?".into());
            args.push(Value::Text(split.as_str().into()));
        }
        if let Some(gold) = &query.gold {
            conds.push(has_gold.clone());
            args.push(Value::Text(gold.clone()));
        }
        if let Some(predicted) = &query.predicted {
            conds.push(has("labels"));
            args.push(Value::Text(predicted.clone()));
        }
        if let Some(label) = &query.label {
            if query.only_errors {
                conds.push(format!("(({has_gold}) <> ({}))", has("labels")));
            } else {
                conds.push(format!("(({has_gold}) OR ({}))", has("labels")));
            }
            args.push(Value::Text(label.clone()));
            args.push(Value::Text(label.clone()));
        } else if query.only_errors {
            conds.push("p.gold IS NOT NULL AND p.gold <> p.value".into());
        }
        let filter = conds.join(" AND ");
        let total: i64 = self.conn.query_row(
            &format!("SELECT count(*) FROM predictions p WHERE {filter}"),
            params_from_iter(args.iter()),
            |r| r.get(0),
        )?;
        let limit = query.limit.unwrap_or(50).clamp(1, 1000) as i64;
        let offset = query.offset.unwrap_or(0).min(i64::MAX as u64) as i64;
        let mut page_args = args.clone();
        page_args.push(Value::Integer(limit));
        page_args.push(Value::Integer(offset));
        let mut stmt = self.conn.prepare(&format!(
            "SELECT p.record_id, p.split, p.gold, p.value, p.label, p.score FROM predictions p
             WHERE {filter} ORDER BY p.record_id LIMIT ? OFFSET ?"
        ))?;
        let found = stmt
            .query_map(params_from_iter(page_args.iter()), |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, Option<f64>>(5)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut rows = Vec::with_capacity(found.len());
        for (seq, split, gold, value, label, score) in found {
            let view = self.record_view(seq)?;
            let gold: Option<AnnotationValue> = gold.map(|g| serde_json::from_str(&g)).transpose()?;
            let predicted: AnnotationValue = serde_json::from_str(&value)?;
            rows.push(RunRecord {
                record: view.record,
                split: split.map(|s| s.parse()).transpose()?,
                correct: gold.as_ref().map(|g| *g == predicted),
                gold,
                predicted,
                label,
                score,
                current: view.value,
                current_annotator: view.annotator,
            });
        }
        Ok(RunRecordsPage { rows, total: total as u64 })
    }

    /// Fails unless `run` has predictions.
    pub fn require_predictions(&self, run: &str) -> Result<()> {
        if self.n_predictions(run)? == 0 {
            return Err(Error::Invalid(format!(
                "run {run} has no stored predictions (it ran before predictions were kept, or it did not finish)"
            )));
        }
        Ok(())
    }
}
