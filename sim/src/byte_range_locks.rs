//! A stream's byte-range locks, as the file-lock package keeps them for the file system: granted
//! locks owned by an open and a key, and lock requests waiting for a conflict to go.
//!
//! The rules are MS-FSA's:
//! - conflicts: 2.1.4.10, "Algorithm for Determining If a Range Access Conflicts with Byte-Range
//!   Locks" ([`ByteRangeLocks::conflicts`]);
//! - a lock request: 2.1.5.8 (`STATUS_LOCK_NOT_GRANTED` with `FailImmediately`, otherwise it
//!   waits; `STATUS_INVALID_LOCK_RANGE` for a range past the 64-bit end);
//! - an unlock: 2.1.5.9 (exact offset, length, open and key, else `STATUS_RANGE_NOT_LOCKED`);
//! - the cleanup of an open removes the locks it owns (2.1.5.4, and fastfat's `FsRtlFastUnlockAll`
//!   in cleanup.c).
//!
//! Waiting requests are granted in arrival order once nothing conflicts with them. A waiting
//! request whose own handle closes is completed with `STATUS_CANCELLED`: the sim's choice, as the
//! pages do not give the status.

use ferrofilter_core::NtStatus;

use crate::fs::FileObjectId;

/// The cluster size the sim's allocation size is rounded to.
pub const CLUSTER: u64 = 4096;

/// One lock, granted or asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteRangeLock {
    /// The open that owns it.
    pub owner: FileObjectId,
    /// The key it was taken with (`NtLockFile`'s `Key`).
    pub key: u32,
    /// First byte.
    pub offset: u64,
    /// Bytes; may be zero.
    pub length: u64,
    /// Exclusive, or shared.
    pub exclusive: bool,
}

/// A lock request waiting for its range, and the number the file system resumes it by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Waiting {
    wait: u64,
    lock: ByteRangeLock,
}

/// What a lock request came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockAnswer {
    /// Granted.
    Granted,
    /// Refused: it conflicts and was to fail immediately (`STATUS_LOCK_NOT_GRANTED`).
    NotGranted,
    /// Queued: it waits under this number.
    Waiting(u64),
}

/// What the removal of locks let go on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Released {
    /// Waiting requests now granted, oldest first.
    pub granted: Vec<u64>,
    /// Waiting requests of the removed owner, to be completed with `STATUS_CANCELLED`.
    pub cancelled: Vec<u64>,
}

/// The locks of one stream.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ByteRangeLocks {
    granted: Vec<ByteRangeLock>,
    waiting: Vec<Waiting>,
}

/// MS-FSA's validation of a range: `STATUS_INVALID_LOCK_RANGE` when a non-empty range runs past
/// the largest 64-bit offset.
///
/// # Errors
/// `STATUS_INVALID_LOCK_RANGE`.
pub const fn validate_range(offset: u64, length: u64) -> Result<(), NtStatus> {
    if length != 0 && offset.checked_add(length - 1).is_none() {
        return Err(NtStatus::INVALID_LOCK_RANGE);
    }
    Ok(())
}

/// The last byte of a range, computed as MS-FSA does (wrapping: a zero-length range ends one
/// byte before it starts).
const fn last_byte(offset: u64, length: u64) -> u64 {
    offset.wrapping_add(length).wrapping_sub(1)
}

impl ByteRangeLocks {
    /// The granted locks, oldest first.
    #[must_use]
    pub fn granted(&self) -> &[ByteRangeLock] {
        &self.granted
    }

    /// How many lock requests wait.
    #[must_use]
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// MS-FSA 2.1.4.10 for an access by `owner` with `key`: `exclusive` for an exclusive lock or
    /// a write, `lock_intent` for a lock request rather than I/O.
    #[must_use]
    pub fn conflicts(
        &self,
        owner: FileObjectId,
        key: u32,
        offset: u64,
        length: u64,
        exclusive: bool,
        lock_intent: bool,
    ) -> bool {
        if offset == 0 && length == 0 {
            return false;
        }
        let last = last_byte(offset, length);
        self.granted.iter().any(|lock| {
            if lock.offset == 0 && lock.length == 0 {
                return false;
            }
            let overlap = offset <= last_byte(lock.offset, lock.length) && last >= lock.offset;
            if !overlap {
                return false;
            }
            if lock.exclusive {
                // Another open's (or key's) exclusive lock blocks everything; the owner's own
                // blocks only another exclusive lock.
                lock.owner != owner || lock.key != key || (exclusive && lock_intent)
            } else {
                // A shared lock blocks every access with exclusive intent, the owner's too.
                exclusive
            }
        })
    }

    /// Whether a read (`write == false`) or write of the range through `owner` conflicts: the
    /// check behind `STATUS_FILE_LOCK_CONFLICT` (MS-FSA 2.1.5.2 / 2.1.5.3, paging I/O excepted).
    #[must_use]
    pub fn io_conflicts(
        &self,
        owner: FileObjectId,
        key: u32,
        offset: u64,
        length: u64,
        write: bool,
    ) -> bool {
        self.conflicts(owner, key, offset, length, write, false)
    }

    /// Whether `lock` conflicts with a granted lock, as a lock request.
    fn refuses(&self, lock: &ByteRangeLock) -> bool {
        self.conflicts(
            lock.owner,
            lock.key,
            lock.offset,
            lock.length,
            lock.exclusive,
            true,
        )
    }

    /// A lock request (after its validation and oplock check). `next_wait` numbers it when it
    /// has to wait.
    pub fn lock(
        &mut self,
        lock: ByteRangeLock,
        fail_immediately: bool,
        next_wait: impl FnOnce() -> u64,
    ) -> LockAnswer {
        if !self.refuses(&lock) {
            self.granted.push(lock);
            return LockAnswer::Granted;
        }
        if fail_immediately {
            return LockAnswer::NotGranted;
        }
        let wait = next_wait();
        self.waiting.push(Waiting { wait, lock });
        LockAnswer::Waiting(wait)
    }

    /// MS-FSA 2.1.5.9: removes the lock with exactly this range, owner and key (an exclusive
    /// one first), then grants what waited for it.
    ///
    /// # Errors
    /// `STATUS_RANGE_NOT_LOCKED` when there is none.
    pub fn unlock(
        &mut self,
        owner: FileObjectId,
        key: u32,
        offset: u64,
        length: u64,
    ) -> Result<Vec<u64>, NtStatus> {
        let matching = |lock: &ByteRangeLock| {
            lock.offset == offset && lock.length == length && lock.owner == owner && lock.key == key
        };
        let index = self
            .granted
            .iter()
            .position(|lock| matching(lock) && lock.exclusive)
            .or_else(|| self.granted.iter().rposition(matching))
            .ok_or(NtStatus::RANGE_NOT_LOCKED)?;
        self.granted.remove(index);
        Ok(self.grant_waiting())
    }

    /// The cleanup of `owner`: its locks go, its waiting requests are cancelled, and what waited
    /// for its locks is granted.
    pub fn release_owner(&mut self, owner: FileObjectId) -> Released {
        self.granted.retain(|lock| lock.owner != owner);
        let mut cancelled = Vec::new();
        self.waiting.retain(|waiting| {
            let mine = waiting.lock.owner == owner;
            if mine {
                cancelled.push(waiting.wait);
            }
            !mine
        });
        Released {
            granted: self.grant_waiting(),
            cancelled,
        }
    }

    /// Grants, in arrival order, every waiting request nothing conflicts with any more.
    fn grant_waiting(&mut self) -> Vec<u64> {
        let mut granted = Vec::new();
        let mut index = 0;
        while index < self.waiting.len() {
            let Waiting { wait, lock } = self.waiting[index];
            if self.refuses(&lock) {
                index += 1;
            } else {
                self.waiting.remove(index);
                self.granted.push(lock);
                granted.push(wait);
            }
        }
        granted
    }

    /// `FsRtlCheckLockForOplockRequest` answering no: a lock starts inside the allocation
    /// (`allocation_size` bytes), or a lock request waits. Always no for an empty allocation.
    #[must_use]
    pub fn blocks_shared_oplock(&self, allocation_size: u64) -> bool {
        allocation_size != 0
            && (!self.waiting.is_empty()
                || self
                    .granted
                    .iter()
                    .any(|lock| lock.offset < allocation_size))
    }
}

/// The sim's allocation size for `size` bytes of data: whole clusters.
#[must_use]
pub const fn allocation_size(size: u64) -> u64 {
    size.div_ceil(CLUSTER).saturating_mul(CLUSTER)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: FileObjectId = 1;
    const B: FileObjectId = 2;

    fn lock(owner: FileObjectId, offset: u64, length: u64, exclusive: bool) -> ByteRangeLock {
        ByteRangeLock {
            owner,
            key: 0,
            offset,
            length,
            exclusive,
        }
    }

    fn with(locks: &[ByteRangeLock]) -> ByteRangeLocks {
        let mut all = ByteRangeLocks::default();
        for l in locks {
            assert_eq!(all.lock(*l, true, || 0), LockAnswer::Granted);
        }
        all
    }

    #[test]
    fn an_exclusive_lock_blocks_other_opens_and_other_keys_of_its_own() {
        let locks = with(&[lock(A, 10, 10, true)]);
        for write in [false, true] {
            assert!(locks.io_conflicts(B, 0, 15, 1, write));
            assert!(
                !locks.io_conflicts(A, 0, 15, 1, write),
                "the owner's own I/O"
            );
            assert!(
                locks.io_conflicts(A, 7, 15, 1, write),
                "the owner under another key"
            );
        }
        // Overlap is inclusive of the lock's first and last byte only.
        assert!(locks.io_conflicts(B, 0, 19, 1, false));
        assert!(!locks.io_conflicts(B, 0, 20, 1, false));
        assert!(!locks.io_conflicts(B, 0, 0, 10, false));
        assert!(locks.io_conflicts(B, 0, 0, 11, false));
        // Overlapping exclusive locks are refused even to the owner; a shared one is not.
        assert!(locks.conflicts(A, 0, 12, 2, true, true));
        assert!(!locks.conflicts(A, 0, 12, 2, false, true));
        assert!(locks.conflicts(B, 0, 12, 2, false, true));
    }

    #[test]
    fn a_shared_lock_blocks_writes_and_exclusive_locks_even_of_its_owner() {
        let locks = with(&[lock(A, 0, 100, false)]);
        assert!(!locks.io_conflicts(B, 0, 50, 10, false), "reads go on");
        assert!(locks.io_conflicts(B, 0, 50, 10, true));
        assert!(
            locks.io_conflicts(A, 0, 50, 10, true),
            "the owner cannot write either"
        );
        assert!(
            !locks.conflicts(B, 0, 50, 10, false, true),
            "shared beside shared"
        );
        assert!(locks.conflicts(A, 0, 50, 10, true, true));
    }

    #[test]
    fn the_empty_range_at_zero_conflicts_with_nothing() {
        let locks = with(&[lock(A, 0, 100, true), lock(A, 0, 0, true)]);
        assert!(!locks.io_conflicts(B, 0, 0, 0, true));
        let zero = with(&[lock(A, 0, 0, true)]);
        assert!(!zero.io_conflicts(B, 0, 0, 100, true));
        // MS-FSA's arithmetic elsewhere: a zero-length range at 5 ends at 4, overlapping [0, 10).
        let ten = with(&[lock(A, 0, 10, true)]);
        assert!(ten.io_conflicts(B, 0, 5, 0, false));
    }

    #[test]
    fn ranges_past_the_64_bit_end_are_invalid() {
        assert_eq!(validate_range(u64::MAX, 1), Ok(()));
        assert_eq!(
            validate_range(u64::MAX, 2),
            Err(NtStatus::INVALID_LOCK_RANGE)
        );
        assert_eq!(validate_range(u64::MAX, 0), Ok(()));
        assert_eq!(
            validate_range(1, u64::MAX),
            Ok(()),
            "ends on the last offset"
        );
        assert_eq!(
            validate_range(2, u64::MAX),
            Err(NtStatus::INVALID_LOCK_RANGE)
        );
    }

    #[test]
    fn unlock_needs_the_exact_range_owner_and_key() {
        let mut locks = with(&[lock(A, 0, 10, true)]);
        assert_eq!(locks.unlock(A, 0, 0, 5), Err(NtStatus::RANGE_NOT_LOCKED));
        assert_eq!(locks.unlock(B, 0, 0, 10), Err(NtStatus::RANGE_NOT_LOCKED));
        assert_eq!(locks.unlock(A, 1, 0, 10), Err(NtStatus::RANGE_NOT_LOCKED));
        assert_eq!(locks.unlock(A, 0, 0, 10), Ok(Vec::new()));
        assert_eq!(locks.unlock(A, 0, 0, 10), Err(NtStatus::RANGE_NOT_LOCKED));
    }

    #[test]
    fn unlock_takes_the_exclusive_lock_of_a_pair_first() {
        let mut locks = with(&[lock(A, 0, 10, true), lock(A, 0, 10, false)]);
        assert_eq!(locks.unlock(A, 0, 0, 10), Ok(Vec::new()));
        assert_eq!(locks.granted(), &[lock(A, 0, 10, false)]);
    }

    #[test]
    fn waiting_requests_are_granted_in_order_when_their_range_frees() {
        let mut locks = with(&[lock(A, 0, 10, true)]);
        let mut next = 0;
        let mut number = || {
            next += 1;
            next
        };
        assert_eq!(
            locks.lock(lock(B, 5, 1, true), false, &mut number),
            LockAnswer::Waiting(1)
        );
        assert_eq!(
            locks.lock(lock(B, 6, 1, false), true, &mut number),
            LockAnswer::NotGranted
        );
        assert_eq!(
            locks.lock(lock(3, 5, 1, true), false, &mut number),
            LockAnswer::Waiting(2)
        );
        assert_eq!(locks.waiting(), 2);
        // B's request is granted first; the third open's still conflicts with it.
        assert_eq!(locks.unlock(A, 0, 0, 10), Ok(vec![1]));
        assert_eq!(locks.waiting(), 1);
        let released = locks.release_owner(B);
        assert_eq!(released.granted, vec![2]);
        assert!(released.cancelled.is_empty());
    }

    #[test]
    fn the_cleanup_of_an_owner_cancels_its_waiting_requests() {
        let mut locks = with(&[lock(A, 0, 10, true)]);
        assert_eq!(
            locks.lock(lock(B, 0, 1, true), false, || 7),
            LockAnswer::Waiting(7)
        );
        let released = locks.release_owner(B);
        assert_eq!(released.cancelled, vec![7]);
        assert!(released.granted.is_empty());
        assert_eq!(locks.granted().len(), 1);
    }

    #[test]
    fn shared_oplocks_are_refused_for_locks_inside_the_allocation() {
        let locks = with(&[lock(A, 8192, 1, true)]);
        assert!(!locks.blocks_shared_oplock(allocation_size(5000)));
        assert!(locks.blocks_shared_oplock(allocation_size(9000)));
        assert!(
            !locks.blocks_shared_oplock(0),
            "an empty allocation never refuses"
        );
        let mut waiting = with(&[lock(A, 1_000_000, 1, true)]);
        assert!(!waiting.blocks_shared_oplock(4096));
        assert_eq!(
            waiting.lock(lock(B, 1_000_000, 1, true), false, || 1),
            LockAnswer::Waiting(1)
        );
        assert!(
            waiting.blocks_shared_oplock(4096),
            "a waiting request refuses wherever its range is"
        );
        assert_eq!(allocation_size(0), 0);
        assert_eq!(allocation_size(1), 4096);
        assert_eq!(allocation_size(4096), 4096);
    }
}
