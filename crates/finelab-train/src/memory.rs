//! The allocator's memory while a model trains.
//!
//! Finelab's binaries allocate with mimalloc, which hands freed pages back to the kernel after a
//! short delay (`purge_delay`, 10 ms). candle allocates a fresh buffer for every intermediate
//! tensor, so during training the same pages are given back and faulted in again at every step
//! (BENCHMARKS.md: 72–75 thousand minor faults a MiniLM run against 1.2 thousand, and about a
//! tenth of the step). [`hold`] keeps freed pages while training runs and, when the last holder
//! is dropped, restores the delay and gives the memory back at once, so the desktop app does not
//! keep a finished run's peak.
//!
//! Where mimalloc is linked but not the global allocator (a library user's own binary), this only
//! changes an option of an allocator nothing uses.

use std::sync::Mutex;

use libmimalloc_sys::{mi_collect, mi_option_get, mi_option_set, mi_option_t};

/// `mi_option_purge_delay` in mimalloc's `mi_option_t` (the 16th option of v2 and v3's
/// `mimalloc.h`; the crate leaves the advanced options unnamed).
const PURGE_DELAY: mi_option_t = 15;

/// How many trainings hold the memory, and the delay to restore when none does.
static HOLDERS: Mutex<(usize, Option<std::os::raw::c_long>)> = Mutex::new((0, None));

/// Keeps freed memory in the allocator until dropped (see the module's documentation).
#[must_use = "the memory is held only while the guard lives"]
pub struct HeldMemory(());

/// Starts holding freed memory; nested and concurrent holders share the hold.
pub fn hold() -> HeldMemory {
    let mut holders = HOLDERS.lock().unwrap_or_else(|e| e.into_inner());
    if holders.0 == 0 {
        // SAFETY: mimalloc's option functions take any option index below `_mi_option_last` and
        // are safe to call from any thread.
        holders.1 = Some(unsafe { mi_option_get(PURGE_DELAY) });
        unsafe { mi_option_set(PURGE_DELAY, -1) };
    }
    holders.0 += 1;
    HeldMemory(())
}

/// Whether some training holds the memory now.
pub fn is_held() -> bool {
    HOLDERS.lock().unwrap_or_else(|e| e.into_inner()).0 > 0
}

impl Drop for HeldMemory {
    fn drop(&mut self) {
        let mut holders = HOLDERS.lock().unwrap_or_else(|e| e.into_inner());
        holders.0 -= 1;
        if holders.0 == 0 {
            if let Some(delay) = holders.1.take() {
                // SAFETY: as in `hold`; `mi_collect(true)` frees what this thread's heap and the
                // abandoned segments keep and purges it to the kernel.
                unsafe {
                    mi_option_set(PURGE_DELAY, delay);
                    mi_collect(true);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Other tests of this binary train (and hold) at the same time, so the state after the last
    // drop is read under the holders' lock, and only when no one else holds.
    #[test]
    fn the_purge_delay_is_off_while_held_and_back_after_the_last_holder() {
        let first = hold();
        let second = hold();
        assert_eq!(unsafe { mi_option_get(PURGE_DELAY) }, -1);
        drop(first);
        assert!(is_held());
        assert_eq!(unsafe { mi_option_get(PURGE_DELAY) }, -1, "another training still holds it");
        drop(second);
        let holders = HOLDERS.lock().unwrap();
        if holders.0 == 0 {
            assert!(holders.1.is_none());
            assert!(unsafe { mi_option_get(PURGE_DELAY) } >= 0, "mimalloc purges again after the last holder");
        }
    }
}
