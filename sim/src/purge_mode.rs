//! The file system's own `FSCTL_SET_PURGE_FAILURE_MODE` bookkeeping for one FCB: the count and
//! the operations held while it is above zero. It is written here, apart from the driver's
//! mirror in `ferrofilter_core::purge`, so the verifier's mirror rule compares two independent
//! computations.
//!
//! Sources (REFERENCE §5): fastfat's `FatSetPurgeFailureMode` increments on ENABLED and refuses
//! at `MAXULONG`, decrements on DISABLED and refuses at 0, both with `STATUS_INVALID_PARAMETER`
//! and the count unchanged; while the count is above zero a failed purge answers a destructive
//! create with `STATUS_USER_MAPPED_FILE`, a non-cached write or a set-information with
//! `STATUS_PURGE_FAILED`, and holds any other operation (a cached write) until the count drops
//! to zero; outside a window the failure goes to the caller.

use std::collections::VecDeque;

use ferrofilter_core::NtStatus;
use ferrofilter_core::purge::{PurgeModeChange, PurgeOp};

/// What becomes of an operation whose purge failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PurgeAnswer<T> {
    /// Completed with this status (a window's answer, or the failure itself outside one); the
    /// operation comes back.
    Complete(NtStatus, T),
    /// Held until the count drops to zero.
    Held,
}

/// One FCB's count and held operations.
#[derive(Clone, Debug)]
pub struct PurgeMode<T> {
    count: u32,
    held: VecDeque<T>,
}

impl<T> Default for PurgeMode<T> {
    fn default() -> Self {
        Self {
            count: 0,
            held: VecDeque::new(),
        }
    }
}

/// What a run of ENABLED or DISABLED did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied<T> {
    /// How many of them changed the count.
    pub applied: u32,
    /// `STATUS_SUCCESS`, or `STATUS_INVALID_PARAMETER` when one was refused at a limit.
    pub status: NtStatus,
    /// The held operations to re-issue, oldest first (the count reached zero).
    pub released: Vec<T>,
}

impl<T> PurgeMode<T> {
    /// The count.
    #[must_use]
    pub const fn count(&self) -> u32 {
        self.count
    }

    /// Operations held.
    #[must_use]
    pub fn held_len(&self) -> usize {
        self.held.len()
    }

    /// The held operations, oldest first.
    pub fn held(&self) -> impl Iterator<Item = &T> {
        self.held.iter()
    }

    /// `change`, `repeat` times in a row, as that many FSCTLs would: each past a limit is
    /// refused and changes nothing, so the count stops at `u32::MAX` or 0.
    pub fn apply(&mut self, change: PurgeModeChange, repeat: u32) -> Applied<T> {
        let room = match change {
            PurgeModeChange::Enable => u32::MAX - self.count,
            PurgeModeChange::Disable => self.count,
        };
        let applied = repeat.min(room);
        match change {
            PurgeModeChange::Enable => self.count += applied,
            PurgeModeChange::Disable => self.count -= applied,
        }
        let released = if change == PurgeModeChange::Disable && applied > 0 && self.count == 0 {
            self.held.drain(..).collect()
        } else {
            Vec::new()
        };
        Applied {
            applied,
            status: if applied < repeat {
                NtStatus::INVALID_PARAMETER
            } else {
                NtStatus::SUCCESS
            },
            released,
        }
    }

    /// A purge `kind` needed failed with `failure`.
    pub fn on_purge_failure(&mut self, kind: PurgeOp, op: T, failure: NtStatus) -> PurgeAnswer<T> {
        if self.count == 0 {
            return PurgeAnswer::Complete(failure, op);
        }
        match kind {
            PurgeOp::Create(disposition) if disposition.is_destructive() => {
                PurgeAnswer::Complete(NtStatus::USER_MAPPED_FILE, op)
            }
            PurgeOp::Write { non_cached: true } | PurgeOp::SetInformation => {
                PurgeAnswer::Complete(NtStatus::PURGE_FAILED, op)
            }
            PurgeOp::Create(_)
            | PurgeOp::Write { non_cached: false }
            | PurgeOp::PurgeRequest
            | PurgeOp::Other => {
                self.held.push_back(op);
                PurgeAnswer::Held
            }
        }
    }

    /// Takes out the held operations `matches` selects (a handle's cleanup), keeping the order
    /// of the rest.
    pub fn cancel_where(&mut self, mut matches: impl FnMut(&T) -> bool) -> Vec<T> {
        let (cancelled, kept): (Vec<T>, Vec<T>) = self.held.drain(..).partition(|op| matches(op));
        self.held = kept.into();
        cancelled
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrofilter_model::oplock::CreateDisposition;

    #[test]
    fn the_count_stops_at_its_limits_and_a_refused_change_changes_nothing() {
        let mut mode: PurgeMode<u8> = PurgeMode::default();
        let run = mode.apply(PurgeModeChange::Enable, u32::MAX - 1);
        assert_eq!((run.applied, run.status), (u32::MAX - 1, NtStatus::SUCCESS));
        let run = mode.apply(PurgeModeChange::Enable, 3);
        assert_eq!((run.applied, run.status), (1, NtStatus::INVALID_PARAMETER));
        assert_eq!(mode.count(), u32::MAX);
        let run = mode.apply(PurgeModeChange::Enable, 1);
        assert_eq!((run.applied, mode.count()), (0, u32::MAX));
        let run = mode.apply(PurgeModeChange::Disable, u32::MAX);
        assert_eq!(
            (run.applied, run.status, mode.count()),
            (u32::MAX, NtStatus::SUCCESS, 0)
        );
        let run = mode.apply(PurgeModeChange::Disable, 1);
        assert_eq!((run.applied, run.status), (0, NtStatus::INVALID_PARAMETER));
    }

    #[test]
    fn a_window_answers_or_holds_and_releases_at_zero_in_order() {
        let mut mode: PurgeMode<u8> = PurgeMode::default();
        let failure = NtStatus::USER_MAPPED_FILE;
        // Outside a window the failure is the caller's.
        assert_eq!(
            mode.on_purge_failure(PurgeOp::Write { non_cached: true }, 1, failure),
            PurgeAnswer::Complete(failure, 1)
        );
        let _ = mode.apply(PurgeModeChange::Enable, 2);
        assert_eq!(
            mode.on_purge_failure(PurgeOp::Write { non_cached: true }, 1, failure),
            PurgeAnswer::Complete(NtStatus::PURGE_FAILED, 1)
        );
        assert_eq!(
            mode.on_purge_failure(PurgeOp::Create(CreateDisposition::Overwrite), 2, failure),
            PurgeAnswer::Complete(NtStatus::USER_MAPPED_FILE, 2)
        );
        for op in [3, 4, 5] {
            assert_eq!(
                mode.on_purge_failure(PurgeOp::Write { non_cached: false }, op, failure),
                PurgeAnswer::Held
            );
        }
        assert_eq!(mode.cancel_where(|op| *op == 4), [4]);
        assert!(mode.apply(PurgeModeChange::Disable, 1).released.is_empty());
        assert_eq!(mode.apply(PurgeModeChange::Disable, 1).released, [3, 5]);
    }
}
