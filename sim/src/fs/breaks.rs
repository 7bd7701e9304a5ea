//! The oplock side of the file system: what an operation breaks and whether it waits, oplock
//! requests and acknowledgments.

use ferrofilter_core::NtStatus;
use ferrofilter_core::guid::Guid;
use ferrofilter_model::oplock::{Ack, BreakDecision, Operation, OplockLevel, break_for};

use crate::byte_range_locks::{self};

use super::{BreakAction, BreakEvent, FileObjectId, FileSystem, FsOutcome, Open, Wait};

impl FileSystem {
    /// Whether `op` by `key` would break any of `path`'s oplocks (changing nothing).
    pub(super) fn would_break(&self, path: &str, key: Guid, op: &Operation) -> bool {
        self.streams.get(path).is_some_and(|stream| {
            let sharing_violation = stream.oplock.share.violated_by(op);
            stream.oplock.holders.iter().any(|holder| {
                break_for(holder.level, holder.key == key, op, sharing_violation).breaks()
            })
        })
    }

    /// Decides and applies what `op` by `key` does to each of `path`'s oplocks; closes the handles
    /// of holders that answer breaks by closing. When a holder that answers by waiting is broken
    /// with an acknowledgment the operation has to wait for, or is broken again while an earlier
    /// break of it is still unacknowledged (MS-FSA 2.1.4.12: an operation "might have to wait if
    /// there is an oplock on `RHBreakQueue` with a non-matching key"), the operation is registered
    /// as waiting on `waiter`'s behalf and the wait's number returned; unless `may_wait` is false
    /// (`FILE_COMPLETE_IF_OPLOCKED`), when it goes on at once.
    pub(super) fn check_oplock(
        &mut self,
        path: &str,
        key: Guid,
        op: &Operation,
        waiter: Option<FileObjectId>,
        may_wait: bool,
        out: &mut FsOutcome,
    ) -> Option<u64> {
        let stream = self.streams.get_mut(path)?;
        let sharing_violation = stream.oplock.share.violated_by(op);
        let mut closing = Vec::new();
        let mut waiting_for = Vec::new();
        for holder in &mut stream.oplock.holders {
            let decision = break_for(holder.level, holder.key == key, op, sharing_violation);
            let BreakDecision::Break { from, to, ack } = decision else {
                continue;
            };
            holder.level = to;
            let close = holder.on_break == BreakAction::Close && ack != Ack::NotRequired;
            let outstanding = holder.ack_due;
            if holder.on_break == BreakAction::Wait && ack != Ack::NotRequired {
                holder.ack_due = true;
            }
            if holder.ack_due && (ack == Ack::RequiredWait || outstanding) {
                waiting_for.push(holder.file_object);
            }
            out.breaks.push(BreakEvent {
                file_object: holder.file_object,
                from,
                to,
                ack,
                owner_closed: close,
            });
            if close {
                closing.push(holder.file_object);
            }
        }
        stream
            .oplock
            .holders
            .retain(|h| h.level != OplockLevel::None || h.ack_due);
        for owner in closing {
            let closed = self.close_open(owner, false);
            self.release(owner);
            out.cancelled.extend(closed.cancelled);
            out.resumed.extend(closed.resumed);
            out.aborted.extend(closed.aborted);
            out.closed.push(owner);
        }
        if waiting_for.is_empty() || !may_wait {
            return None;
        }
        self.next_wait += 1;
        let id = self.next_wait;
        out.waiting_for.clone_from(&waiting_for);
        out.wait = Some(id);
        self.waits.push(Wait {
            id,
            waiter,
            waiting_for,
        });
        Some(id)
    }

    /// The oplock check of `op` through `open`'s handle (`file_object`), which may wait: `true`
    /// when the operation pends, `out` then saying `STATUS_PENDING` and what it waits for.
    pub(super) fn pends_for_oplock(
        &mut self,
        open: &Open,
        file_object: FileObjectId,
        op: &Operation,
        out: &mut FsOutcome,
    ) -> bool {
        let pends = self
            .check_oplock(&open.path, open.key, op, Some(file_object), true, out)
            .is_some();
        if pends {
            out.status = NtStatus::PENDING;
        }
        pends
    }

    /// `file_object`'s holder acknowledged or closed: the waits that no longer wait for anyone
    /// end (MS-FSA 2.1.5.19: a waiter goes on when no break it waits for is outstanding).
    pub(super) fn stop_waiting_for(&mut self, file_object: FileObjectId) -> Vec<u64> {
        let mut ended = Vec::new();
        self.waits.retain_mut(|wait| {
            let before = wait.waiting_for.len();
            wait.waiting_for.retain(|f| *f != file_object);
            let done = wait.waiting_for.is_empty() && before > 0;
            if done {
                ended.push(wait.id);
            }
            !done
        });
        ended
    }

    /// `FSCTL_REQUEST_OPLOCK` for `level` on `file_object`.
    pub fn request_oplock(
        &mut self,
        file_object: FileObjectId,
        level: OplockLevel,
        on_break: BreakAction,
    ) -> FsOutcome {
        let open = match self.lookup(file_object) {
            Ok((open, _)) => open,
            Err(status) => return FsOutcome::status(status),
        };
        let other_keys: Vec<Guid> = self
            .opens
            .iter()
            .filter(|(id, other)| **id != file_object && other.path == open.path && !other.cleaned)
            .map(|(_, other)| other.key)
            .collect();
        let Some(stream) = self.streams.get_mut(&open.path) else {
            return FsOutcome::status(NtStatus::FILE_CLOSED);
        };
        // fastfat's fsctrl.c: a shared request (Level 2, R, RH) is refused while
        // `FsRtlCheckLockForOplockRequest` finds a lock inside the allocation.
        let shared = matches!(
            level,
            OplockLevel::Level2 | OplockLevel::Read | OplockLevel::ReadHandle
        );
        let allocation = byte_range_locks::allocation_size(stream.data.len() as u64);
        if shared && stream.locks.blocks_shared_oplock(allocation) {
            return FsOutcome::status(NtStatus::OPLOCK_NOT_GRANTED);
        }
        match stream
            .oplock
            .grant(file_object, open.key, level, on_break, &other_keys)
        {
            Ok(switched) => FsOutcome {
                switched,
                ..FsOutcome::status(NtStatus::SUCCESS)
            },
            Err(error) => FsOutcome::status(error.status()),
        }
    }

    /// An acknowledgment of the break of the oplock held through `file_object`
    /// (`FSCTL_REQUEST_OPLOCK` with `REQUEST_OPLOCK_INPUT_FLAG_ACK`, or a legacy acknowledgment)
    /// to `level`, by default the level it broke to. Operations that waited only for it go on
    /// ([`FsOutcome::resumed`]).
    ///
    /// # Errors (as statuses)
    /// `STATUS_INVALID_OPLOCK_PROTOCOL` when no acknowledgment is expected ("Acknowledging Oplock
    /// Breaks"); `STATUS_INVALID_PARAMETER` for a level that keeps caching the break took away
    /// (the sim's choice: MS-FSA 2.1.5.19 has finer rules), the break then stays outstanding.
    pub fn acknowledge(
        &mut self,
        file_object: FileObjectId,
        level: Option<OplockLevel>,
    ) -> FsOutcome {
        let stream = match self.lookup(file_object) {
            Ok((_, stream)) => stream,
            Err(status) => return FsOutcome::status(status),
        };
        let Some(holder) = stream
            .oplock
            .holders
            .iter_mut()
            .find(|h| h.file_object == file_object && h.ack_due)
        else {
            return FsOutcome::status(NtStatus::INVALID_OPLOCK_PROTOCOL);
        };
        let to = level.unwrap_or(holder.level);
        let allowed = to == OplockLevel::None
            || to == holder.level
            || (!to.is_legacy()
                && !holder.level.is_legacy()
                && to.caching() & !holder.level.caching() == 0);
        if !allowed {
            return FsOutcome::status(NtStatus::INVALID_PARAMETER);
        }
        holder.level = to;
        holder.ack_due = false;
        stream
            .oplock
            .holders
            .retain(|h| h.level != OplockLevel::None || h.ack_due);
        FsOutcome {
            resumed: self.stop_waiting_for(file_object),
            ..FsOutcome::status(NtStatus::SUCCESS)
        }
    }
}
