//! Generate projects beyond writing outputs: a label written from a model's draft keeps how much
//! the annotator changed it, and blind comparisons put two sources of outputs (two runs, or a run
//! and the references) side by side on a sample of records. A comparison stores its items as
//! shown (the two outputs and which side shows `a`), so later labels or runs never change what
//! was judged; the preferences given are an append-only log whose undo is a row naming the row it
//! takes back, as the annotation log's is. Judged pairs export as the `{"prompt", "chosen",
//! "rejected"}` lines preference trainers (DPO) read.

use crate::annotations::{annotate_in, validate_annotator};
use crate::{chat_role, Action, AnnotationValue, ChatRole, Error, Receipt, Record, Result, Store};
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::io::Write;

/// One item of a comparison to create: a record and the outputs of its two sources.
#[derive(Debug, Clone, PartialEq)]
pub struct NewComparisonItem {
    /// The record's sequence number.
    pub seq: i64,
    /// Source `a`'s output.
    pub output_a: String,
    /// Source `b`'s output.
    pub output_b: String,
    /// Whether `a` is shown on the left.
    pub a_left: bool,
}

/// A blind comparison of two output sources.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct Comparison {
    /// Its id.
    pub id: i64,
    /// The first source (`run:<id>` or `reference`).
    pub source_a: String,
    /// The second source.
    pub source_b: String,
    /// Items to judge.
    pub n_items: u64,
    /// Records left out of the sample because both sources wrote the same output.
    pub n_identical: u64,
    /// Items judged by at least one person.
    pub n_judged: u64,
    /// The seed of the sample and of the sides.
    pub seed: u64,
    /// Who started it.
    pub created_by: String,
    /// When (ms since the epoch).
    pub created_at: i64,
}

/// A side of a comparison item as the judge sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum Preferred {
    /// The output shown on the left is better.
    Left,
    /// The output shown on the right is better.
    Right,
    /// Neither is better.
    Tie,
}

/// Which source a judgement preferred.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum Choice {
    /// Source `a`.
    A,
    /// Source `b`.
    B,
    /// Neither.
    Tie,
}

impl Choice {
    fn as_str(self) -> &'static str {
        match self {
            Choice::A => "a",
            Choice::B => "b",
            Choice::Tie => "tie",
        }
    }

    fn parse(s: &str) -> Result<Choice> {
        match s {
            "a" => Ok(Choice::A),
            "b" => Ok(Choice::B),
            "tie" => Ok(Choice::Tie),
            other => Err(Error::Invalid(format!("unknown stored preference {other:?}"))),
        }
    }

    fn from_pick(preferred: Preferred, a_left: bool) -> Choice {
        match (preferred, a_left) {
            (Preferred::Tie, _) => Choice::Tie,
            (Preferred::Left, true) | (Preferred::Right, false) => Choice::A,
            (Preferred::Left, false) | (Preferred::Right, true) => Choice::B,
        }
    }

    fn to_pick(self, a_left: bool) -> Preferred {
        match (self, a_left) {
            (Choice::Tie, _) => Preferred::Tie,
            (Choice::A, true) | (Choice::B, false) => Preferred::Left,
            (Choice::A, false) | (Choice::B, true) => Preferred::Right,
        }
    }
}

/// One item to judge, blind: which source is which side is not said.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct ComparisonItem {
    /// The comparison.
    pub comparison: i64,
    /// The item's position in it, from 0.
    pub position: u64,
    /// Items in the comparison.
    pub n_items: u64,
    /// Items this judge has judged.
    pub n_done: u64,
    /// The record (its input).
    pub record: Record,
    /// The output shown on the left.
    pub left: String,
    /// The output shown on the right.
    pub right: String,
    /// This judge's current judgement of the item, if any.
    pub current: Option<Preferred>,
}

/// A preference written to the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct PreferenceReceipt {
    /// The log row.
    pub preference_id: i64,
    /// The comparison.
    pub comparison: i64,
    /// The item.
    pub position: u64,
}

/// One person's current judgement of one item.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    /// The item.
    pub position: u64,
    /// The record judged.
    pub seq: i64,
    /// Who.
    pub annotator: String,
    /// What they preferred.
    pub choice: Choice,
}

/// How much annotators changed the drafts they started from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct DraftEdits {
    /// Labels written from a draft (not undone).
    pub n: u64,
    /// Of those, drafts saved unchanged.
    pub n_unchanged: u64,
    /// Mean characters changed (Levenshtein distance between draft and saved text).
    pub mean_distance: f64,
    /// Mean of the distance over the longer of draft and saved text (0: kept, 1: rewritten).
    pub mean_relative: f64,
}

/// The Levenshtein distance between `a` and `b` in characters (code points): insertions,
/// deletions and substitutions, each costing one.
pub fn char_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.is_empty() || b.is_empty() {
        return a.len().max(b.len());
    }
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitute.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[derive(Serialize)]
struct ChatMessage<'a> {
    role: &'a str,
    content: &'a str,
}

#[derive(Serialize)]
struct PreferencePair<'a> {
    prompt: Vec<ChatMessage<'a>>,
    chosen: Vec<ChatMessage<'a>>,
    rejected: Vec<ChatMessage<'a>>,
}

impl Store {
    /// Writes `output` as `annotator`'s label of record `seq`, started from `draft`, the output
    /// run `run` generated for it: the label and the size of the edit go in one transaction.
    pub fn annotate_from_draft(
        &mut self,
        seq: i64,
        annotator: &str,
        output: &str,
        run: &str,
        draft: &str,
    ) -> Result<Receipt> {
        validate_annotator(annotator)?;
        let kind = self.kind()?;
        let tx = crate::project::write_tx(&mut self.conn)?;
        let action = Action::Label { value: AnnotationValue::Output(output.to_string()) };
        let receipt = annotate_in(&tx, kind, seq, annotator, &action)?;
        tx.execute(
            "INSERT INTO draft_edits (annotation_id, run_id, draft_chars, distance) VALUES (?1, ?2, ?3, ?4)",
            params![receipt.annotation_id, run, draft.chars().count() as i64, char_distance(draft, output) as i64],
        )?;
        tx.commit()?;
        Ok(receipt)
    }

    /// How much the labels written from drafts (and not undone) changed them.
    pub fn draft_edits(&self) -> Result<DraftEdits> {
        let mut stmt = self.conn.prepare(
            "SELECT d.draft_chars, d.distance, a.value FROM draft_edits d JOIN annotations a ON a.id = d.annotation_id
             WHERE NOT EXISTS (SELECT 1 FROM annotations u WHERE u.undoes = a.id)",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?)))?;
        let (mut n, mut unchanged, mut distance, mut relative) = (0u64, 0u64, 0f64, 0f64);
        for row in rows {
            let (draft_chars, d, value) = row?;
            let saved_chars = match serde_json::from_str::<AnnotationValue>(&value)? {
                AnnotationValue::Output(o) => o.chars().count() as i64,
                _ => 0,
            };
            n += 1;
            unchanged += u64::from(d == 0);
            distance += d as f64;
            relative += d as f64 / draft_chars.max(saved_chars).max(1) as f64;
        }
        let mean = |x: f64| if n == 0 { 0.0 } else { x / n as f64 };
        Ok(DraftEdits { n, n_unchanged: unchanged, mean_distance: mean(distance), mean_relative: mean(relative) })
    }

    /// Stores a new comparison of `source_a` and `source_b` with its items, in one transaction.
    pub fn create_comparison(
        &mut self,
        source_a: &str,
        source_b: &str,
        seed: u64,
        n_identical: u64,
        created_by: &str,
        items: &[NewComparisonItem],
    ) -> Result<Comparison> {
        validate_annotator(created_by)?;
        if items.is_empty() {
            return Err(Error::Invalid(format!(
                "{source_a} and {source_b} have no record with two different outputs to compare"
            )));
        }
        let tx = crate::project::write_tx(&mut self.conn)?;
        tx.execute(
            "INSERT INTO comparisons (source_a, source_b, seed, n_identical, created_by, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![source_a, source_b, seed as i64, n_identical as i64, created_by, crate::now_ms()],
        )?;
        let id = tx.last_insert_rowid();
        {
            let mut insert = tx.prepare(
                "INSERT INTO comparison_items (comparison_id, position, record_id, output_a, output_b, a_left)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for (position, item) in items.iter().enumerate() {
                insert.execute(params![id, position as i64, item.seq, item.output_a, item.output_b, item.a_left])?;
            }
        }
        tx.commit()?;
        self.comparison(id)
    }

    /// The project's comparisons, newest first.
    pub fn comparisons(&self) -> Result<Vec<Comparison>> {
        let ids: Vec<i64> = self
            .conn
            .prepare("SELECT id FROM comparisons ORDER BY id DESC")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        ids.into_iter().map(|id| self.comparison(id)).collect()
    }

    /// One comparison.
    pub fn comparison(&self, id: i64) -> Result<Comparison> {
        let row = self
            .conn
            .query_row(
                "SELECT source_a, source_b, seed, n_identical, created_by, created_at,
                    (SELECT COUNT(*) FROM comparison_items i WHERE i.comparison_id = c.id)
                 FROM comparisons c WHERE id = ?1",
                [id],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, i64>(5)?,
                        r.get::<_, i64>(6)?,
                    ))
                },
            )
            .optional()?;
        let Some((source_a, source_b, seed, n_identical, created_by, created_at, n_items)) = row else {
            return Err(Error::Invalid(format!("no comparison with id {id}")));
        };
        let judged: HashSet<u64> = self.judgements(id)?.into_iter().map(|j| j.position).collect();
        Ok(Comparison {
            id,
            source_a,
            source_b,
            n_items: n_items as u64,
            n_identical: n_identical as u64,
            n_judged: judged.len() as u64,
            seed: seed as u64,
            created_by,
            created_at,
        })
    }

    /// Every current judgement of comparison `id` (each person's latest not undone, per item).
    pub fn judgements(&self, id: i64) -> Result<Vec<Judgement>> {
        let mut stmt = self.conn.prepare(
            "SELECT p.id, p.position, p.annotator, p.choice, p.undoes, i.record_id
             FROM preferences p JOIN comparison_items i ON i.comparison_id = p.comparison_id AND i.position = p.position
             WHERE p.comparison_id = ?1 ORDER BY p.id",
        )?;
        struct Row {
            id: i64,
            position: i64,
            annotator: String,
            choice: Option<String>,
            undoes: Option<i64>,
            seq: i64,
        }
        let rows: Vec<Row> = stmt
            .query_map([id], |r| {
                Ok(Row {
                    id: r.get(0)?,
                    position: r.get(1)?,
                    annotator: r.get(2)?,
                    choice: r.get(3)?,
                    undoes: r.get(4)?,
                    seq: r.get(5)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        let undone: HashSet<i64> = rows.iter().filter_map(|r| r.undoes).collect();
        let mut current: HashMap<(i64, String), (i64, Choice, i64)> = HashMap::new();
        for row in rows {
            let Some(choice) = row.choice else { continue };
            if undone.contains(&row.id) {
                continue;
            }
            current.insert((row.position, row.annotator), (row.id, Choice::parse(&choice)?, row.seq));
        }
        // A later undo can uncover an earlier judgement of the same item: the latest not undone wins.
        let mut out: Vec<(i64, Judgement)> = current
            .into_iter()
            .map(|((position, annotator), (row_id, choice, seq))| {
                (row_id, Judgement { position: position as u64, seq, annotator, choice })
            })
            .collect();
        out.sort_by_key(|(row_id, _)| *row_id);
        Ok(out.into_iter().map(|(_, j)| j).collect())
    }

    /// Item `position` of comparison `id` as `annotator` sees it.
    pub fn comparison_item(&self, id: i64, position: u64, annotator: &str) -> Result<ComparisonItem> {
        let row = self
            .conn
            .query_row(
                "SELECT record_id, output_a, output_b, a_left FROM comparison_items WHERE comparison_id = ?1 AND position = ?2",
                params![id, position as i64],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, bool>(3)?)),
            )
            .optional()?;
        let Some((seq, output_a, output_b, a_left)) = row else {
            return Err(Error::Invalid(format!("comparison {id} has no item {position}")));
        };
        let comparison = self.comparison(id)?;
        let mine: Vec<Judgement> = self.judgements(id)?.into_iter().filter(|j| j.annotator == annotator).collect();
        let current = mine.iter().find(|j| j.position == position).map(|j| j.choice.to_pick(a_left));
        let (left, right) = if a_left { (output_a, output_b) } else { (output_b, output_a) };
        Ok(ComparisonItem {
            comparison: id,
            position,
            n_items: comparison.n_items,
            n_done: mine.len() as u64,
            record: self.record_row(seq)?,
            left,
            right,
            current,
        })
    }

    /// The next item of comparison `id` that `annotator` has not judged: the first after
    /// `after` (else the first from the start); `None` once every item is judged.
    pub fn next_comparison_item(&self, id: i64, annotator: &str, after: Option<u64>) -> Result<Option<ComparisonItem>> {
        let n_items = self.comparison(id)?.n_items;
        let done: HashSet<u64> =
            self.judgements(id)?.into_iter().filter(|j| j.annotator == annotator).map(|j| j.position).collect();
        let start = after.map_or(0, |a| a + 1);
        let next = (start..n_items).chain(0..start.min(n_items)).find(|p| !done.contains(p));
        next.map(|p| self.comparison_item(id, p, annotator)).transpose()
    }

    /// `annotator` prefers `preferred` on item `position` of comparison `id` (replacing their earlier
    /// judgement of it); returns once committed.
    pub fn prefer(
        &mut self,
        id: i64,
        position: u64,
        annotator: &str,
        preferred: Preferred,
    ) -> Result<PreferenceReceipt> {
        validate_annotator(annotator)?;
        let tx = crate::project::write_tx(&mut self.conn)?;
        let a_left: Option<bool> = tx
            .query_row(
                "SELECT a_left FROM comparison_items WHERE comparison_id = ?1 AND position = ?2",
                params![id, position as i64],
                |r| r.get(0),
            )
            .optional()?;
        let Some(a_left) = a_left else {
            return Err(Error::Invalid(format!("comparison {id} has no item {position}")));
        };
        tx.execute(
            "INSERT INTO preferences (comparison_id, position, annotator, choice, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, position as i64, annotator, Choice::from_pick(preferred, a_left).as_str(), crate::now_ms()],
        )?;
        let preference_id = tx.last_insert_rowid();
        tx.commit()?;
        Ok(PreferenceReceipt { preference_id, comparison: id, position })
    }

    /// Takes back `annotator`'s latest judgement in comparison `id` not undone yet; `None` when
    /// there is none.
    pub fn undo_preference(&mut self, id: i64, annotator: &str) -> Result<Option<PreferenceReceipt>> {
        let tx = crate::project::write_tx(&mut self.conn)?;
        let target: Option<(i64, i64)> = tx
            .query_row(
                "SELECT p.id, p.position FROM preferences p
                 WHERE p.comparison_id = ?1 AND p.annotator = ?2 AND p.choice IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM preferences u WHERE u.undoes = p.id)
                 ORDER BY p.id DESC LIMIT 1",
                params![id, annotator],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((target, position)) = target else { return Ok(None) };
        tx.execute(
            "INSERT INTO preferences (comparison_id, position, annotator, undoes, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, position, annotator, target, crate::now_ms()],
        )?;
        let preference_id = tx.last_insert_rowid();
        tx.commit()?;
        Ok(Some(PreferenceReceipt { preference_id, comparison: id, position: position as u64 }))
    }

    /// Writes every current judgement that prefers one output (ties left out) as a JSON line
    /// `{"prompt", "chosen", "rejected"}` in the conversational form preference trainers read:
    /// the prompt is the record's turns as chat messages (its text as one `user` message when it
    /// has none), `chosen` and `rejected` one `assistant` message each. Returns the lines written.
    pub fn export_preferences(&self, out: &mut dyn Write) -> Result<u64> {
        let agents = self.agent_speakers()?;
        let mut written = 0u64;
        let ids: Vec<i64> = self
            .conn
            .prepare("SELECT id FROM comparisons ORDER BY id")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let io = |e: std::io::Error| Error::Io { path: "the preference export".into(), source: e };
        for id in ids {
            for judgement in self.judgements(id)? {
                if judgement.choice == Choice::Tie {
                    continue;
                }
                let (output_a, output_b): (String, String) = self.conn.query_row(
                    "SELECT output_a, output_b FROM comparison_items WHERE comparison_id = ?1 AND position = ?2",
                    params![id, judgement.position as i64],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?;
                let record = self.record_row(judgement.seq)?;
                let prompt: Vec<ChatMessage<'_>> = match &record.turns {
                    Some(turns) => turns
                        .iter()
                        .map(|t| ChatMessage { role: chat_role(&t.speaker, &agents).as_str(), content: &t.text })
                        .collect(),
                    None => vec![ChatMessage { role: ChatRole::User.as_str(), content: &record.text }],
                };
                let (chosen, rejected) =
                    if judgement.choice == Choice::A { (&output_a, &output_b) } else { (&output_b, &output_a) };
                let assistant = |content| vec![ChatMessage { role: ChatRole::Assistant.as_str(), content }];
                let pair = PreferencePair { prompt, chosen: assistant(chosen), rejected: assistant(rejected) };
                serde_json::to_writer(&mut *out, &pair)?;
                out.write_all(b"\n").map_err(io)?;
                written += 1;
            }
        }
        out.flush().map_err(io)?;
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_count_characters() {
        assert_eq!(char_distance("", ""), 0);
        assert_eq!(char_distance("abc", ""), 3);
        assert_eq!(char_distance("kitten", "sitting"), 3);
        assert_eq!(char_distance("flaw", "lawn"), 2);
        // Code points, not bytes: one Chinese character changed is one edit.
        assert_eq!(char_distance("您好，请稍等", "你好，请稍等"), 1);
        assert_eq!(char_distance("退款已到账", "退款已经到账了"), 2);
    }

    #[test]
    fn picks_map_to_sources_by_side() {
        for a_left in [true, false] {
            for preferred in [Preferred::Left, Preferred::Right, Preferred::Tie] {
                assert_eq!(Choice::from_pick(preferred, a_left).to_pick(a_left), preferred);
            }
        }
        assert_eq!(Choice::from_pick(Preferred::Left, false), Choice::B);
        assert_eq!(Choice::from_pick(Preferred::Right, false), Choice::A);
    }
}
