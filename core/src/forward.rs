//! Forwarding requests to an I/O target and cancelling them, following the documented KMDF
//! sequence (REFERENCE §1): under the lock find and reference; release; cancel-sent; dereference.
//! Only the completion routine completes a sent request, so each completes exactly once.

extern crate alloc;

use alloc::vec::Vec;

use crate::cancel_id::CancelId;
use crate::ports::{RequestOps, SpinLock};
use crate::protocol::ForwardCounts;
use crate::status::NtStatus;
use crate::tracker::{Cursor, OwnerId, RequestId, SentTable, TrackedRequest};

/// How many requests a group cancel, an owner close, unload and a list take per lock
/// acquisition: the lock is held for a bounded walk, and what is taken fits on the stack.
pub const CANCEL_BATCH: usize = 32;

/// The table capacity the driver and the sim use: requests outstanding at once, over all owners.
/// 16384 lets one owner have 10,000 out (an owner closing with that many is a tested case) for
/// under 1 MiB of nonpaged pool (`tracker::bytes_per_request` at this capacity, at most 64).
pub const DEFAULT_CAPACITY: u32 = 16384;

/// Counters kept under the same lock as the table: the ones [`ioctl::GET_STATS`] reports as they
/// are, and the peak it reports beside the table's sizes.
///
/// [`ioctl::GET_STATS`]: crate::protocol::ioctl::GET_STATS
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ForwardStats {
    /// What became of the requests and the cancels.
    pub counts: ForwardCounts,
    /// Most requests outstanding at once.
    pub peak_outstanding: u32,
}

/// The table and its counters: what the spin lock guards.
pub struct ForwardState<H> {
    /// The sent requests.
    pub table: SentTable<H>,
    /// The counters.
    pub stats: ForwardStats,
}

impl<H: Copy> ForwardState<H> {
    /// A state for at most `capacity` outstanding requests.
    ///
    /// # Errors
    /// As [`SentTable::with_capacity`].
    pub fn with_capacity(capacity: u32) -> Result<Self, NtStatus> {
        Ok(Self {
            table: SentTable::with_capacity(capacity)?,
            stats: ForwardStats::default(),
        })
    }
}

/// A snapshot of the forwarder's state for statistics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ForwardSnapshot {
    /// The counters.
    pub stats: ForwardStats,
    /// Requests outstanding now.
    pub outstanding: u32,
    /// Owners holding a partial ID.
    pub owners_live: u32,
    /// Table capacity.
    pub capacity: u32,
}

/// What one completion routine did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Completion {
    /// The owner the request was forwarded for.
    pub owner: OwnerId,
    /// That owner was closing and is now released.
    pub owner_released: bool,
    /// Nothing is outstanding any more (unload waits for this).
    pub drained: bool,
}

/// A request [`Forwarder::forward_reporting`] did not send; it has been completed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotSent {
    /// The status it was completed with.
    pub status: NtStatus,
    /// Its failed send untracked the last outstanding request (unload waits for this).
    pub drained: bool,
}

/// The forwarding and cancel logic over the adapter's lock and request ports.
pub struct Forwarder<L, R> {
    lock: L,
    ops: R,
}

impl<L, R> Forwarder<L, R>
where
    R: RequestOps,
    L: SpinLock<ForwardState<R::Handle>>,
{
    /// Wraps a lock holding the state, and the request operations.
    pub const fn new(lock: L, ops: R) -> Self {
        Self { lock, ops }
    }

    /// The request operations.
    pub const fn ops(&self) -> &R {
        &self.ops
    }

    /// Registers an owner (a handle of the control device being created).
    ///
    /// # Errors
    /// `STATUS_INSUFFICIENT_RESOURCES` when 256 owners are live.
    pub fn open_owner(&self) -> Result<OwnerId, NtStatus> {
        self.lock.with(|s| s.table.open_owner())
    }

    /// Takes responsibility for `request`: it is sent, or completed here with the failure.
    /// The caller must not touch the handle after this returns.
    ///
    /// # Errors
    /// The status the request was completed with when it could not be sent.
    pub fn forward(
        &self,
        owner: OwnerId,
        request: R::Handle,
        cancel_id: CancelId,
    ) -> Result<RequestId, NtStatus> {
        self.forward_reporting(owner, request, cancel_id)
            .map_err(|not_sent| not_sent.status)
    }

    /// [`Forwarder::forward`], also saying whether a failed send left the table empty: the
    /// request was tracked (and counted as outstanding by a concurrent unload) before the send
    /// failed, so that untrack is the event unload waits for, exactly as a completion's
    /// [`Completion::drained`] is.
    ///
    /// # Errors
    /// [`NotSent`]: the status the request was completed with and whether nothing is outstanding
    /// any more.
    pub fn forward_reporting(
        &self,
        owner: OwnerId,
        request: R::Handle,
        cancel_id: CancelId,
    ) -> Result<RequestId, NotSent> {
        let tracked = self.lock.with(|s| {
            s.stats.counts.forwarded += 1;
            let result = s.table.track(owner, request, cancel_id);
            match result {
                Ok(_) => s.stats.peak_outstanding = s.stats.peak_outstanding.max(s.table.len()),
                Err(_) => s.stats.counts.refused += 1,
            }
            result
        });
        let id = match tracked {
            Ok(id) => id,
            Err(status) => {
                self.ops.complete(request, status);
                // Never tracked: the table did not change.
                return Err(NotSent {
                    status,
                    drained: false,
                });
            }
        };
        // Never send under the lock (SDV ReqSendWhileSpinlock).
        match self.ops.send(request, id) {
            Ok(()) => Ok(id),
            Err(status) => {
                // ReqSendFail: a failed send is ours to complete. A cancel racing with us may hold
                // a reference; that keeps its handle valid, and its cancel finds nothing sent.
                let removed = self.lock.with(|s| {
                    s.stats.counts.send_failures += 1;
                    s.table.untrack(id).map(|r| (r, s.table.is_empty()))
                });
                let drained = match removed {
                    Some((removed, drained)) => {
                        self.ops.complete(removed.handle, status);
                        drained
                    }
                    None => false,
                };
                Err(NotSent { status, drained })
            }
        }
    }

    /// The completion routine: untrack under the lock, then complete outside it.
    ///
    /// # Errors
    /// `STATUS_NOT_FOUND` if `id` is not tracked: the request was already completed elsewhere,
    /// which the protocol rules out, so the caller must not complete it again.
    pub fn on_send_complete(
        &self,
        id: RequestId,
        status: NtStatus,
    ) -> Result<Completion, NtStatus> {
        let removed = self.lock.with(|s| {
            let removed = s.table.untrack(id);
            match removed {
                None => s.stats.counts.unknown_completions += 1,
                Some(_) if status == NtStatus::CANCELLED => s.stats.counts.cancelled += 1,
                Some(_) if status.is_success() => s.stats.counts.completed += 1,
                Some(_) => s.stats.counts.failed += 1,
            }
            removed.map(|r| (r, s.table.is_empty()))
        });
        let (removed, drained) = removed.ok_or(NtStatus::NOT_FOUND)?;
        self.ops.complete(removed.handle, status);
        Ok(Completion {
            owner: removed.owner,
            owner_released: removed.owner_released,
            drained,
        })
    }

    /// Cancels one request `owner` forwarded. Returns whether cancellation was attempted.
    ///
    /// # Errors
    /// `STATUS_NOT_FOUND` when `id` is stale, already completed, or another owner's.
    pub fn cancel(&self, owner: OwnerId, id: RequestId) -> Result<bool, NtStatus> {
        // Steps 1-4: find it (so completion has not untracked it) and reference it under the lock.
        let handle = self.lock.with(|s| {
            let handle = s
                .table
                .get(id)
                .filter(|_| s.table.owner_of(id) == Some(owner))?;
            self.ops.reference(handle);
            s.stats.counts.cancel_attempts += 1;
            Some(handle)
        });
        let handle = handle.ok_or(NtStatus::NOT_FOUND)?;
        // Steps 5-6: the reference keeps the handle valid even if completion ran since step 4.
        let attempted = self.ops.cancel_sent(handle);
        self.ops.dereference(handle);
        Ok(attempted)
    }

    /// Cancels every request tagged `cancel_id`, in O(members). Returns how many were attempted.
    ///
    /// Never allocates: the members are taken in batches of [`CANCEL_BATCH`], and they are those
    /// of the group when the call began (one that joins it meanwhile is not part of this cancel).
    ///
    /// # Errors
    /// `STATUS_INVALID_PARAMETER` for an untagged ID or one with another owner's partial ID.
    pub fn cancel_group(&self, owner: OwnerId, cancel_id: CancelId) -> Result<usize, NtStatus> {
        if cancel_id.is_none() {
            return Err(NtStatus::INVALID_PARAMETER);
        }
        cancel_id.check_owner(owner.partial())?;
        let mut cursor = Cursor::new();
        Ok(self.cancel_in_batches(|table, visit| {
            table.walk_group(owner, cancel_id, &mut cursor, visit)
        }))
    }

    /// Cleanup of an owner's handle: no new requests for it, and every request it forwarded is
    /// cancelled; each still completes through the completion routine. Its partial ID is released
    /// when the last one completes. Returns how many cancels were attempted.
    ///
    /// Never allocates, so cleanup cannot fail for lack of memory: requests are taken in batches
    /// of [`CANCEL_BATCH`] under the lock, each marked so a later batch skips it.
    ///
    /// # Errors
    /// `STATUS_INVALID_HANDLE` for a stale owner, `STATUS_DELETE_PENDING` if already closing.
    pub fn close_owner(&self, owner: OwnerId) -> Result<usize, NtStatus> {
        self.lock.with(|s| s.table.begin_close(owner))?;
        let mut cursor = Cursor::marking();
        Ok(self.cancel_in_batches(|table, visit| table.walk_owner(owner, &mut cursor, visit)))
    }

    /// Unload: cancels every outstanding request of every owner, without allocating. The caller
    /// then waits until a completion reports `drained` (or `outstanding()` is 0).
    pub fn cancel_all(&self) -> usize {
        self.cancel_in_batches(SentTable::for_each_unmarked)
    }

    /// Records that `owner` opened (or closed) the I/O target its requests go to.
    ///
    /// # Errors
    /// As [`SentTable::set_has_target`].
    pub fn set_target(&self, owner: OwnerId, open: bool) -> Result<(), NtStatus> {
        self.lock.with(|s| s.table.set_has_target(owner, open))
    }

    /// Whether `owner` has an I/O target open.
    pub fn has_target(&self, owner: OwnerId) -> bool {
        self.lock.with(|s| s.table.has_target(owner))
    }

    /// Repeats: under the lock, reference up to a batch of requests chosen by `walk`; outside
    /// it, cancel and dereference them. `walk` returns whether it stopped with more to visit.
    fn cancel_in_batches(
        &self,
        mut walk: impl FnMut(
            &mut SentTable<R::Handle>,
            &mut dyn FnMut(TrackedRequest<R::Handle>) -> bool,
        ) -> bool,
    ) -> usize {
        let mut total = 0;
        loop {
            let mut batch: [Option<R::Handle>; CANCEL_BATCH] = [None; CANCEL_BATCH];
            let (taken, more) = self.lock.with(|s| {
                let mut taken = 0;
                let more = walk(&mut s.table, &mut |row| {
                    self.ops.reference(row.handle);
                    batch[taken] = Some(row.handle);
                    taken += 1;
                    taken < CANCEL_BATCH
                });
                s.stats.counts.cancel_attempts += taken as u64;
                (taken, more)
            });
            for handle in batch.iter().take(taken).flatten() {
                self.ops.cancel_sent(*handle);
                self.ops.dereference(*handle);
            }
            total += taken;
            if !more {
                return total;
            }
        }
    }

    /// The requests `owner` had outstanding when the call began and still has, oldest first, at
    /// most `max` of them.
    ///
    /// They are taken in batches of [`CANCEL_BATCH`] into a buffer on the stack, and the list
    /// grows between acquisitions, never under the lock.
    ///
    /// # Errors
    /// `STATUS_INSUFFICIENT_RESOURCES` if the list cannot be allocated.
    pub fn list(&self, owner: OwnerId, max: usize) -> Result<Vec<(RequestId, CancelId)>, NtStatus> {
        let mut rows = Vec::new();
        let mut cursor = Cursor::new();
        while rows.len() < max {
            let room = (max - rows.len()).min(CANCEL_BATCH);
            let mut batch = [(RequestId::default(), CancelId::NONE); CANCEL_BATCH];
            let (taken, more) = self.lock.with(|s| {
                let mut taken = 0;
                let more = s.table.walk_owner(owner, &mut cursor, &mut |row| {
                    batch[taken] = (row.id, row.cancel_id);
                    taken += 1;
                    taken < room
                });
                (taken, more)
            });
            rows.try_reserve(taken)
                .map_err(|_| NtStatus::INSUFFICIENT_RESOURCES)?;
            rows.extend_from_slice(&batch[..taken]);
            if !more {
                break;
            }
        }
        Ok(rows)
    }

    /// Counters and sizes.
    pub fn snapshot(&self) -> ForwardSnapshot {
        self.lock.with(|s| ForwardSnapshot {
            stats: s.stats,
            outstanding: s.table.len(),
            owners_live: s.table.owners_live(),
            capacity: s.table.capacity(),
        })
    }

    /// Requests outstanding now.
    pub fn outstanding(&self) -> u32 {
        self.lock.with(|s| s.table.len())
    }

    /// The owner a live request was forwarded for.
    pub fn owner_of(&self, id: RequestId) -> Option<OwnerId> {
        self.lock.with(|s| s.table.owner_of(id))
    }

    /// Whether `owner` is open.
    pub fn is_open(&self, owner: OwnerId) -> bool {
        self.lock.with(|s| s.table.is_open(owner))
    }

    /// The documented sequence with the reference step left out: the bug the verifier and loom
    /// must catch. Only for negative-control tests.
    ///
    /// # Errors
    /// `STATUS_NOT_FOUND` as for [`Forwarder::cancel`].
    #[cfg(feature = "negative-control")]
    pub fn cancel_unreferenced(&self, owner: OwnerId, id: RequestId) -> Result<bool, NtStatus> {
        let handle = self
            .lock
            .with(|s| {
                s.table
                    .get(id)
                    .filter(|_| s.table.owner_of(id) == Some(owner))
            })
            .ok_or(NtStatus::NOT_FOUND)?;
        Ok(self.ops.cancel_sent(handle))
    }
}

#[cfg(test)]
mod tests {
    use core::cell::{Cell, RefCell};

    use super::*;

    /// Requests are numbers; sends fail for the numbers in `failing`.
    #[derive(Default)]
    struct Ops {
        failing: RefCell<Vec<u32>>,
        completed: RefCell<Vec<(u32, NtStatus)>>,
    }

    impl RequestOps for Ops {
        type Handle = u32;
        fn send(&self, request: u32, _id: RequestId) -> Result<(), NtStatus> {
            if self.failing.borrow().contains(&request) {
                Err(NtStatus::INVALID_DEVICE_STATE)
            } else {
                Ok(())
            }
        }
        fn complete(&self, request: u32, status: NtStatus) {
            self.completed.borrow_mut().push((request, status));
        }
        fn reference(&self, _request: u32) {}
        fn dereference(&self, _request: u32) {}
        fn cancel_sent(&self, _request: u32) -> bool {
            true
        }
    }

    /// A lock for one thread.
    struct Local<T>(RefCell<T>, Cell<u32>);

    impl<T> SpinLock<T> for Local<T> {
        fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
            self.1.set(self.1.get() + 1);
            f(&mut self.0.borrow_mut())
        }
    }

    fn forwarder() -> Forwarder<Local<ForwardState<u32>>, Ops> {
        let state = ForwardState::with_capacity(8).unwrap();
        Forwarder::new(Local(RefCell::new(state), Cell::new(0)), Ops::default())
    }

    #[test]
    fn a_failed_send_that_empties_the_table_reports_drained() {
        let f = forwarder();
        let owner = f.open_owner().unwrap();
        f.ops().failing.borrow_mut().extend([1, 2]);
        // Alone in the table: its failed send drains it.
        assert_eq!(
            f.forward_reporting(owner, 1, CancelId::NONE),
            Err(NotSent {
                status: NtStatus::INVALID_DEVICE_STATE,
                drained: true
            })
        );
        // With another request outstanding it does not.
        let id = f.forward(owner, 3, CancelId::NONE).unwrap();
        assert_eq!(
            f.forward_reporting(owner, 2, CancelId::NONE),
            Err(NotSent {
                status: NtStatus::INVALID_DEVICE_STATE,
                drained: false
            })
        );
        assert_eq!(f.outstanding(), 1);
        // The completion of the last one drains it, as before.
        assert!(f.on_send_complete(id, NtStatus::SUCCESS).unwrap().drained);
        assert_eq!(
            *f.ops().completed.borrow(),
            [
                (1, NtStatus::INVALID_DEVICE_STATE),
                (2, NtStatus::INVALID_DEVICE_STATE),
                (3, NtStatus::SUCCESS)
            ]
        );
        assert_eq!(f.snapshot().stats.counts.send_failures, 2);
    }

    #[test]
    fn a_refused_request_is_completed_and_changes_nothing() {
        let f = forwarder();
        let owner = f.open_owner().unwrap();
        f.close_owner(owner).unwrap();
        let refused = f.forward_reporting(owner, 7, CancelId::NONE).unwrap_err();
        assert!(!refused.drained);
        assert_eq!(*f.ops().completed.borrow(), [(7, refused.status)]);
        assert_eq!(f.forward(owner, 8, CancelId::NONE), Err(refused.status));
    }
}
