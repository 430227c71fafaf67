//! Which records are being labeled by whom right now, so that a shared server never serves one
//! record to more people at once than still need to label it ([`ProjectSettings::overlap`]).
//!
//! Serving a record to an annotator holds it for them for a while ([`HOLD`]); it is let go when
//! they label or skip it, or when the hold runs out (they closed the tab). A record is served to
//! someone else only while its labels plus the holds of others stay below the overlap. The holds
//! live in the long-lived shells' [`AppContext`](crate::api::AppContext) (the window,
//! `finelab serve`); `finelab next` is one process per call and holds nothing.
//!
//! [`ProjectSettings::overlap`]: finelab_store::ProjectSettings::overlap

use finelab_store::Store;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a served record stays held for the annotator it was served to.
pub const HOLD: Duration = Duration::from_secs(10 * 60);

/// Record → who holds it until when.
type RecordHolds = HashMap<i64, Vec<(String, Instant)>>;

/// The holds of every project this process serves.
#[derive(Default)]
pub struct Holds {
    by_project: Mutex<HashMap<PathBuf, RecordHolds>>,
}

impl Holds {
    /// Holds record `seq` of `dir` for `annotator` if it is still free for them: the people who
    /// labeled it (`labeled_by_others`, read while no one else can claim it) and the live holds
    /// of others stay below `overlap`. Two people asking at once never both get a record beyond
    /// the overlap; whoever labels a record held it first, so a label given after the check was
    /// counted as a hold. Drops the holds that ran out.
    pub fn try_claim(
        &self,
        dir: &Path,
        annotator: &str,
        overlap: u32,
        seq: i64,
        labeled_by_others: impl FnOnce() -> crate::Result<usize>,
    ) -> crate::Result<bool> {
        let now = Instant::now();
        let mut projects = self.by_project.lock().unwrap();
        let records = projects.entry(dir.to_path_buf()).or_default();
        let holders = records.entry(seq).or_default();
        holders.retain(|(who, until)| who != annotator && *until > now);
        let free = holders.len() < overlap as usize && labeled_by_others()? + holders.len() < overlap as usize;
        if free {
            holders.push((annotator.to_string(), now + HOLD));
        }
        if holders.is_empty() {
            records.remove(&seq);
        }
        Ok(free)
    }

    /// Lets go of `annotator`'s hold on `seq` (they labeled or skipped it).
    pub fn release(&self, dir: &Path, annotator: &str, seq: i64) {
        if let Some(records) = self.by_project.lock().unwrap().get_mut(dir) {
            if let Some(holders) = records.get_mut(&seq) {
                holders.retain(|(who, _)| who != annotator);
                if holders.is_empty() {
                    records.remove(&seq);
                }
            }
        }
    }
}

/// The records a lead gave to other people ([`Store::assignments`]): a record in a slice is
/// served only to the people of a slice it is in; records in no slice go to anyone.
pub fn reserved_for_others(store: &Store, annotator: &str) -> crate::Result<HashSet<i64>> {
    let assignments = store.assignments()?;
    if assignments.is_empty() {
        return Ok(HashSet::new());
    }
    let (mut reserved, mut mine) = (HashSet::new(), HashSet::new());
    for a in assignments {
        let seqs = store.matching_seqs(&a.query)?;
        if a.people.iter().any(|p| p == annotator) {
            mine.extend(seqs);
        } else {
            reserved.extend(seqs);
        }
    }
    reserved.retain(|s| !mine.contains(s));
    Ok(reserved)
}
