//! Train / dev / test splits: assigned once, stratified by label, from a seed.
//!
//! Each labeled record without a split gets one; a record's split never changes afterwards. Within a
//! stratum (the set of labels of a record) new records are taken in the order of a seeded hash of
//! their stable id — independent of import order — and each goes to the split that is furthest
//! below its target share. Records that arrive later therefore fill the same proportions without
//! moving anyone.

use crate::{AnnotationValue, Result, Split, SplitRatios, Store};
use rusqlite::params;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What `assign_splits` did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
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
    /// Gives every labeled record without a split its split (see the module docs).
    pub fn assign_splits(&mut self) -> Result<SplitSummary> {
        let settings = self.settings()?;
        let tx = self.conn.transaction()?;
        // Latest current value per labeled record.
        let mut by_record: BTreeMap<i64, (String, Option<Split>, i64, String)> = BTreeMap::new();
        {
            let mut stmt = tx.prepare(
                "SELECT r.id, r.uid, r.split, c.updated_at, c.value FROM records r
                 JOIN current_annotations c ON c.record_id = r.id
                 WHERE r.n_labeled > 0 AND c.value IS NOT NULL",
            )?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                let seq: i64 = row.get(0)?;
                let split: Option<String> = row.get(2)?;
                let updated_at: i64 = row.get(3)?;
                let entry = (row.get(1)?, split.and_then(|s| s.parse().ok()), updated_at, row.get(4)?);
                match by_record.get(&seq) {
                    Some(existing) if existing.2 >= updated_at => {}
                    _ => {
                        by_record.insert(seq, entry);
                    }
                }
            }
        }
        // Per stratum: records already in each split, and the new ones as (hash key, seq).
        type Stratum = ([u64; 3], Vec<(u64, i64)>);
        let mut strata: BTreeMap<String, Stratum> = BTreeMap::new();
        for (seq, (uid, split, _, value)) in &by_record {
            let value: AnnotationValue = serde_json::from_str(value)?;
            let stratum = strata.entry(value.stratum()).or_default();
            match split {
                Some(s) => stratum.0[split_index(*s)] += 1,
                None => {
                    let key = xxhash_rust::xxh3::xxh3_64_with_seed(uid.as_bytes(), settings.split_seed);
                    stratum.1.push((key, *seq));
                }
            }
        }
        let mut assigned = 0;
        {
            let mut update = tx.prepare("UPDATE records SET split = ?1 WHERE id = ?2")?;
            for (counts, new) in strata.values_mut() {
                new.sort_unstable();
                for (_, seq) in new.iter() {
                    let split = pick_split(&settings.split_ratios, counts);
                    counts[split_index(split)] += 1;
                    update.execute(params![split.as_str(), seq])?;
                    assigned += 1;
                }
            }
        }
        tx.commit()?;
        let totals = strata.values().fold([0u64; 3], |mut acc, (c, _)| {
            for i in 0..3 {
                acc[i] += c[i];
            }
            acc
        });
        Ok(SplitSummary { assigned, train: totals[0], dev: totals[1], test: totals[2] })
    }
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
