//! Training runs: created by the application layer, filled as training goes.

use crate::{Error, Result, Store};
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

/// What is known when a run starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewRun {
    /// The run id (also its folder name under `runs/`).
    pub id: String,
    /// Model family (`instant`, `transformer`).
    pub family: String,
    /// The base model folder or name, for transformer runs.
    pub base_model: Option<String>,
    /// `cpu`, `cuda`, `metal`.
    pub device: String,
    /// The validated training config as JSON.
    pub config: serde_json::Value,
    /// Hash of the exact labeled data snapshot the run trains on.
    pub data_hash: String,
    /// Training records.
    pub n_train: u64,
    /// Development records.
    pub n_dev: u64,
    /// Test records.
    pub n_test: u64,
    /// The process training it (to tell a crashed run from a live one).
    pub pid: Option<u32>,
}

/// A change to a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RunUpdate {
    /// Append one epoch's summary.
    Epoch(serde_json::Value),
    /// Training ended (completed or cancelled, keeping its best model): the reports and the
    /// model are recorded, and the run stays `running` until its predictions are stored.
    Trained {
        /// `Completed` or `Cancelled`: the status the run takes once its predictions are stored.
        status: crate::RunStatus,
        /// Final dev report.
        dev_report: Option<serde_json::Value>,
        /// Final test report.
        test_report: Option<serde_json::Value>,
        /// The saved model folder.
        model_dir: Option<String>,
    },
    /// The predictions its charts count (every dev and test record) are stored: the run takes
    /// the status its training ended with. An `interrupted` run that was trained is finished so.
    PredictionsStored,
    /// The run failed.
    Failed(String),
}

/// A run as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct RunRow {
    /// The run id.
    pub id: String,
    /// Start (ms since the epoch).
    pub created_at: i64,
    /// End, when over.
    pub finished_at: Option<i64>,
    /// Where the run is in its life.
    pub status: crate::RunStatus,
    /// Model family.
    pub family: String,
    /// Base model.
    pub base_model: Option<String>,
    /// Device.
    pub device: String,
    /// Config JSON.
    pub config: serde_json::Value,
    /// Data snapshot hash.
    pub data_hash: String,
    /// Training records.
    pub n_train: u64,
    /// Development records.
    pub n_dev: u64,
    /// Test records.
    pub n_test: u64,
    /// Per-epoch summaries.
    pub epochs: Vec<serde_json::Value>,
    /// Final dev report.
    pub dev_report: Option<serde_json::Value>,
    /// Final test report.
    pub test_report: Option<serde_json::Value>,
    /// The model folder.
    pub model_dir: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// What training ended as (`completed` or `cancelled`) once it did; the run takes this
    /// status when its predictions are stored. A run `interrupted` with this set was trained
    /// and can be finished by storing its predictions.
    pub trained_status: Option<crate::RunStatus>,
}

const RUN_COLUMNS: &str = "id, created_at, finished_at, status, family, base_model, device, config, data_hash,
    n_train, n_dev, n_test, epochs, dev_report, test_report, model_dir, error, trained_status";

fn run_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RunRow> {
    let json = |i: usize| -> rusqlite::Result<Option<serde_json::Value>> {
        Ok(r.get::<_, Option<String>>(i)?.and_then(|s| serde_json::from_str(&s).ok()))
    };
    Ok(RunRow {
        id: r.get(0)?,
        created_at: r.get(1)?,
        finished_at: r.get(2)?,
        status: r.get(3)?,
        family: r.get(4)?,
        base_model: r.get(5)?,
        device: r.get(6)?,
        config: json(7)?.unwrap_or(serde_json::Value::Null),
        data_hash: r.get(8)?,
        n_train: r.get::<_, i64>(9)? as u64,
        n_dev: r.get::<_, i64>(10)? as u64,
        n_test: r.get::<_, i64>(11)? as u64,
        epochs: json(12)?.and_then(|v| v.as_array().cloned()).unwrap_or_default(),
        dev_report: json(13)?,
        test_report: json(14)?,
        model_dir: r.get(15)?,
        error: r.get(16)?,
        trained_status: r.get(17)?,
    })
}

impl Store {
    /// Records the start of a run.
    pub fn create_run(&self, run: &NewRun) -> Result<()> {
        self.conn.execute(
            "INSERT INTO runs (id, created_at, status, family, base_model, device, config, data_hash, n_train, n_dev, n_test, pid)
             VALUES (?1, ?2, 'running', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                run.id, crate::now_ms(), run.family, run.base_model, run.device, run.config.to_string(), run.data_hash,
                run.n_train as i64, run.n_dev as i64, run.n_test as i64, run.pid.map(i64::from)
            ],
        )?;
        Ok(())
    }

    /// Applies a change to a run.
    pub fn update_run(&self, id: &str, update: &RunUpdate) -> Result<()> {
        let n = match update {
            RunUpdate::Epoch(epoch) => self.conn.execute(
                "UPDATE runs SET epochs = json_insert(epochs, '$[#]', json(?2)) WHERE id = ?1",
                params![id, epoch.to_string()],
            )?,
            RunUpdate::Trained { status, dev_report, test_report, model_dir } => self.conn.execute(
                "UPDATE runs SET trained_status = ?2, dev_report = ?3, test_report = ?4, model_dir = ?5 WHERE id = ?1",
                params![
                    id,
                    status,
                    dev_report.as_ref().map(|v| v.to_string()),
                    test_report.as_ref().map(|v| v.to_string()),
                    model_dir
                ],
            )?,
            RunUpdate::PredictionsStored => self.conn.execute(
                "UPDATE runs SET status = trained_status, finished_at = ?2, error = NULL
                 WHERE id = ?1 AND trained_status IS NOT NULL",
                params![id, crate::now_ms()],
            )?,
            RunUpdate::Failed(error) => self.conn.execute(
                "UPDATE runs SET status = 'failed', finished_at = ?2, error = ?3 WHERE id = ?1",
                params![id, crate::now_ms(), error],
            )?,
        };
        if n == 0 {
            return Err(Error::NoSuchRun(id.to_string()));
        }
        Ok(())
    }

    /// Every run, newest first.
    pub fn runs(&self) -> Result<Vec<RunRow>> {
        let mut stmt =
            self.conn.prepare(&format!("SELECT {RUN_COLUMNS} FROM runs ORDER BY created_at DESC, id DESC"))?;
        let rows = stmt.query_map([], run_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Removes a run that is over and its predictions (not its model folder, which the caller
    /// owns). A running run is refused.
    pub fn delete_run(&mut self, id: &str) -> Result<()> {
        let run = self.run(id)?;
        if run.status == crate::RunStatus::Running {
            return Err(Error::Invalid(format!("run {id} is still running")));
        }
        let tx = crate::project::write_tx(&mut self.conn)?;
        tx.execute("DELETE FROM predictions WHERE run_id = ?1", [id])?;
        tx.execute("DELETE FROM runs WHERE id = ?1", [id])?;
        tx.commit()?;
        Ok(())
    }

    /// One run.
    pub fn run(&self, id: &str) -> Result<RunRow> {
        self.conn
            .query_row(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"), [id], run_from_row)
            .optional()?
            .ok_or_else(|| Error::NoSuchRun(id.to_string()))
    }

    /// Marks runs still `running` whose process is gone as `interrupted`; returns their ids.
    /// `is_alive(run, pid)` decides for every running run, this process's own included: a
    /// long-lived process (the desktop app, `finelab serve`) trains in a thread while other
    /// requests open the project, so only the caller knows whether a run with its own pid is one
    /// it is training now.
    pub fn mark_interrupted_runs(&self, is_alive: &dyn Fn(&str, u32) -> bool) -> Result<Vec<String>> {
        let running: Vec<(String, Option<i64>)> = {
            let mut stmt = self.conn.prepare("SELECT id, pid FROM runs WHERE status = 'running'")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let mut marked = Vec::new();
        for (id, pid) in running {
            let alive = pid.is_some_and(|p| is_alive(&id, p as u32));
            if !alive {
                self.conn.execute(
                    "UPDATE runs SET status = 'interrupted', finished_at = ?2 WHERE id = ?1 AND status = 'running'",
                    params![id, crate::now_ms()],
                )?;
                marked.push(id);
            }
        }
        Ok(marked)
    }

    /// Every labeled record with the label it trains on and its split, in import order: the data
    /// a run trains on. Among several annotators' labels, a reviewer's decision, else the
    /// majority, else (a tie) the latest of the tied labels or nothing, as [`TieRule`] says; each
    /// record says which rule chose its label.
    ///
    /// [`TieRule`]: crate::TieRule
    pub fn labeled_records(&self) -> Result<Vec<crate::LabeledRecord>> {
        let tie = self.tie_rule()?;
        let mut stmt = self.conn.prepare(
            "SELECT r.id, r.uid, r.text, r.split, c.value, r.turns, c.annotator,
                EXISTS (SELECT 1 FROM adjudications j WHERE j.annotation_id = c.annotation_id),
                (SELECT count(*) FROM annotations a WHERE a.record_id = r.id AND a.action = 'label'
                    AND a.value = c.value
                    AND NOT EXISTS (SELECT 1 FROM annotations u WHERE u.undoes = a.id))
             FROM records r
             JOIN current_annotations c ON c.record_id = r.id
             WHERE r.n_labeled > 0 AND c.value IS NOT NULL
             ORDER BY r.id, c.updated_at DESC, c.annotation_id DESC",
        )?;
        let mut rows = stmt.query([])?;
        let mut out: Vec<crate::LabeledRecord> = Vec::new();
        // The rows of one record (newest first), with what a record needs besides them.
        struct Pending {
            seq: i64,
            id: String,
            text: String,
            turns: Option<String>,
            split: Option<String>,
            candidates: Vec<crate::teams::Candidate>,
            confirmations: Vec<i64>,
        }
        let flush = |p: Pending, out: &mut Vec<crate::LabeledRecord>| -> Result<()> {
            let Some((i, rule)) = crate::teams::resolve(&p.candidates, tie) else { return Ok(()) };
            out.push(crate::LabeledRecord {
                seq: p.seq,
                id: p.id,
                text: p.text,
                turns: p.turns.map(|t| serde_json::from_str(&t)).transpose()?,
                split: p.split.and_then(|s| s.parse().ok()),
                value: serde_json::from_str(&p.candidates[i].json)?,
                annotator: p.candidates[i].annotator.clone(),
                confirmed: p.confirmations[i] >= 2,
                rule,
            });
            Ok(())
        };
        let mut pending: Option<Pending> = None;
        while let Some(row) = rows.next()? {
            let seq: i64 = row.get(0)?;
            if pending.as_ref().is_some_and(|p| p.seq != seq) {
                flush(pending.take().expect("checked"), &mut out)?;
            }
            let p = match &mut pending {
                Some(p) => p,
                None => pending.insert(Pending {
                    seq,
                    id: row.get(1)?,
                    text: row.get(2)?,
                    turns: row.get(5)?,
                    split: row.get(3)?,
                    candidates: Vec::new(),
                    confirmations: Vec::new(),
                }),
            };
            p.candidates.push(crate::teams::Candidate {
                annotator: row.get(6)?,
                json: row.get(4)?,
                adjudicated: row.get(7)?,
            });
            p.confirmations.push(row.get(8)?);
        }
        if let Some(p) = pending {
            flush(p, &mut out)?;
        }
        Ok(out)
    }
}
