//! What a shell shared by several people does for them: checking a sign-in against the project's
//! users, and serving records with the holds that keep one record from more people at once than
//! the overlap ([`crate::assign`]).

use crate::active;
use crate::api::AppContext;
use crate::project::absolute;
use crate::{AppError, Result};
use finelab_store::{RecordView, Store};

/// How many people besides `annotator` have a label on the record.
fn others_labeled(view: &RecordView, annotator: &str) -> usize {
    view.annotations.iter().filter(|a| a.value.is_some() && a.annotator != annotator).count()
}

impl AppContext {
    /// The user `name` of the project in `dir` if `password` is theirs (the hash is checked
    /// outside the project's lock: it takes tens of milliseconds on purpose).
    pub fn check_sign_in(&self, dir: &str, name: &str, password: &str) -> Result<Option<finelab_store::User>> {
        let found = self.store(dir)?.lock().unwrap().user_with_hash(name)?;
        Ok(match found {
            Some((user, hash)) => crate::users::verify_password(password, &hash).then_some(user),
            None => {
                crate::users::verify_password(password, crate::users::unknown_user_hash());
                None
            }
        })
    }

    /// The user `name` of the project in `dir` as they are now (role, password date), if they exist.
    pub fn user(&self, dir: &str, name: &str) -> Result<Option<finelab_store::User>> {
        Ok(self.store(dir)?.lock().unwrap().user(name)?)
    }

    /// The project's settings.
    pub fn settings(&self, dir: &str) -> Result<finelab_store::ProjectSettings> {
        Ok(self.store(dir)?.lock().unwrap().settings()?)
    }

    /// The next record for `annotator` after `after_seq` that others do not hold, held for them.
    pub(crate) fn next_record(&self, dir: &str, annotator: &str, after_seq: Option<i64>) -> Result<Option<RecordView>> {
        let store = self.store(dir)?;
        let store = store.lock().unwrap();
        let key = absolute(dir);
        let overlap = store.overlap()?;
        let reserved = crate::assign::reserved_for_others(&store, annotator)?;
        let mut seen = std::collections::HashSet::new();
        let mut after = after_seq;
        while let Some(view) = store.next_record(annotator, after)? {
            let seq = view.record.seq;
            if !seen.insert(seq) {
                break;
            }
            if !reserved.contains(&seq)
                && self.holds.try_claim(&key, annotator, overlap, seq, || {
                    Ok(others_labeled(&store.record_by_seq(seq)?, annotator))
                })?
            {
                return Ok(Some(store.record_by_seq(seq)?));
            }
            after = Some(seq);
        }
        Ok(None)
    }

    /// The next batch for `annotator`: records a lead gave to others and records others hold
    /// left out, each held for them as it is taken.
    pub(crate) fn next_batch(
        &self,
        dir: &str,
        annotator: &str,
        n: usize,
        strategy: active::Strategy,
        seed: u64,
        label: Option<&str>,
    ) -> Result<active::NextBatch> {
        let key = absolute(dir);
        let (overlap, reserved) = {
            let store = self.store(dir)?;
            let store = store.lock().unwrap();
            (store.overlap()?, crate::assign::reserved_for_others(&store, annotator)?)
        };
        // Labels are counted on a connection of its own (the batch reads on another).
        let counter = Store::open(&key)?;
        let failed: std::cell::RefCell<Option<AppError>> = Default::default();
        let keep = |view: &RecordView| {
            let seq = view.record.seq;
            if reserved.contains(&seq) || failed.borrow().is_some() {
                return false;
            }
            let claimed = self.holds.try_claim(&key, annotator, overlap, seq, || {
                Ok(others_labeled(&counter.record_by_seq(seq)?, annotator))
            });
            claimed.unwrap_or_else(|e| {
                *failed.borrow_mut() = Some(e);
                false
            })
        };
        let batch = active::next_batch(&key, annotator, n, strategy, seed, label, &keep)?;
        if let Some(e) = failed.into_inner() {
            return Err(e);
        }
        Ok(batch)
    }
}
