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

use finelab_store::RecordView;
use std::collections::HashMap;
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
    /// A filter for what `annotator` may be served in `dir`: a record whose labels and the live
    /// holds of other people already reach `overlap` is left out.
    pub fn available_to(&self, dir: &Path, annotator: &str, overlap: u32) -> impl Fn(&RecordView) -> bool {
        let now = Instant::now();
        let held: HashMap<i64, usize> = self
            .by_project
            .lock()
            .unwrap()
            .get(dir)
            .map(|records| {
                records
                    .iter()
                    .map(|(&seq, holders)| {
                        (seq, holders.iter().filter(|(who, until)| who != annotator && *until > now).count())
                    })
                    .collect()
            })
            .unwrap_or_default();
        let annotator = annotator.to_string();
        move |view: &RecordView| {
            let labeled = view.annotations.iter().filter(|a| a.value.is_some() && a.annotator != annotator).count();
            labeled + held.get(&view.record.seq).copied().unwrap_or(0) < overlap as usize
        }
    }

    /// Holds for `annotator` those of `views` that are still free for them, checked and held
    /// under one lock (two people asking at once never both get a record beyond `overlap`);
    /// drops the holds that ran out. Returns, per view, whether it is now held for them.
    pub fn claim(&self, dir: &Path, annotator: &str, overlap: u32, views: &[&RecordView]) -> Vec<bool> {
        let now = Instant::now();
        let mut projects = self.by_project.lock().unwrap();
        let records = projects.entry(dir.to_path_buf()).or_default();
        records.retain(|_, holders| {
            holders.retain(|(_, until)| *until > now);
            !holders.is_empty()
        });
        views
            .iter()
            .map(|view| {
                let holders = records.entry(view.record.seq).or_default();
                holders.retain(|(who, _)| who != annotator);
                let labeled = view.annotations.iter().filter(|a| a.value.is_some() && a.annotator != annotator).count();
                let free = labeled + holders.len() < overlap as usize;
                if free {
                    holders.push((annotator.to_string(), now + HOLD));
                }
                free
            })
            .collect()
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
