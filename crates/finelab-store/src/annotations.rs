//! The append-only annotation log and the state derived from it.

use crate::project::add_labels_in;
use crate::{AnnotationValue, Error, ProjectKind, Result, Store};
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

/// What an annotator did to a record (one log entry).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum Action {
    /// Set the record's label (replacing this annotator's previous one).
    Label {
        /// The value.
        value: AnnotationValue,
    },
    /// Skip the record for now.
    Skip,
    /// Flag the record for review.
    Flag,
    /// Remove this annotator's flag.
    Unflag,
}

/// The result of writing to the log: committed when returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct Receipt {
    /// The log entry written.
    pub annotation_id: i64,
    /// The record it applies to (sequence number).
    pub record_seq: i64,
    /// The record's stable id.
    pub record_id: String,
    /// How the number of labeled records changed: -1, 0 or +1 (lets a UI keep its counter
    /// without recounting a million rows).
    pub labeled_delta: i32,
}

fn is_labeled(conn: &Connection, seq: i64) -> Result<bool> {
    Ok(conn.query_row("SELECT n_labeled > 0 FROM records WHERE id = ?1", [seq], |r| r.get(0))?)
}

impl Store {
    /// Appends an action to the log for `annotator` on record `seq` and updates the derived state,
    /// in one transaction. Values are validated against the project's kind and label set.
    pub fn annotate(&mut self, seq: i64, annotator: &str, action: &Action) -> Result<Receipt> {
        validate_annotator(annotator)?;
        let kind = self.kind()?;
        let tx = crate::project::write_tx(&mut self.conn)?;
        let receipt = annotate_in(&tx, kind, seq, annotator, action)?;
        tx.commit()?;
        Ok(receipt)
    }

    /// Appends many actions of one annotator in one transaction (labels made elsewhere, merged
    /// in). An action that cannot be applied (no such record, a value the project cannot take)
    /// is answered with its error and leaves the others alone; a database error fails them all.
    pub fn annotate_many(&mut self, annotator: &str, items: &[(i64, Action)]) -> Result<Vec<Result<Receipt>>> {
        self.annotate_many_as(annotator, items, false)
    }

    /// [`Store::annotate_many`]; with `decisions`, each label is a reviewer's decision (as
    /// [`Store::adjudicate`]).
    pub fn annotate_many_as(
        &mut self,
        annotator: &str,
        items: &[(i64, Action)],
        decisions: bool,
    ) -> Result<Vec<Result<Receipt>>> {
        validate_annotator(annotator)?;
        let kind = self.kind()?;
        let tx = crate::project::write_tx(&mut self.conn)?;
        let mut out = Vec::with_capacity(items.len());
        for (seq, action) in items {
            match annotate_in(&tx, kind, *seq, annotator, action) {
                Err(e @ (Error::Sqlite(_) | Error::Io { .. })) => return Err(e),
                Ok(receipt) if decisions && matches!(action, Action::Label { .. }) => {
                    tx.execute("INSERT INTO adjudications (annotation_id) VALUES (?1)", [receipt.annotation_id])?;
                    out.push(Ok(receipt));
                }
                other => out.push(other),
            }
        }
        tx.commit()?;
        Ok(out)
    }

    /// A reviewer's decision on record `seq`: a `label` entry by `reviewer`, marked as the
    /// decision, in one transaction. It is the label the record trains on until it is undone.
    pub fn adjudicate(&mut self, seq: i64, reviewer: &str, value: &AnnotationValue) -> Result<Receipt> {
        validate_annotator(reviewer)?;
        let kind = self.kind()?;
        let tx = crate::project::write_tx(&mut self.conn)?;
        let receipt = annotate_in(&tx, kind, seq, reviewer, &Action::Label { value: value.clone() })?;
        tx.execute("INSERT INTO adjudications (annotation_id) VALUES (?1)", [receipt.annotation_id])?;
        tx.commit()?;
        Ok(receipt)
    }

    /// Undoes `annotator`'s most recent action that is not undone yet, by appending an `undo` entry.
    /// Returns the record it applied to, or `None` when there is nothing to undo.
    pub fn undo(&mut self, annotator: &str) -> Result<Option<Receipt>> {
        let tx = crate::project::write_tx(&mut self.conn)?;
        let target: Option<(i64, i64)> = tx
            .query_row(
                "SELECT a.id, a.record_id FROM annotations a
                 WHERE a.annotator = ?1 AND a.action <> 'undo'
                   AND NOT EXISTS (SELECT 1 FROM annotations u WHERE u.undoes = a.id)
                 ORDER BY a.id DESC LIMIT 1",
                [annotator],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((target_id, seq)) = target else { return Ok(None) };
        tx.execute(
            "INSERT INTO annotations (record_id, annotator, action, undoes, created_at) VALUES (?1, ?2, 'undo', ?3, ?4)",
            params![seq, annotator, target_id, crate::now_ms()],
        )?;
        let annotation_id = tx.last_insert_rowid();
        let before = is_labeled(&tx, seq)?;
        recompute(&tx, seq, annotator)?;
        let labeled = is_labeled(&tx, seq)?;
        let labeled_delta = labeled as i32 - before as i32;
        if labeled {
            // A record gets its split in the transaction that makes it labeled.
            crate::splits::assign_in(&tx, Some(&[seq]))?;
        }
        let uid: String = tx.query_row("SELECT uid FROM records WHERE id = ?1", [seq], |r| r.get(0))?;
        tx.commit()?;
        Ok(Some(Receipt { annotation_id, record_seq: seq, record_id: uid, labeled_delta }))
    }

    /// The full log of a record, oldest first: (entry id, annotator, action, value JSON, undoes, time).
    pub fn history(&self, seq: i64) -> Result<Vec<LogEntry>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, annotator, action, value, undoes, created_at FROM annotations WHERE record_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([seq], |r| {
            Ok(LogEntry {
                id: r.get(0)?,
                annotator: r.get(1)?,
                action: r.get(2)?,
                value: r.get::<_, Option<String>>(3)?.and_then(|v| serde_json::from_str(&v).ok()),
                undoes: r.get(4)?,
                created_at: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Rebuilds every derived table from the log (a repair tool; the log is the truth).
    pub fn rebuild_derived_state(&mut self) -> Result<()> {
        let tx = crate::project::write_tx(&mut self.conn)?;
        tx.execute_batch(
            "DELETE FROM current_labels; DELETE FROM current_annotations; UPDATE records SET n_labeled = 0;",
        )?;
        let pairs: Vec<(i64, String)> = {
            let mut stmt = tx.prepare("SELECT DISTINCT record_id, annotator FROM annotations")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        for (seq, annotator) in pairs {
            recompute(&tx, seq, &annotator)?;
        }
        tx.commit()?;
        Ok(())
    }
}

/// One log entry and the state derived from it, in the caller's write transaction. Everything
/// is checked before anything is written, so an error leaves the transaction as it was.
pub(crate) fn annotate_in(
    tx: &Connection,
    kind: ProjectKind,
    seq: i64,
    annotator: &str,
    action: &Action,
) -> Result<Receipt> {
    let (uid, text): (String, String) = tx
        .query_row("SELECT uid, text FROM records WHERE id = ?1", [seq], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .ok_or_else(|| Error::NoSuchRecord(format!("#{seq}")))?;
    let (name, value) = match action {
        Action::Label { value } => {
            let value = normalize_value(kind, value.clone(), &text)?;
            check_labels_known(tx, &value, false)?;
            ("label", Some(serde_json::to_string(&value)?))
        }
        Action::Skip => ("skip", None),
        Action::Flag => ("flag", None),
        Action::Unflag => ("unflag", None),
    };
    tx.execute(
        "INSERT INTO annotations (record_id, annotator, action, value, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![seq, annotator, name, value, crate::now_ms()],
    )?;
    let annotation_id = tx.last_insert_rowid();
    let before = is_labeled(tx, seq)?;
    recompute(tx, seq, annotator)?;
    let labeled = is_labeled(tx, seq)?;
    let labeled_delta = labeled as i32 - before as i32;
    if labeled {
        // A record gets its split in the transaction that makes it labeled.
        crate::splits::assign_in(tx, Some(&[seq]))?;
    }
    Ok(Receipt { annotation_id, record_seq: seq, record_id: uid, labeled_delta })
}

/// One entry of the annotation log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct LogEntry {
    /// Entry id (log order).
    pub id: i64,
    /// Who.
    pub annotator: String,
    /// `label`, `skip`, `flag`, `unflag` or `undo`.
    pub action: String,
    /// The value of a `label` entry.
    pub value: Option<AnnotationValue>,
    /// The entry an `undo` cancels.
    pub undoes: Option<i64>,
    /// When (ms since the epoch).
    pub created_at: i64,
}

/// The longest annotator name accepted (names are shown in lists and stored on every log entry).
pub const MAX_ANNOTATOR_CHARS: usize = 100;

pub(crate) fn validate_annotator(annotator: &str) -> Result<()> {
    if annotator.trim().is_empty() {
        return Err(Error::Invalid("the annotator name is empty".into()));
    }
    if annotator.chars().count() > MAX_ANNOTATOR_CHARS {
        return Err(Error::Invalid(format!(
            "the annotator name is {} characters long; at most {MAX_ANNOTATOR_CHARS} are allowed",
            annotator.chars().count()
        )));
    }
    if annotator.chars().any(char::is_control) {
        return Err(Error::Invalid("the annotator name contains a control character".into()));
    }
    Ok(())
}

/// Checks a value against the project kind and the record's text; returns it in canonical form
/// (multi-labels sorted and unique, spans sorted).
pub(crate) fn normalize_value(kind: ProjectKind, value: AnnotationValue, text: &str) -> Result<AnnotationValue> {
    match (kind, value) {
        (ProjectKind::Single, AnnotationValue::Label(l)) => Ok(AnnotationValue::Label(l)),
        (ProjectKind::Single, AnnotationValue::Labels(ls)) if ls.len() == 1 => {
            Ok(AnnotationValue::Label(ls.into_iter().next().unwrap()))
        }
        (ProjectKind::Multi, AnnotationValue::Label(l)) => Ok(AnnotationValue::Labels(vec![l])),
        (ProjectKind::Multi, AnnotationValue::Labels(mut ls)) => {
            ls.sort();
            ls.dedup();
            Ok(AnnotationValue::Labels(ls))
        }
        (ProjectKind::Spans, AnnotationValue::Spans(mut spans)) => {
            let n_chars = text.chars().count();
            spans.sort_by(|a, b| (a.start, a.end, &a.label).cmp(&(b.start, b.end, &b.label)));
            spans.dedup();
            for span in &spans {
                if span.start >= span.end || span.end > n_chars {
                    return Err(Error::Invalid(format!(
                        "span [{}, {}) {:?} is outside the text ({} characters) or empty",
                        span.start, span.end, span.label, n_chars
                    )));
                }
            }
            for pair in spans.windows(2) {
                if pair[1].start < pair[0].end {
                    return Err(Error::Invalid(format!(
                        "spans [{}, {}) {:?} and [{}, {}) {:?} overlap",
                        pair[0].start, pair[0].end, pair[0].label, pair[1].start, pair[1].end, pair[1].label
                    )));
                }
            }
            Ok(AnnotationValue::Spans(spans))
        }
        (ProjectKind::Generate, AnnotationValue::Output(output)) => {
            // Kept exactly as written (leading spaces and newlines can matter to the task); only
            // an output with nothing in it is no output.
            if output.trim().is_empty() {
                return Err(Error::Invalid("the output is empty".into()));
            }
            Ok(AnnotationValue::Output(output))
        }
        (kind, value) => Err(Error::Invalid(format!(
            "a {} project cannot take {}",
            kind.as_str(),
            match value {
                AnnotationValue::Label(_) => "a single label",
                AnnotationValue::Labels(_) => "several labels",
                AnnotationValue::Spans(_) => "spans",
                AnnotationValue::Output(_) => "an output",
            }
        ))),
    }
}

/// Fails when the value uses a label outside the label set, unless `add` is set, in which case
/// the missing labels are appended to the set.
pub(crate) fn check_labels_known(conn: &Connection, value: &AnnotationValue, add: bool) -> Result<()> {
    let mut stmt = conn.prepare_cached("SELECT 1 FROM labels WHERE name = ?1")?;
    let mut missing = Vec::new();
    for name in value.label_names() {
        if !stmt.exists([name])? {
            missing.push(name.to_string());
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    if add {
        add_labels_in(conn, &missing)?;
        return Ok(());
    }
    Err(Error::Invalid(format!(
        "label{} {} not in the project's label set",
        if missing.len() > 1 { "s" } else { "" },
        missing.iter().map(|m| format!("{m:?}")).collect::<Vec<_>>().join(", ")
    )))
}

/// Recomputes one annotator's current state of one record from the log.
pub(crate) fn recompute(conn: &Connection, seq: i64, annotator: &str) -> Result<()> {
    // (entry id, action, value, undoes, created_at)
    type Entry = (i64, String, Option<String>, Option<i64>, i64);
    let entries: Vec<Entry> = {
        let mut stmt = conn.prepare_cached(
            "SELECT id, action, value, undoes, created_at FROM annotations
             WHERE record_id = ?1 AND annotator = ?2 ORDER BY id",
        )?;
        let rows =
            stmt.query_map(params![seq, annotator], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let undone: std::collections::HashSet<i64> = entries.iter().filter_map(|e| e.3).collect();
    let mut value: Option<(i64, String)> = None;
    let (mut skipped, mut flagged) = (false, false);
    let mut updated_at = 0;
    for (id, action, v, _, at) in &entries {
        updated_at = updated_at.max(*at);
        if action == "undo" || undone.contains(id) {
            continue;
        }
        match action.as_str() {
            "label" => {
                value = v.clone().map(|v| (*id, v));
                skipped = false;
            }
            "skip" => skipped = value.is_none(),
            "flag" => flagged = true,
            "unflag" => flagged = false,
            _ => {}
        }
    }
    write_current(conn, seq, annotator, value.as_ref().map(|(id, v)| (*id, v.as_str())), skipped, flagged, updated_at)
}

/// Writes one annotator's derived state of a record and refreshes the record's label count.
pub(crate) fn write_current(
    conn: &Connection,
    seq: i64,
    annotator: &str,
    value: Option<(i64, &str)>,
    skipped: bool,
    flagged: bool,
    updated_at: i64,
) -> Result<()> {
    conn.prepare_cached("DELETE FROM current_labels WHERE record_id = ?1 AND annotator = ?2")?
        .execute(params![seq, annotator])?;
    if value.is_none() && !skipped && !flagged {
        conn.prepare_cached("DELETE FROM current_annotations WHERE record_id = ?1 AND annotator = ?2")?
            .execute(params![seq, annotator])?;
    } else {
        conn.prepare_cached(
            "INSERT INTO current_annotations (record_id, annotator, annotation_id, value, skipped, flagged, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (record_id, annotator) DO UPDATE SET annotation_id = excluded.annotation_id,
               value = excluded.value, skipped = excluded.skipped, flagged = excluded.flagged,
               updated_at = excluded.updated_at",
        )?
        .execute(params![
            seq,
            annotator,
            value.map(|v| v.0),
            value.map(|v| v.1),
            skipped,
            flagged,
            updated_at
        ])?;
    }
    if let Some((_, json)) = value {
        let parsed: AnnotationValue = serde_json::from_str(json)?;
        let mut insert = conn
            .prepare_cached("INSERT OR IGNORE INTO current_labels (record_id, annotator, label) VALUES (?1, ?2, ?3)")?;
        for name in parsed.label_names() {
            insert.execute(params![seq, annotator, name])?;
        }
    }
    conn.prepare_cached(
        "UPDATE records SET n_labeled = (SELECT count(*) FROM current_annotations
           WHERE record_id = ?1 AND value IS NOT NULL) WHERE id = ?1",
    )?
    .execute([seq])?;
    Ok(())
}
