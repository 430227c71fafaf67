//! Several annotators on one project: each one's labels side by side (for agreement), the
//! records they disagree on (for adjudication), and the one label a record trains on.

use crate::{AnnotationValue, Error, Result, Store};
use serde::{Deserialize, Serialize};

/// How the label a record trains on was chosen among its annotators' labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum LabelRule {
    /// A reviewer decided (adjudication).
    Adjudicated,
    /// The label most of its annotators gave.
    Majority,
    /// The only label it has.
    Single,
    /// Annotators tied; the latest of the tied labels ([`TieRule::Latest`]).
    TieLatest,
}

/// What a record whose annotators tie (and no reviewer decided) trains on: a project setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum TieRule {
    /// The latest label among the tied ones.
    #[default]
    Latest,
    /// Nothing: the record waits for a reviewer.
    Skip,
}

impl std::str::FromStr for TieRule {
    type Err = Error;
    fn from_str(s: &str) -> Result<TieRule> {
        match s {
            "latest" => Ok(TieRule::Latest),
            "skip" => Ok(TieRule::Skip),
            other => Err(Error::Invalid(format!("tie rule {other:?}: latest or skip"))),
        }
    }
}

/// One annotator's current label of one record (reviewers' decisions are not ratings).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct Rating {
    /// The record's sequence number.
    pub seq: i64,
    /// Who.
    pub annotator: String,
    /// Their label.
    pub value: AnnotationValue,
}

/// A current label with what resolution needs to know about it.
#[derive(Debug)]
pub(crate) struct Candidate {
    pub(crate) annotator: String,
    /// The JSON as stored (normalized: equal values, equal strings).
    pub(crate) json: String,
    pub(crate) adjudicated: bool,
}

/// The label a record trains on among `candidates` (newest first), and the rule that chose it;
/// `None` when the annotators tie and `tie` says to wait for a reviewer.
pub(crate) fn resolve(candidates: &[Candidate], tie: TieRule) -> Option<(usize, LabelRule)> {
    if let Some(i) = candidates.iter().position(|c| c.adjudicated) {
        return Some((i, LabelRule::Adjudicated));
    }
    match candidates.len() {
        0 => return None,
        1 => return Some((0, LabelRule::Single)),
        _ => {}
    }
    // Votes per value, in order of first (newest) appearance.
    let mut votes: Vec<(usize, usize)> = Vec::new();
    for (i, c) in candidates.iter().enumerate() {
        match votes.iter_mut().find(|(first, _)| candidates[*first].json == c.json) {
            Some((_, n)) => *n += 1,
            None => votes.push((i, 1)),
        }
    }
    let top = votes.iter().map(|v| v.1).max()?;
    let leaders: Vec<usize> = votes.iter().filter(|v| v.1 == top).map(|v| v.0).collect();
    match (leaders.as_slice(), tie) {
        // Everyone agreeing counts as a majority too (all of them).
        ([only], _) => Some((*only, LabelRule::Majority)),
        ([newest, ..], TieRule::Latest) => Some((*newest, LabelRule::TieLatest)),
        _ => None,
    }
}

/// A slice of the project given to named people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct Assignment {
    /// Its id.
    pub id: i64,
    /// The records: what a search with this query finds (paging fields ignored).
    pub query: crate::search::SearchQuery,
    /// Who labels them.
    pub people: Vec<String>,
    /// When it was made (ms since the epoch).
    pub created_at: i64,
}

const TIE_RULE: &str = "tie_rule";

impl Store {
    /// [`TieRule`] of the project.
    pub fn tie_rule(&self) -> Result<TieRule> {
        Ok(self.setting(TIE_RULE)?.and_then(|v| v.parse().ok()).unwrap_or_default())
    }

    /// Sets the project's [`TieRule`].
    pub fn set_tie_rule(&self, rule: TieRule) -> Result<()> {
        let name = match rule {
            TieRule::Latest => "latest",
            TieRule::Skip => "skip",
        };
        Store::set_setting(&self.conn, TIE_RULE, name)
    }

    /// Gives the records `query` finds to `people`.
    pub fn add_assignment(&self, query: &crate::search::SearchQuery, people: &[String]) -> Result<Assignment> {
        let mut people: Vec<String> = people.iter().map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect();
        people.sort();
        people.dedup();
        if people.is_empty() {
            return Err(Error::Invalid("name the people a slice is for".into()));
        }
        let query =
            crate::search::SearchQuery { after_seq: None, offset: None, limit: None, sort: None, ..query.clone() };
        let now = crate::now_ms();
        self.conn.execute(
            "INSERT INTO assignments (query, people, created_at) VALUES (?1, ?2, ?3)",
            rusqlite::params![serde_json::to_string(&query)?, serde_json::to_string(&people)?, now],
        )?;
        Ok(Assignment { id: self.conn.last_insert_rowid(), query, people, created_at: now })
    }

    /// Every slice given to people, oldest first.
    pub fn assignments(&self) -> Result<Vec<Assignment>> {
        let mut stmt = self.conn.prepare_cached("SELECT id, query, people, created_at FROM assignments ORDER BY id")?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, i64>(3)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, query, people, created_at) = row?;
            out.push(Assignment {
                id,
                query: serde_json::from_str(&query)?,
                people: serde_json::from_str(&people)?,
                created_at,
            });
        }
        Ok(out)
    }

    /// Takes a slice back: its records are served to anyone again.
    pub fn remove_assignment(&self, id: i64) -> Result<()> {
        if self.conn.execute("DELETE FROM assignments WHERE id = ?1", [id])? == 0 {
            return Err(Error::Invalid(format!("no assignment {id}")));
        }
        Ok(())
    }

    /// Every annotator's current label of every record, reviewers' decisions left out, by record
    /// then annotator: what agreement is measured on.
    pub fn ratings(&self) -> Result<Vec<Rating>> {
        let mut stmt = self.conn.prepare(
            "SELECT c.record_id, c.annotator, c.value FROM current_annotations c
             WHERE c.value IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM adjudications j WHERE j.annotation_id = c.annotation_id)
             ORDER BY c.record_id, c.annotator",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, annotator, value) = row?;
            out.push(Rating { seq, annotator, value: serde_json::from_str(&value)? });
        }
        Ok(out)
    }

    /// The records whose annotators gave different labels and that no reviewer has decided, in
    /// import order, up to `limit` after `after_seq`.
    pub fn disagreements(&self, after_seq: i64, limit: usize) -> Result<Vec<i64>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT c.record_id FROM current_annotations c
             WHERE c.value IS NOT NULL AND c.record_id > ?1
               AND NOT EXISTS (SELECT 1 FROM adjudications j WHERE j.annotation_id = c.annotation_id)
             GROUP BY c.record_id
             HAVING count(DISTINCT c.value) > 1
                AND NOT EXISTS (SELECT 1 FROM current_annotations d JOIN adjudications j
                                ON j.annotation_id = d.annotation_id WHERE d.record_id = c.record_id)
             ORDER BY c.record_id LIMIT ?2",
        )?;
        let rows = stmt.query_map(rusqlite::params![after_seq, limit as i64], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The records where `a` and `b` both gave a label and the labels differ (reviewers'
    /// decisions aside), in import order.
    pub fn pair_disagreements(&self, a: &str, b: &str, limit: usize) -> Result<Vec<i64>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT x.record_id FROM current_annotations x JOIN current_annotations y
               ON y.record_id = x.record_id AND y.annotator = ?2
             WHERE x.annotator = ?1 AND x.value IS NOT NULL AND y.value IS NOT NULL AND x.value <> y.value
               AND NOT EXISTS (SELECT 1 FROM adjudications j WHERE j.annotation_id IN (x.annotation_id, y.annotation_id))
             ORDER BY x.record_id LIMIT ?3",
        )?;
        let rows = stmt.query_map(rusqlite::params![a, b, limit as i64], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The reviewers' standing decisions: (record, value), in import order.
    pub fn decisions(&self) -> Result<Vec<(i64, AnnotationValue)>> {
        let mut stmt = self.conn.prepare(
            "SELECT c.record_id, c.value FROM current_annotations c JOIN adjudications j
               ON j.annotation_id = c.annotation_id
             WHERE c.value IS NOT NULL ORDER BY c.record_id, c.updated_at DESC",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
        let mut out: Vec<(i64, AnnotationValue)> = Vec::new();
        for row in rows {
            let (seq, value) = row?;
            if out.last().is_none_or(|(last, _)| *last != seq) {
                out.push((seq, serde_json::from_str(&value)?));
            }
        }
        Ok(out)
    }

    /// When each annotator gave each of their labels that stand in the log (not undone, reviewers'
    /// decisions aside), oldest first: the pace of their work.
    pub fn label_times(&self) -> Result<Vec<(String, Vec<i64>)>> {
        let mut stmt = self.conn.prepare(
            "SELECT a.annotator, a.created_at FROM annotations a
             WHERE a.action = 'label'
               AND NOT EXISTS (SELECT 1 FROM annotations u WHERE u.undoes = a.id)
               AND NOT EXISTS (SELECT 1 FROM adjudications j WHERE j.annotation_id = a.id)
             ORDER BY a.annotator, a.created_at",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        let mut out: Vec<(String, Vec<i64>)> = Vec::new();
        for row in rows {
            let (who, at) = row?;
            match out.last_mut() {
                Some((last, times)) if *last == who => times.push(at),
                _ => out.push((who, vec![at])),
            }
        }
        Ok(out)
    }

    /// How many records [`Store::disagreements`] would list in all.
    pub fn n_disagreements(&self) -> Result<u64> {
        Ok(self.disagreements(0, usize::MAX >> 1)?.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(annotator: &str, json: &str, adjudicated: bool) -> Candidate {
        Candidate { annotator: annotator.into(), json: json.into(), adjudicated }
    }

    #[test]
    fn resolution_prefers_the_decision_then_the_majority() {
        let latest = TieRule::Latest;
        assert_eq!(resolve(&[], latest), None);
        assert_eq!(resolve(&[c("a", "x", false)], latest), Some((0, LabelRule::Single)));
        let two_one = [c("a", "x", false), c("b", "y", false), c("c", "y", false)];
        assert_eq!(resolve(&two_one, latest), Some((1, LabelRule::Majority)));
        let tie = [c("a", "x", false), c("b", "y", false)];
        assert_eq!(resolve(&tie, latest), Some((0, LabelRule::TieLatest)));
        assert_eq!(resolve(&tie, TieRule::Skip), None);
        let decided = [c("a", "x", false), c("b", "y", false), c("r", "z", true)];
        assert_eq!(resolve(&decided, TieRule::Skip), Some((2, LabelRule::Adjudicated)));
        assert_eq!(resolve(&[c("a", "x", false), c("b", "x", false)], latest), Some((0, LabelRule::Majority)));
    }
}
