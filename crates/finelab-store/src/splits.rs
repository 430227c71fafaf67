//! Train / dev / test splits: assigned once, stratified by label, from a seed.
//!
//! Each labeled record without a split gets one; a record's split never changes afterwards. Within a
//! stratum (the set of labels of a record) new records are taken in the order of a seeded hash of
//! their stable id — independent of import order — and each goes to the split that is furthest
//! below its target share. Records that arrive later therefore fill the same proportions without
//! moving anyone. Records of one split group (a generate project's records made from one
//! dialog, which share its opening turns) take the split the first of them got, so that no
//! test record's context is trained on.

use crate::{AnnotationValue, Result, Split, SplitRatios, Store};
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What `assign_splits` did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct SplitSummary {
    /// Records given a split now.
    pub assigned: u64,
    /// Labeled records per split after the assignment.
    pub train: u64,
    /// See `train`.
    pub dev: u64,
    /// See `train`.
    pub test: u64,
}

/// Picks the split for the next record of a stratum that already has `counts`.
pub(crate) fn pick_split(ratios: &SplitRatios, counts: &[u64; 3]) -> Split {
    let total = counts.iter().sum::<u64>() as f64 + 1.0;
    let shares = [ratios.train, ratios.dev, ratios.test];
    let mut best = 0;
    let mut best_deficit = f64::NEG_INFINITY;
    for i in 0..3 {
        if shares[i] <= 0.0 {
            continue;
        }
        let deficit = shares[i] * total - counts[i] as f64;
        if deficit > best_deficit + 1e-12 {
            best = i;
            best_deficit = deficit;
        }
    }
    Split::ALL[best]
}

fn split_index(split: Split) -> usize {
    match split {
        Split::Train => 0,
        Split::Dev => 1,
        Split::Test => 2,
    }
}

impl Store {
    /// Gives every labeled record without a split its split (see the module docs). Imports and
    /// annotations do this in their own transactions; this catches up projects written before.
    pub fn assign_splits(&mut self) -> Result<SplitSummary> {
        let tx = crate::project::write_tx(&mut self.conn)?;
        let assigned = assign_in(&tx, None)?;
        tx.commit()?;
        Ok(SplitSummary { assigned, ..self.split_totals()? })
    }

    /// Labeled records per split (`assigned` is 0).
    pub fn split_totals(&self) -> Result<SplitSummary> {
        let mut totals = [0u64; 3];
        let mut stmt = self
            .conn
            .prepare("SELECT split, count(*) FROM records WHERE split IS NOT NULL AND n_labeled > 0 GROUP BY split")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        for row in rows {
            let (split, n) = row?;
            if let Ok(split) = split.parse::<Split>() {
                totals[split_index(split)] = n as u64;
            }
        }
        Ok(SplitSummary { assigned: 0, train: totals[0], dev: totals[1], test: totals[2] })
    }
}

/// The stratum of a labeled record: the label set of its latest current value.
fn stratum_of(conn: &Connection, seq: i64) -> Result<Option<String>> {
    let value: Option<String> = conn
        .prepare_cached(
            "SELECT value FROM current_annotations WHERE record_id = ?1 AND value IS NOT NULL
             ORDER BY updated_at DESC, annotation_id DESC LIMIT 1",
        )?
        .query_row([seq], |r| r.get(0))
        .optional()?;
    value.map(|v| Ok(serde_json::from_str::<AnnotationValue>(&v)?.stratum())).transpose()
}

/// Gives labeled records without a split their split, inside the caller's write transaction:
/// `only` the given records (those the transaction just labeled), or every such record. Returns
/// how many got one.
///
/// Each record that has a split is counted once in the stratum it had when it got it (stored in
/// `records.stratum`); records that got their split another way (from an imported file, or
/// before the stratum was stored) are counted on the way in.
pub(crate) fn assign_in(conn: &Connection, only: Option<&[i64]>) -> Result<u64> {
    // Count the records that have a split but are not counted yet (labeled ones only: an
    // unlabeled record's stratum is not known).
    let uncounted: Vec<i64> = {
        let mut stmt = conn
            .prepare_cached("SELECT id FROM records WHERE split IS NOT NULL AND stratum IS NULL AND n_labeled > 0")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for seq in uncounted {
        if let Some(stratum) = stratum_of(conn, seq)? {
            conn.prepare_cached("UPDATE records SET stratum = ?1 WHERE id = ?2")?.execute(params![stratum, seq])?;
        }
    }
    let candidates: Vec<(i64, String)> = match only {
        Some(seqs) => {
            let mut stmt =
                conn.prepare_cached("SELECT uid FROM records WHERE id = ?1 AND split IS NULL AND n_labeled > 0")?;
            let mut out = Vec::new();
            for &seq in seqs {
                if let Some(uid) = stmt.query_row([seq], |r| r.get::<_, String>(0)).optional()? {
                    out.push((seq, uid));
                }
            }
            out
        }
        None => {
            let mut stmt = conn.prepare_cached("SELECT id, uid FROM records WHERE split IS NULL AND n_labeled > 0")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        }
    };
    if candidates.is_empty() {
        return Ok(0);
    }
    let seed: u64 = conn
        .query_row("SELECT value FROM settings WHERE key = 'split_seed'", [], |r| r.get::<_, String>(0))
        .optional()?
        .and_then(|v| v.parse().ok())
        .unwrap_or(42);
    let ratios: SplitRatios = match conn
        .query_row("SELECT value FROM settings WHERE key = 'split_ratios'", [], |r| r.get::<_, String>(0))
        .optional()?
    {
        Some(json) => serde_json::from_str(&json)?,
        None => SplitRatios::default(),
    };
    // Per stratum: the new records as (hash key, seq), taken in the order of a seeded hash of
    // their stable id, so that the outcome does not depend on import order.
    let mut strata: BTreeMap<String, Vec<(u64, i64)>> = BTreeMap::new();
    for (seq, uid) in candidates {
        let Some(stratum) = stratum_of(conn, seq)? else { continue };
        strata.entry(stratum).or_default().push((xxhash_rust::xxh3::xxh3_64_with_seed(uid.as_bytes(), seed), seq));
    }
    let mut assigned = 0;
    let mut count = conn.prepare_cached("SELECT split, count(*) FROM records WHERE stratum = ?1 GROUP BY split")?;
    let mut update = conn.prepare_cached("UPDATE records SET split = ?1, stratum = ?2 WHERE id = ?3")?;
    let mut group_split = conn.prepare_cached(
        "SELECT g.split FROM records r JOIN records g ON g.split_group = r.split_group
         WHERE r.id = ?1 AND g.split IS NOT NULL LIMIT 1",
    )?;
    for (stratum, mut new) in strata {
        let mut counts = [0u64; 3];
        let rows = count.query_map([&stratum], |r| Ok((r.get::<_, Option<String>>(0)?, r.get::<_, i64>(1)?)))?;
        for row in rows {
            if let (Some(split), n) = row? {
                if let Ok(split) = split.parse::<Split>() {
                    counts[split_index(split)] += n as u64;
                }
            }
        }
        new.sort_unstable();
        for (_, seq) in new {
            let grouped: Option<String> = group_split.query_row([seq], |r| r.get(0)).optional()?;
            let split = match grouped.and_then(|s| s.parse().ok()) {
                Some(split) => split,
                None => pick_split(&ratios, &counts),
            };
            counts[split_index(split)] += 1;
            update.execute(params![split.as_str(), stratum, seq])?;
            assigned += 1;
        }
    }
    Ok(assigned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(ratios: (f64, f64, f64), n: usize, expected: [u64; 3]) {
        let ratios = SplitRatios::new(ratios.0, ratios.1, ratios.2).unwrap();
        let mut counts = [0u64; 3];
        for _ in 0..n {
            counts[split_index(pick_split(&ratios, &counts))] += 1;
        }
        assert_eq!(counts, expected, "ratios {ratios:?}, n {n}");
    }

    #[test]
    fn proportions() {
        check((0.8, 0.1, 0.1), 10, [8, 1, 1]);
        check((0.8, 0.1, 0.1), 100, [80, 10, 10]);
        check((0.8, 0.1, 0.1), 1, [1, 0, 0]);
        check((0.8, 0.1, 0.1), 3, [3, 0, 0]);
        check((0.8, 0.1, 0.1), 4, [3, 1, 0]);
        check((0.5, 0.5, 0.0), 7, [4, 3, 0]);
        check((1.0, 0.0, 0.0), 5, [5, 0, 0]);
        check((0.7, 0.15, 0.15), 20, [14, 3, 3]);
    }
}
