//! `IRP_MJ_LOCK_CONTROL`, which the filter does not register for: Filter Manager passes it
//! straight down, as it does a read.

use ferrofilter_core::NtStatus;

use super::{Completed, cancelled_or, file_of_handle, finished, invalid_handle, pend, with};
use crate::fs::{FsOutcome, LockRequest, UnlockRange};

/// A lock request (`NtLockFile` / `LockFileEx`) on the handle. It may pend twice under one wait
/// number: for an oplock acknowledgment, then for its range; it completes when both are over.
#[must_use]
pub fn lock(handle: u64, request: LockRequest) -> Completed {
    let Some((_, open)) = file_of_handle(handle) else {
        return invalid_handle();
    };
    let outcome = with(|k| k.volume.fs.lock(open, &request));
    if let Some(wait) = outcome.wait {
        if outcome.waiting_for.is_empty() {
            pend_for_range(wait);
        } else {
            pend(
                wait,
                Box::new(move |cancelled| {
                    let outcome = cancelled_or(cancelled, || {
                        with(|k| k.volume.fs.resume_lock(open, &request, wait))
                    });
                    if outcome.wait.is_some() {
                        pend_for_range(wait);
                        return Completed {
                            status: NtStatus::PENDING.as_i32(),
                            ..Completed::default()
                        };
                    }
                    finished(outcome, Completed::default())
                }),
            );
        }
    }
    finished(outcome, Completed::default())
}

/// A queued lock request: the file system grants it when its range frees (nothing is left to
/// do here but complete it), or its handle's cleanup cancels it.
fn pend_for_range(wait: u64) {
    pend(
        wait,
        Box::new(move |cancelled| {
            let outcome = cancelled_or(cancelled, || FsOutcome {
                status: NtStatus::SUCCESS,
                ..FsOutcome::default()
            });
            finished(outcome, Completed::default())
        }),
    );
}

/// An unlock of one range (`NtUnlockFile` / `UnlockFileEx`) on the handle.
#[must_use]
pub fn unlock(handle: u64, offset: u64, length: u64, key: u32) -> Completed {
    let Some((_, open)) = file_of_handle(handle) else {
        return invalid_handle();
    };
    let range = UnlockRange {
        offset,
        length,
        key,
    };
    let outcome = with(|k| k.volume.fs.unlock(open, range));
    if let Some(wait) = outcome.wait {
        pend(
            wait,
            Box::new(move |cancelled| {
                let outcome = cancelled_or(cancelled, || {
                    with(|k| k.volume.fs.resume_unlock(open, range))
                });
                finished(outcome, Completed::default())
            }),
        );
    }
    finished(outcome, Completed::default())
}
