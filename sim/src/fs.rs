//! A simulated file system below the filter: streams with data, a cache, mapped sections, their
//! oplocks and share access ([`StreamOplocks`]), and the authoritative purge-failure-mode count
//! with its held operations ([`PurgeMode`], the file system's own, apart from the driver's mirror).
//!
//! Oplocks are kept per holder, as the oplock package does: several handles may hold R and RH
//! oplocks on one stream at once ("Types of Opportunistic Locks": R, RH and Level 2 are
//! shareable), and a grant follows the "Granting Oplocks" table (windows-driver-docs
//! `ifs/granting-oplocks.md`), see [`StreamOplocks::grant`]. An operation breaks every holder whose
//! key differs from the operation's (core's [`break_for`], applied to each), and each broken holder
//! answers by its own [`BreakAction`].
//!
//! What needs a purge of a stream's cache, and when that purge fails, is the sim's model:
//! - A purge fails while any section of the stream is mapped (a data-scan section from Filter
//!   Manager or a user mapping); the file system's own failure is `STATUS_USER_MAPPED_FILE`.
//! - A destructive create (supersede / overwrite / overwrite-if), a non-cached write and a
//!   set-information of `EndOfFile` / `Allocation` purge.
//! - A cached write purges while a data-scan section is mapped (the sim's stand-in for the page's
//!   "e.g. a cached write"), so the window holds it.
//!
//! The answer to a failed purge is [`PurgeMode::on_purge_failure`]; the count is changed by
//! [`PurgeMode::apply`] after fastfat's validation order.

use std::collections::BTreeMap;

use ferrofilter_core::NtStatus;
use ferrofilter_core::guid::Guid;
use ferrofilter_core::purge::PurgeOp;
use ferrofilter_model::fastfat::{OpenKind, RequestorMode, validate_set_purge_failure_mode};
use ferrofilter_model::oplock::{
    Ack, BreakDecision, CreateParams, GrantError, Operation, OplockLevel, ShareAccess, access,
    break_for,
};

use crate::byte_range_locks::{self, ByteRangeLock, ByteRangeLocks, LockAnswer};
use crate::purge_mode::{PurgeAnswer, PurgeMode};

/// The accesses a write needs one of.
const WRITE_ACCESS: u32 = access::FILE_WRITE_DATA | access::FILE_APPEND_DATA;

/// A file object, named by a number that is never reused.
pub type FileObjectId = u64;

/// What a path names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamKind {
    /// A file's data stream.
    File,
    /// A directory.
    Directory,
    /// The volume itself.
    Volume,
}

/// What the oplock owner does when its oplock breaks with an acknowledgment required.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BreakAction {
    /// Acknowledges and keeps its handle.
    #[default]
    Acknowledge,
    /// Closes its handle (what a `CfOpenFileWithOplock` holder must do).
    Close,
    /// Does nothing yet: the break stays outstanding until the holder acknowledges it
    /// ([`FileSystem::acknowledge`]) or closes, and an operation that has to wait for it pends.
    Wait,
}

/// An operation held by the file system or the filter until the window closes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldIo {
    /// Unique number.
    pub id: u64,
    /// The file object it was issued on.
    pub file_object: FileObjectId,
    /// The scenario step that issued it.
    pub step: usize,
    /// What it is.
    pub kind: HeldKind,
}

/// The held operation itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeldKind {
    /// A cached write (held by the file system).
    CachedWrite {
        /// Offset.
        offset: u64,
        /// Bytes.
        data: Vec<u8>,
    },
    /// A user's purge request (held by the filter).
    PurgeRequest,
}

impl HeldKind {
    /// A short name for records.
    #[must_use]
    pub const fn name(&self) -> &'static str {
        match self {
            Self::CachedWrite { .. } => "write",
            Self::PurgeRequest => "purge",
        }
    }
}

/// An oplock break the file system performed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BreakEvent {
    /// The owner's file object.
    pub file_object: FileObjectId,
    /// Level before.
    pub from: OplockLevel,
    /// Level after.
    pub to: OplockLevel,
    /// Whether the breaking operation waited.
    pub ack: Ack,
    /// The owner closed its handle in answer.
    pub owner_closed: bool,
}

/// What one file-system call did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FsOutcome {
    /// The status.
    pub status: NtStatus,
    /// Oplock breaks.
    pub breaks: Vec<BreakEvent>,
    /// File objects closed by their owners in answer to a break.
    pub closed: Vec<FileObjectId>,
    /// Held operations the file system released (the window closed), oldest first.
    pub released: Vec<HeldIo>,
    /// Held operations of a closed handle, to be completed with `STATUS_CANCELLED`.
    pub cancelled: Vec<HeldIo>,
    /// The operation was held.
    pub held: bool,
    /// Bytes read.
    pub data: Vec<u8>,
    /// The file object a create made.
    pub file_object: Option<FileObjectId>,
    /// Holders whose oplock a grant moved to the requesting handle (their `FSCTL_REQUEST_OPLOCK`
    /// completes with `STATUS_OPLOCK_SWITCHED_TO_NEW_HANDLE`).
    pub switched: Vec<FileObjectId>,
    /// A close tore the stream's FCB down (nothing references it any more): its purge-failure
    /// count and oplocks are gone, and Filter Manager frees its stream context.
    pub torn_down: bool,
    /// A close removed the stream's name (it was delete-pending and this was its last handle).
    pub deleted: bool,
    /// The operation pends (its status is `STATUS_PENDING`) until every holder in
    /// `waiting_for` has acknowledged or closed; the wait's number, for resuming it.
    pub wait: Option<u64>,
    /// The holders a pended operation waits for, in the order they were broken.
    pub waiting_for: Vec<FileObjectId>,
    /// Waits this call ended: their operations go on now, oldest wait first.
    pub resumed: Vec<u64>,
    /// Waits whose waiting operation's handle closed: completed with `STATUS_CANCELLED`.
    pub aborted: Vec<u64>,
}

impl FsOutcome {
    fn status(status: NtStatus) -> Self {
        Self {
            status,
            ..Self::default()
        }
    }
}

/// One granted oplock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OplockHolder {
    /// The file object it was granted on.
    pub file_object: FileObjectId,
    /// That file object's oplock key.
    pub key: Guid,
    /// Its level now.
    pub level: OplockLevel,
    /// What the holder does when it breaks with an acknowledgment required.
    pub on_break: BreakAction,
    /// A break of this oplock waits for the holder's acknowledgment (`level` is the level it
    /// breaks to, possibly `None`).
    pub ack_due: bool,
}

/// An operation pended by an oplock break, and the holders it waits for.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Wait {
    id: u64,
    /// The waiting operation's file object (none for a create: it has none yet).
    waiter: Option<FileObjectId>,
    waiting_for: Vec<FileObjectId>,
}

/// A stream's oplocks, one entry per holder in the order granted, and its share access.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamOplocks {
    holders: Vec<OplockHolder>,
    /// The stream's open handles, for the sharing-violation rules.
    pub share: ShareAccess,
}

impl StreamOplocks {
    /// The holders, oldest grant first.
    #[must_use]
    pub fn holders(&self) -> &[OplockHolder] {
        &self.holders
    }

    /// The oplock held through `file_object`.
    #[must_use]
    pub fn holder(&self, file_object: FileObjectId) -> Option<&OplockHolder> {
        self.holders.iter().find(|h| h.file_object == file_object)
    }

    /// The stream's level as one value, for records: the exclusive oplock when there is one
    /// (it is then the only holder), else RH over Level 2 over R, as RH is what a create with a
    /// sharing conflict has to wait for.
    #[must_use]
    pub fn level(&self) -> OplockLevel {
        const RANK: [OplockLevel; 7] = [
            OplockLevel::Level1,
            OplockLevel::Batch,
            OplockLevel::ReadWrite,
            OplockLevel::ReadWriteHandle,
            OplockLevel::ReadHandle,
            OplockLevel::Level2,
            OplockLevel::Read,
        ];
        RANK.into_iter()
            .find(|level| self.holders.iter().any(|h| h.level == *level))
            .unwrap_or(OplockLevel::None)
    }

    /// `FSCTL_REQUEST_OPLOCK` (or a legacy request) for `level` through `file_object`, keyed
    /// `key`; `other_keys` are the keys of the stream's other opens. On a grant, returns the
    /// holders of the requester's key whose oplock moved to it, already removed.
    ///
    /// The "Granting Oplocks" table, request by request (another holder is one on another file
    /// object):
    /// - Level 1 / Batch: no other open on the stream at all.
    /// - Level 2: no other holder of Level 1, Batch, RH, RW or RWH.
    /// - R: no other holder of Level 1, Batch, RW or RWH, nor of RH under the requester's key; a
    ///   same-key R moves to the requester.
    /// - RH: no other holder of Level 2, Level 1, Batch, RW or RWH; a same-key R (an upgrade)
    ///   moves to the requester. The table lists no RH state for an RH request; as RH is
    ///   shareable, a different-key RH stays and a same-key one moves, as a same-key R does.
    /// - RW: every other open has the requester's key; other holders may only be a same-key R or
    ///   RW, which move to the requester.
    /// - RWH: as RW, and a same-key RH or RWH moves too.
    ///
    /// A handle that already holds an oplock and asks again has it replaced by the new level (the
    /// rules above are checked against the other holders only). The table would refuse some of
    /// those, such as RH to RW on one handle; `inspect_breaks_nothing.json` asks for that after a
    /// break and its records expect the grant, so the earlier behaviour is kept.
    ///
    /// # Errors
    /// [`GrantError`] (`STATUS_OPLOCK_NOT_GRANTED`); nothing changes.
    pub fn grant(
        &mut self,
        file_object: FileObjectId,
        key: Guid,
        level: OplockLevel,
        on_break: BreakAction,
        other_keys: &[Guid],
    ) -> Result<Vec<FileObjectId>, GrantError> {
        use OplockLevel as L;
        if level == L::None {
            return Err(GrantError::NothingRequested);
        }
        // MS-FSA 2.1.5.18 refuses an exclusive request while RH breaks are outstanding, and an
        // R / RH request by a key whose RH break is outstanding; the sim applies both to every
        // unacknowledged break.
        let exclusive = matches!(
            level,
            L::Level1 | L::Batch | L::ReadWrite | L::ReadWriteHandle
        );
        if self
            .holders
            .iter()
            .any(|h| h.ack_due && (exclusive || h.key == key))
        {
            return Err(GrantError::Incompatible);
        }
        let others = || self.holders.iter().filter(|h| h.file_object != file_object);
        let held_by_others = |levels: &[OplockLevel]| others().any(|h| levels.contains(&h.level));
        let movable_levels: &[OplockLevel] = match level {
            L::Level1 | L::Batch => {
                if !other_keys.is_empty() || others().next().is_some() {
                    return Err(GrantError::Incompatible);
                }
                &[]
            }
            L::Level2 => {
                if held_by_others(&[
                    L::Level1,
                    L::Batch,
                    L::ReadHandle,
                    L::ReadWrite,
                    L::ReadWriteHandle,
                ]) {
                    return Err(GrantError::Incompatible);
                }
                &[]
            }
            L::Read => {
                if held_by_others(&[L::Level1, L::Batch, L::ReadWrite, L::ReadWriteHandle])
                    || others().any(|h| h.level == L::ReadHandle && h.key == key)
                {
                    return Err(GrantError::Incompatible);
                }
                &[L::Read]
            }
            L::ReadHandle => {
                if held_by_others(&[
                    L::Level2,
                    L::Level1,
                    L::Batch,
                    L::ReadWrite,
                    L::ReadWriteHandle,
                ]) {
                    return Err(GrantError::Incompatible);
                }
                &[L::Read, L::ReadHandle]
            }
            L::ReadWrite | L::ReadWriteHandle => {
                let movable: &[OplockLevel] = if level == L::ReadWrite {
                    &[L::Read, L::ReadWrite]
                } else {
                    &[L::Read, L::ReadHandle, L::ReadWrite, L::ReadWriteHandle]
                };
                if other_keys.iter().any(|k| *k != key)
                    || others().any(|h| h.key != key || !movable.contains(&h.level))
                {
                    return Err(GrantError::Incompatible);
                }
                movable
            }
            L::None => return Err(GrantError::NothingRequested),
        };
        let mut switched = Vec::new();
        self.holders.retain(|h| {
            if h.file_object == file_object {
                return false;
            }
            let moved = h.key == key && movable_levels.contains(&h.level);
            if moved {
                switched.push(h.file_object);
            }
            !moved
        });
        self.holders.push(OplockHolder {
            file_object,
            key,
            level,
            on_break,
            ack_due: false,
        });
        Ok(switched)
    }

    /// The holder closed its handle: its oplock goes with it.
    fn release(&mut self, file_object: FileObjectId) {
        self.holders.retain(|h| h.file_object != file_object);
    }
}

/// One stream.
#[derive(Clone, Debug)]
pub struct Stream {
    /// File, directory or volume.
    pub kind: StreamKind,
    /// Contents.
    pub data: Vec<u8>,
    /// The cache holds pages of it.
    pub cached: bool,
    /// Data-scan sections mapped (Filter Manager's).
    pub data_scan_sections: u32,
    /// User sections mapped.
    pub user_sections: u32,
    /// Oplocks and share access.
    pub oplock: StreamOplocks,
    /// The authoritative purge-failure-mode count and the operations held by the file system.
    pub purge: PurgeMode<HeldIo>,
    /// Successful purges of the cache.
    pub purges: u64,
    /// A delete disposition is set: new opens fail, and the name goes with the last handle.
    pub delete_pending: bool,
    /// Byte-range locks, granted and waiting.
    pub locks: ByteRangeLocks,
}

impl Stream {
    fn new(kind: StreamKind) -> Self {
        Self {
            kind,
            data: Vec::new(),
            cached: false,
            data_scan_sections: 0,
            user_sections: 0,
            oplock: StreamOplocks::default(),
            purge: PurgeMode::default(),
            purges: 0,
            delete_pending: false,
            locks: ByteRangeLocks::default(),
        }
    }

    /// Something other than a handle keeps the FCB: a section (data-scan or user) or the cache.
    const fn referenced_without_handles(&self) -> bool {
        self.data_scan_sections + self.user_sections > 0 || self.cached
    }

    /// A purge of the cache succeeds only with no section mapped.
    fn try_purge(&mut self) -> Result<(), NtStatus> {
        if self.data_scan_sections + self.user_sections > 0 {
            return Err(NtStatus::USER_MAPPED_FILE);
        }
        self.cached = false;
        self.purges += 1;
        Ok(())
    }
}

/// One open.
#[derive(Clone, Debug)]
pub struct Open {
    /// The stream.
    pub path: String,
    /// Its oplock key.
    pub key: Guid,
    /// Granted access.
    pub access: u32,
    /// Share mode.
    pub share: u32,
    /// Opened with `FILE_DELETE_ON_CLOSE`: its cleanup sets the stream delete-pending.
    pub delete_on_close: bool,
    /// Its handle is gone (`IRP_MJ_CLEANUP`) while the file object is still referenced (a
    /// section, a driver): only kernel requests (paging I/O, FSCTLs, sections) still reach it.
    pub cleaned: bool,
}

/// Where a create goes.
#[derive(Clone, Debug)]
pub struct CreateRequest {
    /// Path.
    pub path: String,
    /// Access, share, disposition, options.
    pub params: CreateParams,
    /// What to create when the path does not exist.
    pub kind: StreamKind,
    /// `FILE_DELETE_ON_CLOSE`.
    pub delete_on_close: bool,
    /// `FILE_OPEN_REQUIRING_OPLOCK`.
    pub requiring_oplock: bool,
    /// `FILE_COMPLETE_IF_OPLOCKED`.
    pub complete_if_oplocked: bool,
}

impl CreateRequest {
    /// A create of `path` without oplock-related create options.
    #[must_use]
    pub const fn new(path: String, params: CreateParams, kind: StreamKind) -> Self {
        Self {
            path,
            params,
            kind,
            delete_on_close: false,
            requiring_oplock: false,
            complete_if_oplocked: false,
        }
    }
}

/// A byte-range lock request (`IRP_MN_LOCK`), as `NtLockFile` / `LockFileEx` give it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockRequest {
    /// First byte.
    pub offset: u64,
    /// Bytes.
    pub length: u64,
    /// The lock key.
    pub key: u32,
    /// `LOCKFILE_EXCLUSIVE_LOCK`.
    pub exclusive: bool,
    /// `LOCKFILE_FAIL_IMMEDIATELY`.
    pub fail_immediately: bool,
}

/// How far a lock or unlock got before its own work.
enum Begun {
    /// Validated and past the oplock check: go on, with what the check did.
    Go(Open, FsOutcome),
    /// Refused, or pended for an oplock acknowledgment.
    Done(FsOutcome),
}

/// The file system.
#[derive(Debug, Default)]
pub struct FileSystem {
    streams: BTreeMap<String, Stream>,
    opens: BTreeMap<FileObjectId, Open>,
    next_file_object: FileObjectId,
    next_held: u64,
    /// Operations waiting for oplock acknowledgments, oldest first.
    waits: Vec<Wait>,
    next_wait: u64,
}

impl FileSystem {
    /// An empty volume.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The stream at `path`.
    #[must_use]
    pub fn stream(&self, path: &str) -> Option<&Stream> {
        self.streams.get(path)
    }

    /// Every stream, by path.
    pub fn streams(&self) -> impl Iterator<Item = (&String, &Stream)> {
        self.streams.iter()
    }

    /// The open behind a file object.
    #[must_use]
    pub fn open(&self, file_object: FileObjectId) -> Option<&Open> {
        self.opens.get(&file_object)
    }

    /// Open file objects of `path`.
    #[must_use]
    pub fn opens_of(&self, path: &str) -> usize {
        self.opens
            .values()
            .filter(|o| o.path == path && !o.cleaned)
            .count()
    }

    /// A new held-operation number.
    pub fn next_held_id(&mut self) -> u64 {
        self.next_held += 1;
        self.next_held
    }

    /// An open that still has its handle, and its stream: what user I/O needs.
    fn lookup(&mut self, file_object: FileObjectId) -> Result<(Open, &mut Stream), NtStatus> {
        if self.opens.get(&file_object).is_some_and(|o| o.cleaned) {
            return Err(NtStatus::FILE_CLOSED);
        }
        self.lookup_any(file_object)
    }

    /// Any open the file object still has, cleaned up or not: what kernel requests need.
    fn lookup_any(&mut self, file_object: FileObjectId) -> Result<(Open, &mut Stream), NtStatus> {
        let open = self
            .opens
            .get(&file_object)
            .cloned()
            .ok_or(NtStatus::FILE_CLOSED)?;
        let stream = self
            .streams
            .get_mut(&open.path)
            .ok_or(NtStatus::FILE_CLOSED)?;
        Ok((open, stream))
    }

    /// Whether a create of `path` with `params` by `key` would hit a sharing violation.
    fn sharing_violation(stream: &Stream, op: &Operation) -> bool {
        match op {
            Operation::Create(create) => stream
                .oplock
                .share
                .conflicts(create.desired_access, create.share_access),
            Operation::Read
            | Operation::Write { .. }
            | Operation::Rename
            | Operation::Delete
            | Operation::LockControl => false,
        }
    }

    /// Whether `op` by `key` would break any of `path`'s oplocks (changing nothing).
    fn would_break(&self, path: &str, key: Guid, op: &Operation) -> bool {
        self.streams.get(path).is_some_and(|stream| {
            let sharing_violation = Self::sharing_violation(stream, op);
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
    fn check_oplock(
        &mut self,
        path: &str,
        key: Guid,
        op: &Operation,
        waiter: Option<FileObjectId>,
        may_wait: bool,
        out: &mut FsOutcome,
    ) -> Option<u64> {
        let stream = self.streams.get_mut(path)?;
        let sharing_violation = Self::sharing_violation(stream, op);
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

    /// `file_object`'s holder acknowledged or closed: the waits that no longer wait for anyone
    /// end (MS-FSA 2.1.5.19: a waiter goes on when no break it waits for is outstanding).
    fn stop_waiting_for(&mut self, file_object: FileObjectId) -> Vec<u64> {
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

    /// `IRP_MJ_CREATE`, with the handle's oplock key. A create that has to wait for an oplock
    /// acknowledgment pends (`STATUS_PENDING`, [`FsOutcome::wait`]); [`Self::resume_create`]
    /// finishes it.
    pub fn create(&mut self, request: &CreateRequest, key: Guid) -> FsOutcome {
        use ferrofilter_model::oplock::CreateDisposition as D;
        let params = request.params;
        // MS-FSA 2.1.5.1: the two options together are a parameter error.
        if request.complete_if_oplocked && params.reserve_opfilter {
            return FsOutcome::status(NtStatus::INVALID_PARAMETER);
        }
        let mut out = FsOutcome::default();
        // MS-FSA 2.1.5.1: FILE_DELETE_ON_CLOSE without DELETE is an invalid parameter.
        if request.delete_on_close && params.desired_access & access::DELETE == 0 {
            return FsOutcome::status(NtStatus::INVALID_PARAMETER);
        }
        // New opens of a delete-pending stream are refused (fastfat's create.c status).
        if self
            .streams
            .get(&request.path)
            .is_some_and(|s| s.delete_pending)
        {
            return FsOutcome::status(NtStatus::DELETE_PENDING);
        }
        let exists = self.streams.contains_key(&request.path);
        match (exists, params.disposition) {
            (false, D::Open | D::Overwrite) => {
                return FsOutcome::status(NtStatus::OBJECT_NAME_NOT_FOUND);
            }
            (true, D::Create) => return FsOutcome::status(NtStatus::OBJECT_NAME_COLLISION),
            (false, _) => {
                self.streams
                    .insert(request.path.clone(), Stream::new(request.kind));
            }
            (true, _) => {
                let op = Operation::Create(params);
                // NtCreateFile: the create fails rather than break an existing oplock, which
                // stays as it is.
                if request.requiring_oplock && self.would_break(&request.path, key, &op) {
                    return FsOutcome::status(NtStatus::CANNOT_BREAK_OPLOCK);
                }
                let may_wait = !request.complete_if_oplocked;
                if self
                    .check_oplock(&request.path, key, &op, None, may_wait, &mut out)
                    .is_some()
                {
                    out.status = NtStatus::PENDING;
                    return out;
                }
            }
        }
        self.finish_create(request, key, exists, out)
    }

    /// The rest of a create that waited for oplock acknowledgments: share access, the
    /// destructive purge, the open. The breaks are not decided again.
    pub fn resume_create(&mut self, request: &CreateRequest, key: Guid) -> FsOutcome {
        self.finish_create(request, key, true, FsOutcome::default())
    }

    fn finish_create(
        &mut self,
        request: &CreateRequest,
        key: Guid,
        exists: bool,
        mut out: FsOutcome,
    ) -> FsOutcome {
        let params = request.params;
        let Some(stream) = self.streams.get_mut(&request.path) else {
            return FsOutcome::status(NtStatus::OBJECT_NAME_NOT_FOUND);
        };
        if stream
            .oplock
            .share
            .conflicts(params.desired_access, params.share_access)
        {
            out.status = NtStatus::SHARING_VIOLATION;
            return out;
        }
        if exists && params.disposition.is_destructive() {
            if let Err(failure) = stream.try_purge() {
                let token = HeldIo {
                    id: 0,
                    file_object: 0,
                    step: 0,
                    kind: HeldKind::PurgeRequest,
                };
                out.status = match stream.purge.on_purge_failure(
                    PurgeOp::Create(params.disposition),
                    token,
                    failure,
                ) {
                    PurgeAnswer::Complete(status, _) => status,
                    // Not a policy outcome for a destructive create; kept total.
                    PurgeAnswer::Held => NtStatus::PENDING,
                };
                return out;
            }
            stream.data.clear();
        }
        // Cannot conflict: checked above.
        let _ = stream
            .oplock
            .share
            .open(params.desired_access, params.share_access);
        self.next_file_object += 1;
        let file_object = self.next_file_object;
        self.opens.insert(
            file_object,
            Open {
                path: request.path.clone(),
                key,
                access: params.desired_access,
                share: params.share_access,
                delete_on_close: request.delete_on_close,
                cleaned: false,
            },
        );
        out.file_object = Some(file_object);
        // "Breaking Oplocks": a successful FILE_COMPLETE_IF_OPLOCKED create that broke an
        // oplock it would otherwise have waited for.
        let in_progress =
            request.complete_if_oplocked && out.breaks.iter().any(|b| b.ack == Ack::RequiredWait);
        out.status = if in_progress {
            NtStatus::OPLOCK_BREAK_IN_PROGRESS
        } else {
            NtStatus::SUCCESS
        };
        out
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

    /// `IRP_MJ_READ` (cached) through `file_object`; pends like a create
    /// ([`Self::resume_read`]).
    pub fn read(&mut self, file_object: FileObjectId, offset: u64, length: u32) -> FsOutcome {
        let mut out = FsOutcome::default();
        let path = match self.lookup(file_object) {
            Ok((open, _)) if open.access & (access::FILE_READ_DATA | access::FILE_EXECUTE) == 0 => {
                return FsOutcome::status(NtStatus::ACCESS_DENIED);
            }
            Ok((open, _)) => {
                let waits = self.check_oplock(
                    &open.path,
                    open.key,
                    &Operation::Read,
                    Some(file_object),
                    true,
                    &mut out,
                );
                if waits.is_some() {
                    out.status = NtStatus::PENDING;
                    return out;
                }
                open.path
            }
            Err(status) => return FsOutcome::status(status),
        };
        Self::finish_read(
            self.streams.get_mut(&path),
            file_object,
            offset,
            length,
            out,
        )
    }

    /// The rest of a read that waited for oplock acknowledgments.
    pub fn resume_read(
        &mut self,
        file_object: FileObjectId,
        offset: u64,
        length: u32,
    ) -> FsOutcome {
        match self.lookup(file_object) {
            Ok((_, stream)) => Self::finish_read(
                Some(stream),
                file_object,
                offset,
                length,
                FsOutcome::default(),
            ),
            Err(status) => FsOutcome::status(status),
        }
    }

    fn finish_read(
        stream: Option<&mut Stream>,
        file_object: FileObjectId,
        offset: u64,
        length: u32,
        mut out: FsOutcome,
    ) -> FsOutcome {
        let Some(stream) = stream else {
            return FsOutcome::status(NtStatus::FILE_CLOSED);
        };
        // After the oplock check, as fastfat's read.c does it; reads carry key 0.
        if stream
            .locks
            .io_conflicts(file_object, 0, offset, u64::from(length), false)
        {
            out.status = NtStatus::FILE_LOCK_CONFLICT;
            return out;
        }
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(stream.data.len());
        let end = start
            .saturating_add(usize::try_from(length).unwrap_or(usize::MAX))
            .min(stream.data.len());
        out.data = stream.data[start..end].to_vec();
        stream.cached = true;
        out.status = NtStatus::SUCCESS;
        out
    }

    /// `IRP_MJ_WRITE` through `file_object`. `step` names the operation if it is held.
    pub fn write(
        &mut self,
        file_object: FileObjectId,
        offset: u64,
        data: &[u8],
        non_cached: bool,
        step: usize,
    ) -> FsOutcome {
        let mut out = FsOutcome::default();
        let open = match self.lookup(file_object) {
            Ok((open, _)) if open.access & WRITE_ACCESS == 0 => {
                return FsOutcome::status(NtStatus::ACCESS_DENIED);
            }
            Ok((open, _)) => open,
            Err(status) => return FsOutcome::status(status),
        };
        let waits = self.check_oplock(
            &open.path,
            open.key,
            &Operation::Write { paging: false },
            Some(file_object),
            true,
            &mut out,
        );
        if waits.is_some() {
            out.status = NtStatus::PENDING;
            return out;
        }
        self.finish_write(file_object, &open.path, offset, data, non_cached, step, out)
    }

    /// The rest of an operation through `file_object` that waited for oplock acknowledgments,
    /// on its stream as it is now (a rename may have moved it).
    fn resume(
        &mut self,
        file_object: FileObjectId,
        rest: impl FnOnce(&mut Self, &str) -> FsOutcome,
    ) -> FsOutcome {
        match self.lookup(file_object) {
            Ok((open, _)) => rest(self, &open.path),
            Err(status) => FsOutcome::status(status),
        }
    }

    /// The rest of a write that waited for oplock acknowledgments.
    pub fn resume_write(
        &mut self,
        file_object: FileObjectId,
        offset: u64,
        data: &[u8],
        non_cached: bool,
        step: usize,
    ) -> FsOutcome {
        self.resume(file_object, |fs, path| {
            fs.finish_write(
                file_object,
                path,
                offset,
                data,
                non_cached,
                step,
                FsOutcome::default(),
            )
        })
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "a write's parameters and what it did so far"
    )]
    fn finish_write(
        &mut self,
        file_object: FileObjectId,
        path: &str,
        offset: u64,
        data: &[u8],
        non_cached: bool,
        step: usize,
        mut out: FsOutcome,
    ) -> FsOutcome {
        let id = self.next_held_id();
        let Some(stream) = self.streams.get_mut(path) else {
            return FsOutcome::status(NtStatus::FILE_CLOSED);
        };
        // After the oplock check and before any purge, as fastfat's write.c does it.
        if stream
            .locks
            .io_conflicts(file_object, 0, offset, data.len() as u64, true)
        {
            out.status = NtStatus::FILE_LOCK_CONFLICT;
            return out;
        }
        let needs_purge = non_cached || stream.data_scan_sections > 0;
        if needs_purge && let Err(failure) = stream.try_purge() {
            let token = HeldIo {
                id,
                file_object,
                step,
                kind: HeldKind::CachedWrite {
                    offset,
                    data: data.to_vec(),
                },
            };
            match stream
                .purge
                .on_purge_failure(PurgeOp::Write { non_cached }, token, failure)
            {
                PurgeAnswer::Held => {
                    out.held = true;
                    out.status = NtStatus::PENDING;
                }
                PurgeAnswer::Complete(status, _) => {
                    out.status = status;
                }
            }
            return out;
        }
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let end = start.saturating_add(data.len());
        if end > stream.data.len() {
            stream.data.resize(end, 0);
        }
        stream.data[start..end].copy_from_slice(data);
        if !non_cached {
            stream.cached = true;
        }
        out.status = NtStatus::SUCCESS;
        out
    }

    /// A paging write through `file_object`: no oplock check and no purge (the write comes from
    /// the cache or a mapped view itself), and it never extends the file: past the end it writes
    /// nothing, across the end it is trimmed (fastfat's write.c, "`PagingIo` is never allowed to
    /// extend file size").
    pub fn paging_write(
        &mut self,
        file_object: FileObjectId,
        offset: u64,
        data: &[u8],
    ) -> FsOutcome {
        let stream = match self.lookup_any(file_object) {
            Ok((_, stream)) => stream,
            Err(status) => return FsOutcome::status(status),
        };
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        if start < stream.data.len() {
            let end = start.saturating_add(data.len()).min(stream.data.len());
            stream.data[start..end].copy_from_slice(&data[..end - start]);
        }
        FsOutcome::status(NtStatus::SUCCESS)
    }

    /// `IRP_MJ_SET_INFORMATION`. `resize` is `Some(new size)` for `EndOfFile` / `Allocation`,
    /// which purge and break oplocks like a write; `None` for a class that does neither.
    pub fn set_information(&mut self, file_object: FileObjectId, resize: Option<u64>) -> FsOutcome {
        let mut out = FsOutcome::default();
        let open = match self.lookup(file_object) {
            Ok((open, _)) => open,
            Err(status) => return FsOutcome::status(status),
        };
        let Some(size) = resize else {
            return FsOutcome::status(NtStatus::SUCCESS);
        };
        if open.access & access::FILE_WRITE_DATA == 0 {
            return FsOutcome::status(NtStatus::ACCESS_DENIED);
        }
        let waits = self.check_oplock(
            &open.path,
            open.key,
            &Operation::Write { paging: false },
            Some(file_object),
            true,
            &mut out,
        );
        if waits.is_some() {
            out.status = NtStatus::PENDING;
            return out;
        }
        self.finish_set_information(file_object, &open.path, size, out)
    }

    /// The rest of a resize that waited for oplock acknowledgments.
    pub fn resume_set_information(&mut self, file_object: FileObjectId, size: u64) -> FsOutcome {
        self.resume(file_object, |fs, path| {
            fs.finish_set_information(file_object, path, size, FsOutcome::default())
        })
    }

    fn finish_set_information(
        &mut self,
        file_object: FileObjectId,
        path: &str,
        size: u64,
        mut out: FsOutcome,
    ) -> FsOutcome {
        let Some(stream) = self.streams.get_mut(path) else {
            return FsOutcome::status(NtStatus::FILE_CLOSED);
        };
        if let Err(failure) = stream.try_purge() {
            let token = HeldIo {
                id: 0,
                file_object,
                step: 0,
                kind: HeldKind::PurgeRequest,
            };
            out.status =
                match stream
                    .purge
                    .on_purge_failure(PurgeOp::SetInformation, token, failure)
                {
                    PurgeAnswer::Complete(status, _) => status,
                    PurgeAnswer::Held => NtStatus::PENDING,
                };
            return out;
        }
        stream
            .data
            .resize(usize::try_from(size).unwrap_or(usize::MAX).min(1 << 20), 0);
        out.status = NtStatus::SUCCESS;
        out
    }

    /// `FSCTL_SET_PURGE_FAILURE_MODE`, validated in fastfat's order, then counted.
    pub fn set_purge_failure_mode(
        &mut self,
        file_object: FileObjectId,
        requestor: RequestorMode,
        input: &[u8],
    ) -> FsOutcome {
        self.set_purge_failure_mode_repeated(file_object, requestor, input, 1)
            .0
    }

    /// The same FSCTL `repeat` times in a row, applied at once (a count near `MAXULONG` without
    /// four billion calls); also how many changed the count.
    pub fn set_purge_failure_mode_repeated(
        &mut self,
        file_object: FileObjectId,
        requestor: RequestorMode,
        input: &[u8],
        repeat: u32,
    ) -> (FsOutcome, u32) {
        let (_, stream) = match self.lookup_any(file_object) {
            Ok(found) => found,
            Err(status) => return (FsOutcome::status(status), 0),
        };
        let kind = match stream.kind {
            StreamKind::File => OpenKind::UserFile,
            StreamKind::Directory => OpenKind::UserDirectory,
            StreamKind::Volume => OpenKind::Other,
        };
        let change = match validate_set_purge_failure_mode(requestor, kind, input) {
            Ok(change) => change,
            Err(status) => return (FsOutcome::status(status), 0),
        };
        let run = stream.purge.apply(change, repeat);
        (
            FsOutcome {
                status: run.status,
                released: run.released,
                ..FsOutcome::default()
            },
            run.applied,
        )
    }

    /// Re-issues a write the file system held.
    pub fn reissue(&mut self, held: &HeldIo) -> FsOutcome {
        match &held.kind {
            HeldKind::CachedWrite { offset, data } => {
                self.write(held.file_object, *offset, data, false, held.step)
            }
            HeldKind::PurgeRequest => FsOutcome::status(NtStatus::INVALID_DEVICE_REQUEST),
        }
    }

    /// Flush + purge of the stream's cache through `file_object` (the filter's purge request).
    /// Reports the file system's own failure; the caller applies the policy.
    pub fn flush_and_purge(&mut self, file_object: FileObjectId) -> FsOutcome {
        match self.lookup(file_object) {
            Ok((_, stream)) => FsOutcome::status(match stream.try_purge() {
                Ok(()) => NtStatus::SUCCESS,
                Err(status) => status,
            }),
            Err(status) => FsOutcome::status(status),
        }
    }

    /// Maps (`true`) or unmaps a section of the stream behind `file_object`.
    ///
    /// # Errors
    /// `STATUS_FILE_CLOSED` for an unknown file object, `STATUS_INVALID_PARAMETER` when unmapping
    /// what is not mapped.
    pub fn map_section(
        &mut self,
        file_object: FileObjectId,
        data_scan: bool,
        map: bool,
    ) -> Result<(), NtStatus> {
        let (_, stream) = self.lookup_any(file_object)?;
        let field = if data_scan {
            &mut stream.data_scan_sections
        } else {
            &mut stream.user_sections
        };
        *field = if map {
            field.saturating_add(1)
        } else {
            field.checked_sub(1).ok_or(NtStatus::INVALID_PARAMETER)?
        };
        Ok(())
    }

    /// `IRP_MJ_CLEANUP` + `IRP_MJ_CLOSE`: share access and oplock go, the handle's held
    /// operations come back to be cancelled.
    pub fn close(&mut self, file_object: FileObjectId) -> FsOutcome {
        let out = self.close_open(file_object, true);
        self.release(file_object);
        out
    }

    /// `IRP_MJ_CLEANUP` alone: the handle goes, the file object stays (see [`Open::cleaned`]).
    pub fn cleanup(&mut self, file_object: FileObjectId) -> FsOutcome {
        self.close_open(file_object, true)
    }

    /// `IRP_MJ_CLOSE` of a cleaned-up open: its last reference is gone.
    pub fn release(&mut self, file_object: FileObjectId) {
        self.opens.remove(&file_object);
    }

    /// The cleanup of one open; `settle` when the stream may go with it (not while another
    /// operation on the stream, which references its FCB, is in progress).
    fn close_open(&mut self, file_object: FileObjectId, settle: bool) -> FsOutcome {
        let Some(open) = self
            .opens
            .get_mut(&file_object)
            .filter(|o| !o.cleaned)
            .map(|o| {
                o.cleaned = true;
                o.clone()
            })
        else {
            return FsOutcome::status(NtStatus::INVALID_HANDLE);
        };
        let mut out = FsOutcome::status(NtStatus::SUCCESS);
        let last = settle && self.opens_of(&open.path) == 0;
        if let Some(stream) = self.streams.get_mut(&open.path) {
            stream.oplock.share.close(open.access, open.share);
            stream.oplock.release(file_object);
            out.cancelled = stream
                .purge
                .cancel_where(|held| held.file_object == file_object)
                .into_iter()
                .collect();
            // MS-FSA 2.1.5.5: a delete-on-close handle's close makes the delete file-wide.
            stream.delete_pending |= open.delete_on_close;
            let unlocked = stream.locks.release_owner(file_object);
            out.aborted.extend(unlocked.cancelled);
            out.resumed.extend(unlocked.granted);
        }
        // The waiting caller went away ("Breaking Oplocks": the IRP completes with
        // STATUS_CANCELLED).
        self.waits.retain(|wait| {
            let gone = wait.waiter == Some(file_object);
            if gone {
                out.aborted.push(wait.id);
            }
            !gone
        });
        // "Closing the handle ... will implicitly acknowledge the break."
        out.resumed.extend(self.stop_waiting_for(file_object));
        if last {
            (out.torn_down, out.deleted) = self.settle_stream(&open.path);
        }
        out
    }

    /// A stream none of whose handles is left: a delete-pending one loses its name (fastfat's
    /// cleanup.c) and its FCB; another loses its FCB when nothing else (a section, the cache)
    /// references it, its data staying on the volume. `(torn_down, deleted)`.
    fn settle_stream(&mut self, path: &str) -> (bool, bool) {
        let Some(stream) = self.streams.get_mut(path) else {
            return (false, false);
        };
        if stream.delete_pending {
            self.streams.remove(path);
            return (true, true);
        }
        if stream.referenced_without_handles() {
            return (false, false);
        }
        let data = std::mem::take(&mut stream.data);
        *stream = Stream::new(stream.kind);
        stream.data = data;
        (true, false)
    }

    /// What the release of a cleaned-up open's last kernel reference (a section) does to its
    /// stream when no handle of the stream is left.
    pub fn settle_released(&mut self, file_object: FileObjectId) -> FsOutcome {
        let mut out = FsOutcome::status(NtStatus::SUCCESS);
        if let Some(path) = self.opens.get(&file_object).map(|o| o.path.clone())
            && self.opens_of(&path) == 0
        {
            (out.torn_down, out.deleted) = self.settle_stream(&path);
        }
        out
    }

    /// `FileDispositionInformation` through `file_object`: `delete` sets or clears the stream's
    /// delete-pending state (MS-FSA 2.1.5.15.3).
    pub fn set_disposition(&mut self, file_object: FileObjectId, delete: bool) -> FsOutcome {
        let mut out = FsOutcome::default();
        let open = match self.lookup(file_object) {
            Ok((open, _)) if open.access & access::DELETE == 0 => {
                return FsOutcome::status(NtStatus::ACCESS_DENIED);
            }
            Ok((open, stream))
                if delete && stream.user_sections + stream.data_scan_sections > 0 =>
            {
                // "either the file is read-only, or there is an existing mapped view to the file"
                // (FILE_DISPOSITION_INFORMATION_EX).
                let _ = open;
                return FsOutcome::status(NtStatus::CANNOT_DELETE);
            }
            Ok((open, _)) => open,
            Err(status) => return FsOutcome::status(status),
        };
        if delete {
            // The break is recorded; the disposition does not pend for it (not modelled).
            let _ = self.check_oplock(
                &open.path,
                open.key,
                &Operation::Delete,
                Some(file_object),
                false,
                &mut out,
            );
        }
        if let Some(stream) = self.streams.get_mut(&open.path) {
            stream.delete_pending = delete;
        }
        out.status = NtStatus::SUCCESS;
        out
    }

    /// `FileRenameInformation` through `file_object` to `target` (MS-FSA 2.1.5.15.12): the
    /// stream keeps everything it has (count, held operations, oplocks, opens) under the new name.
    pub fn rename(&mut self, file_object: FileObjectId, target: &str, replace: bool) -> FsOutcome {
        let mut out = FsOutcome::default();
        let open = match self.lookup(file_object) {
            Ok((open, _)) if open.access & access::DELETE == 0 => {
                return FsOutcome::status(NtStatus::ACCESS_DENIED);
            }
            Ok((_, stream)) if stream.delete_pending => {
                return FsOutcome::status(NtStatus::ACCESS_DENIED);
            }
            Ok((open, _)) => open,
            Err(status) => return FsOutcome::status(status),
        };
        if open.path == target {
            return FsOutcome::status(NtStatus::SUCCESS);
        }
        if let Some(existing) = self.streams.get(target) {
            if existing.delete_pending {
                return FsOutcome::status(NtStatus::DELETE_PENDING);
            }
            if !replace {
                return FsOutcome::status(NtStatus::OBJECT_NAME_COLLISION);
            }
            if self.opens_of(target) > 0 {
                return FsOutcome::status(NtStatus::ACCESS_DENIED);
            }
        }
        // The break is recorded; the rename does not pend for it (not modelled).
        let _ = self.check_oplock(
            &open.path,
            open.key,
            &Operation::Rename,
            Some(file_object),
            false,
            &mut out,
        );
        if let Some(stream) = self.streams.remove(&open.path) {
            self.streams.insert(target.to_owned(), stream);
            for other in self.opens.values_mut().filter(|o| o.path == open.path) {
                target.clone_into(&mut other.path);
            }
        }
        out.status = NtStatus::SUCCESS;
        out
    }

    /// `IRP_MJ_LOCK_CONTROL` / `IRP_MN_LOCK` through `file_object` (MS-FSA 2.1.5.8): validated,
    /// then the oplock check (which may pend it, [`Self::resume_lock`]), then granted, refused
    /// (`STATUS_LOCK_NOT_GRANTED`) or queued until the range is free ([`FsOutcome::wait`]; it is
    /// resumed in [`FsOutcome::resumed`] of the unlock or cleanup that frees it).
    pub fn lock(&mut self, file_object: FileObjectId, request: &LockRequest) -> FsOutcome {
        match self.begin_lock_control(file_object, request.offset, request.length) {
            Begun::Go(open, out) => self.finish_lock(file_object, &open.path, request, None, out),
            Begun::Done(out) => out,
        }
    }

    /// The rest of a lock request that waited for oplock acknowledgments; if it then has to wait
    /// for its range, it waits under the same number.
    pub fn resume_lock(
        &mut self,
        file_object: FileObjectId,
        request: &LockRequest,
        wait: u64,
    ) -> FsOutcome {
        self.resume(file_object, |fs, path| {
            fs.finish_lock(file_object, path, request, Some(wait), FsOutcome::default())
        })
    }

    fn finish_lock(
        &mut self,
        file_object: FileObjectId,
        path: &str,
        request: &LockRequest,
        wait: Option<u64>,
        mut out: FsOutcome,
    ) -> FsOutcome {
        let number = wait.unwrap_or(self.next_wait + 1);
        let Some(stream) = self.streams.get_mut(path) else {
            return FsOutcome::status(NtStatus::FILE_CLOSED);
        };
        let lock = ByteRangeLock {
            owner: file_object,
            key: request.key,
            offset: request.offset,
            length: request.length,
            exclusive: request.exclusive,
        };
        out.status = match stream.locks.lock(lock, request.fail_immediately, || number) {
            LockAnswer::Granted => NtStatus::SUCCESS,
            LockAnswer::NotGranted => NtStatus::LOCK_NOT_GRANTED,
            LockAnswer::Waiting(number) => {
                self.next_wait = self.next_wait.max(number);
                out.wait = Some(number);
                NtStatus::PENDING
            }
        };
        out
    }

    /// `IRP_MN_UNLOCK_SINGLE` through `file_object` (MS-FSA 2.1.5.9), after the same oplock check
    /// as a lock ([`Self::resume_unlock`]). Lock requests the range was holding up are granted
    /// ([`FsOutcome::resumed`]).
    pub fn unlock(
        &mut self,
        file_object: FileObjectId,
        offset: u64,
        length: u64,
        key: u32,
    ) -> FsOutcome {
        match self.begin_lock_control(file_object, offset, length) {
            Begun::Go(open, out) => {
                self.finish_unlock(file_object, &open.path, offset, length, key, out)
            }
            Begun::Done(out) => out,
        }
    }

    /// The rest of an unlock that waited for oplock acknowledgments.
    pub fn resume_unlock(
        &mut self,
        file_object: FileObjectId,
        offset: u64,
        length: u64,
        key: u32,
    ) -> FsOutcome {
        self.resume(file_object, |fs, path| {
            fs.finish_unlock(file_object, path, offset, length, key, FsOutcome::default())
        })
    }

    fn finish_unlock(
        &mut self,
        file_object: FileObjectId,
        path: &str,
        offset: u64,
        length: u64,
        key: u32,
        mut out: FsOutcome,
    ) -> FsOutcome {
        let Some(stream) = self.streams.get_mut(path) else {
            return FsOutcome::status(NtStatus::FILE_CLOSED);
        };
        match stream.locks.unlock(file_object, key, offset, length) {
            Ok(granted) => {
                out.resumed.extend(granted);
                out.status = NtStatus::SUCCESS;
            }
            Err(status) => out.status = status,
        }
        out
    }

    /// What a lock and an unlock share before their own work: the validation (a user handle of a
    /// file: fastfat's `STATUS_INVALID_PARAMETER` for anything else, MS-FSA's for a directory;
    /// opened for reading or writing data, as `LockFileEx` needs; a range inside 64 bits), then
    /// the oplock check.
    fn begin_lock_control(&mut self, file_object: FileObjectId, offset: u64, length: u64) -> Begun {
        let refuse = |status| Begun::Done(FsOutcome::status(status));
        let open = match self.lookup(file_object) {
            Ok((_, stream)) if stream.kind != StreamKind::File => {
                return refuse(NtStatus::INVALID_PARAMETER);
            }
            Ok((open, _))
                if open.access & (access::FILE_READ_DATA | access::FILE_WRITE_DATA) == 0 =>
            {
                return refuse(NtStatus::ACCESS_DENIED);
            }
            Ok((open, _)) => open,
            Err(status) => return refuse(status),
        };
        if let Err(status) = byte_range_locks::validate_range(offset, length) {
            return refuse(status);
        }
        let mut out = FsOutcome::default();
        if self
            .check_oplock(
                &open.path,
                open.key,
                &Operation::LockControl,
                Some(file_object),
                true,
                &mut out,
            )
            .is_some()
        {
            out.status = NtStatus::PENDING;
            return Begun::Done(out);
        }
        Begun::Go(open, out)
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

#[cfg(test)]
mod tests {
    use ferrofilter_model::oplock::{CreateDisposition, share};

    use super::*;
    use OplockLevel as L;

    const A: Guid = Guid::from_fields(0xa, 0, 0, [0; 8]);
    const B: Guid = Guid::from_fields(0xb, 0, 0, [0; 8]);
    const C: Guid = Guid::from_fields(0xc, 0, 0, [0; 8]);
    const READ_WRITE: u32 = access::FILE_READ_DATA | access::FILE_WRITE_DATA;

    fn open_shared(fs: &mut FileSystem, key: Guid, access: u32, share: u32) -> FileObjectId {
        let request = CreateRequest {
            path: "f".to_owned(),
            params: CreateParams {
                disposition: CreateDisposition::OpenIf,
                ..CreateParams::open(access, share)
            },
            kind: StreamKind::File,
            delete_on_close: false,
            requiring_oplock: false,
            complete_if_oplocked: false,
        };
        let out = fs.create(&request, key);
        out.file_object.unwrap_or_else(|| panic!("{out:?}"))
    }

    fn open(fs: &mut FileSystem, key: Guid, access: u32) -> FileObjectId {
        open_shared(fs, key, access, share::FILE_SHARE_ALL)
    }

    fn request(fs: &mut FileSystem, file: FileObjectId, level: OplockLevel) -> NtStatus {
        fs.request_oplock(file, level, BreakAction::Acknowledge)
            .status
    }

    fn holders(fs: &FileSystem) -> Vec<(FileObjectId, OplockLevel)> {
        fs.stream("f").map_or_else(Vec::new, |s| {
            s.oplock
                .holders()
                .iter()
                .map(|h| (h.file_object, h.level))
                .collect()
        })
    }

    #[test]
    fn read_oplocks_of_two_keys_coexist_and_a_third_keys_write_breaks_both() {
        let mut fs = FileSystem::new();
        let a = open(&mut fs, A, access::FILE_READ_DATA);
        let b = open(&mut fs, B, access::FILE_READ_DATA);
        assert_eq!(request(&mut fs, a, L::Read), NtStatus::SUCCESS);
        assert_eq!(request(&mut fs, b, L::Read), NtStatus::SUCCESS);
        assert_eq!(holders(&fs), [(a, L::Read), (b, L::Read)]);
        let w = open(&mut fs, C, READ_WRITE);
        let out = fs.write(w, 0, b"x", false, 0);
        assert_eq!(out.status, NtStatus::SUCCESS);
        let broken: Vec<_> = out
            .breaks
            .iter()
            .map(|e| (e.file_object, e.to, e.ack))
            .collect();
        assert_eq!(
            broken,
            [
                (a, L::None, Ack::NotRequired),
                (b, L::None, Ack::NotRequired)
            ]
        );
        assert!(holders(&fs).is_empty());
    }

    #[test]
    fn a_write_breaks_only_the_holders_of_other_keys() {
        let mut fs = FileSystem::new();
        let a = open(&mut fs, A, READ_WRITE);
        let b = open(&mut fs, B, access::FILE_READ_DATA);
        assert_eq!(request(&mut fs, a, L::Read), NtStatus::SUCCESS);
        assert_eq!(request(&mut fs, b, L::ReadHandle), NtStatus::SUCCESS);
        let out = fs.write(a, 0, b"x", false, 0);
        let broken: Vec<_> = out.breaks.iter().map(|e| (e.file_object, e.from)).collect();
        assert_eq!(broken, [(b, L::ReadHandle)]);
        assert_eq!(holders(&fs), [(a, L::Read)]);
    }

    #[test]
    fn each_holder_answers_a_break_by_its_own_action() {
        let mut fs = FileSystem::new();
        let p = open_shared(&mut fs, A, access::FILE_READ_DATA, share::FILE_SHARE_READ);
        let q = open_shared(&mut fs, B, access::FILE_READ_DATA, share::FILE_SHARE_READ);
        let closes = fs.request_oplock(p, L::ReadHandle, BreakAction::Close);
        assert_eq!(closes.status, NtStatus::SUCCESS);
        assert_eq!(request(&mut fs, q, L::ReadHandle), NtStatus::SUCCESS);
        let request = CreateRequest {
            path: "f".to_owned(),
            params: CreateParams::open(READ_WRITE, share::FILE_SHARE_ALL),
            kind: StreamKind::File,
            delete_on_close: false,
            requiring_oplock: false,
            complete_if_oplocked: false,
        };
        let out = fs.create(&request, C);
        assert_eq!(out.closed, [p]);
        let broken: Vec<_> = out
            .breaks
            .iter()
            .map(|e| (e.file_object, e.to, e.ack, e.owner_closed))
            .collect();
        assert_eq!(
            broken,
            [
                (p, L::Read, Ack::RequiredWait, true),
                (q, L::Read, Ack::RequiredWait, false)
            ]
        );
        // q kept its handle, which still denies write sharing.
        assert_eq!(out.status, NtStatus::SHARING_VIOLATION);
        assert_eq!(holders(&fs), [(q, L::Read)]);
        assert!(fs.open(p).is_none());
    }

    #[test]
    fn read_write_needs_every_other_open_to_have_the_requesters_key() {
        for level in [L::ReadWrite, L::ReadWriteHandle] {
            let mut fs = FileSystem::new();
            let a = open(&mut fs, A, READ_WRITE);
            let b = open(&mut fs, B, access::FILE_READ_ATTRIBUTES);
            assert_eq!(request(&mut fs, a, level), NtStatus::OPLOCK_NOT_GRANTED);
            assert!(holders(&fs).is_empty());
            // Control: the refusal is the other key's open, not the level.
            let _ = fs.close(b);
            let _same_key = open(&mut fs, A, access::FILE_READ_DATA);
            assert_eq!(request(&mut fs, a, level), NtStatus::SUCCESS);
            assert_eq!(holders(&fs), [(a, level)]);
        }
    }

    #[test]
    fn level1_and_batch_need_the_stream_to_themselves_whatever_the_key() {
        for level in [L::Level1, L::Batch] {
            let mut fs = FileSystem::new();
            let a = open(&mut fs, A, READ_WRITE);
            let same = open(&mut fs, A, access::FILE_READ_DATA);
            assert_eq!(request(&mut fs, a, level), NtStatus::OPLOCK_NOT_GRANTED);
            let _ = fs.close(same);
            assert_eq!(request(&mut fs, a, level), NtStatus::SUCCESS);
        }
    }

    #[test]
    fn shared_requests_are_refused_beside_what_they_cannot_coexist_with() {
        // (held by another key, requested, granted) from the table.
        let cases = [
            (L::ReadWrite, L::Read, false),
            (L::ReadWriteHandle, L::ReadHandle, false),
            (L::Batch, L::Level2, false),
            (L::Level2, L::ReadHandle, false),
            (L::ReadHandle, L::Level2, false),
            (L::Level2, L::Read, true),
            (L::Read, L::Level2, true),
            (L::ReadHandle, L::Read, true),
            (L::Read, L::ReadHandle, true),
            (L::ReadHandle, L::ReadHandle, true),
        ];
        for (held, requested, granted) in cases {
            let mut fs = FileSystem::new();
            let holder = open(&mut fs, A, READ_WRITE);
            assert_eq!(
                request(&mut fs, holder, held),
                NtStatus::SUCCESS,
                "{held:?}"
            );
            // Attribute-only: the open breaks nothing, so `held` is still what the request meets.
            let asker = open(&mut fs, B, access::FILE_READ_ATTRIBUTES);
            let expected = if granted {
                NtStatus::SUCCESS
            } else {
                NtStatus::OPLOCK_NOT_GRANTED
            };
            assert_eq!(
                request(&mut fs, asker, requested),
                expected,
                "{requested:?} beside {held:?}"
            );
        }
    }

    #[test]
    fn a_same_key_request_takes_the_oplock_over_or_is_refused() {
        let mut fs = FileSystem::new();
        let first = open(&mut fs, A, access::FILE_READ_DATA);
        let second = open(&mut fs, A, access::FILE_READ_DATA);
        let third = open(&mut fs, A, access::FILE_READ_DATA);
        assert_eq!(request(&mut fs, first, L::Read), NtStatus::SUCCESS);
        let moved = fs.request_oplock(second, L::Read, BreakAction::Acknowledge);
        assert_eq!(
            (moved.status, moved.switched),
            (NtStatus::SUCCESS, vec![first])
        );
        // R to RH by the same key: an upgrade, the R moves to the new handle.
        let upgraded = fs.request_oplock(third, L::ReadHandle, BreakAction::Acknowledge);
        assert_eq!(upgraded.switched, [second]);
        assert_eq!(holders(&fs), [(third, L::ReadHandle)]);
        // R beside an RH of the same key is refused.
        assert_eq!(
            request(&mut fs, first, L::Read),
            NtStatus::OPLOCK_NOT_GRANTED
        );
        assert_eq!(holders(&fs), [(third, L::ReadHandle)]);
    }

    #[test]
    fn the_single_owner_rule_would_refuse_what_the_table_grants() {
        // Negative control: the model this replaces (one owner per stream, core's StreamOplock)
        // refuses a second key's R, so the coexistence tests above tell the two apart.
        let mut single = ferrofilter_model::oplock::StreamOplock::new();
        assert_eq!(single.request(A, L::Read), Ok(()));
        assert!(single.request(B, L::Read).is_err());
        let mut fs = FileSystem::new();
        let a = open(&mut fs, A, access::FILE_READ_DATA);
        let b = open(&mut fs, B, access::FILE_READ_DATA);
        assert_eq!(request(&mut fs, a, L::Read), NtStatus::SUCCESS);
        assert_eq!(request(&mut fs, b, L::Read), NtStatus::SUCCESS);
    }

    fn create_request(access: u32, share: u32) -> CreateRequest {
        CreateRequest::new(
            "f".to_owned(),
            CreateParams::open(access, share),
            StreamKind::File,
        )
    }

    #[test]
    fn a_create_waits_for_a_waiting_holder_until_it_acknowledges() {
        let mut fs = FileSystem::new();
        let a = open(&mut fs, A, READ_WRITE);
        let held = fs.request_oplock(a, L::ReadWriteHandle, BreakAction::Wait);
        assert_eq!(held.status, NtStatus::SUCCESS);
        let request = create_request(access::FILE_READ_DATA, share::FILE_SHARE_ALL);
        let pended = fs.create(&request, B);
        assert_eq!(
            (
                pended.status,
                pended.waiting_for.clone(),
                pended.file_object
            ),
            (NtStatus::PENDING, vec![a], None)
        );
        let wait = pended.wait.unwrap_or_else(|| panic!("{pended:?}"));
        // Not expected from anyone else; acknowledging above the break's level is refused.
        let other = open(&mut fs, A, access::FILE_READ_DATA);
        assert_eq!(
            fs.acknowledge(other, None).status,
            NtStatus::INVALID_OPLOCK_PROTOCOL
        );
        assert_eq!(
            fs.acknowledge(a, Some(L::ReadWriteHandle)).status,
            NtStatus::INVALID_PARAMETER
        );
        let acked = fs.acknowledge(a, None);
        assert_eq!(
            (acked.status, acked.resumed),
            (NtStatus::SUCCESS, vec![wait])
        );
        assert_eq!(holders(&fs), [(a, L::ReadHandle)]);
        assert_eq!(fs.resume_create(&request, B).status, NtStatus::SUCCESS);
        // The break is over: a second acknowledgment is a protocol error.
        assert_eq!(
            fs.acknowledge(a, None).status,
            NtStatus::INVALID_OPLOCK_PROTOCOL
        );
    }

    #[test]
    fn a_sharing_conflict_waits_for_every_rh_holder_of_another_key() {
        let mut fs = FileSystem::new();
        let a = open_shared(&mut fs, A, access::FILE_READ_DATA, share::FILE_SHARE_READ);
        let b = open_shared(&mut fs, B, access::FILE_READ_DATA, share::FILE_SHARE_READ);
        for holder in [a, b] {
            let granted = fs.request_oplock(holder, L::ReadHandle, BreakAction::Wait);
            assert_eq!(granted.status, NtStatus::SUCCESS);
        }
        let request = create_request(READ_WRITE, share::FILE_SHARE_ALL);
        let pended = fs.create(&request, C);
        assert_eq!(pended.waiting_for, [a, b]);
        let wait = pended.wait.unwrap_or_else(|| panic!("{pended:?}"));
        assert!(fs.acknowledge(a, None).resumed.is_empty());
        assert_eq!(fs.close(b).resumed, [wait]);
        // a kept its handle (it acknowledged to R), which still denies write sharing.
        assert_eq!(
            fs.resume_create(&request, C).status,
            NtStatus::SHARING_VIOLATION
        );
    }

    #[test]
    fn breaks_without_a_wait_never_pend() {
        let mut fs = FileSystem::new();
        let r = open(&mut fs, A, access::FILE_READ_DATA);
        let rh = open(&mut fs, B, access::FILE_READ_DATA);
        assert_eq!(
            fs.request_oplock(r, L::Read, BreakAction::Wait).status,
            NtStatus::SUCCESS
        );
        assert_eq!(
            fs.request_oplock(rh, L::ReadHandle, BreakAction::Wait)
                .status,
            NtStatus::SUCCESS
        );
        let w = open(&mut fs, C, READ_WRITE);
        let out = fs.write(w, 0, b"x", false, 0);
        assert_eq!((out.status, out.wait), (NtStatus::SUCCESS, None));
        // R needs no acknowledgment; the advisory RH break does, without a wait.
        assert_eq!(
            fs.acknowledge(r, None).status,
            NtStatus::INVALID_OPLOCK_PROTOCOL
        );
        assert_eq!(fs.acknowledge(rh, None).status, NtStatus::SUCCESS);
    }

    #[test]
    fn complete_if_oplocked_goes_on_with_the_break_in_progress() {
        let mut fs = FileSystem::new();
        let a = open(&mut fs, A, READ_WRITE);
        let _ = fs.request_oplock(a, L::ReadWriteHandle, BreakAction::Wait);
        let request = CreateRequest {
            complete_if_oplocked: true,
            ..create_request(access::FILE_READ_DATA, share::FILE_SHARE_ALL)
        };
        let out = fs.create(&request, B);
        assert_eq!(
            (out.status, out.wait),
            (NtStatus::OPLOCK_BREAK_IN_PROGRESS, None)
        );
        assert!(out.file_object.is_some());
        assert_eq!(fs.acknowledge(a, None).status, NtStatus::SUCCESS);
        // Control: the same create when nothing breaks succeeds plainly.
        let again = fs.create(&request, B);
        assert_eq!(again.status, NtStatus::SUCCESS);
    }

    #[test]
    fn open_requiring_oplock_fails_rather_than_break() {
        let mut fs = FileSystem::new();
        let a = open(&mut fs, A, READ_WRITE);
        let _ = fs.request_oplock(a, L::ReadWriteHandle, BreakAction::Acknowledge);
        let request = CreateRequest {
            requiring_oplock: true,
            ..create_request(access::FILE_READ_DATA, share::FILE_SHARE_ALL)
        };
        let refused = fs.create(&request, B);
        assert_eq!(
            (refused.status, refused.file_object, refused.breaks.len()),
            (NtStatus::CANNOT_BREAK_OPLOCK, None, 0)
        );
        assert_eq!(holders(&fs), [(a, L::ReadWriteHandle)]);
        // Control: once nothing would break, the create succeeds and grants nothing itself.
        let _ = fs.close(a);
        let opened = fs.create(&request, B);
        assert_eq!(opened.status, NtStatus::SUCCESS);
        assert!(holders(&fs).is_empty());
    }

    #[test]
    fn closing_the_waiting_handle_cancels_its_wait() {
        let mut fs = FileSystem::new();
        let a = open(&mut fs, A, READ_WRITE);
        let _ = fs.request_oplock(a, L::ReadWrite, BreakAction::Wait);
        // The open does not wait for RW -> R; the write then meets the unacknowledged break
        // (MS-FSA 2.1.4.12) and waits for it.
        let request = CreateRequest {
            complete_if_oplocked: true,
            ..create_request(READ_WRITE, share::FILE_SHARE_ALL)
        };
        let opened = fs.create(&request, B);
        assert_eq!(opened.status, NtStatus::OPLOCK_BREAK_IN_PROGRESS);
        let w = opened.file_object.unwrap_or_else(|| panic!("{opened:?}"));
        let pended = fs.write(w, 0, b"x", false, 0);
        assert_eq!(pended.waiting_for, [a]);
        let wait = pended.wait.unwrap_or_else(|| panic!("{pended:?}"));
        assert_eq!(fs.close(w).aborted, [wait]);
        assert!(fs.close(a).resumed.is_empty());
    }

    #[test]
    fn closing_a_holder_releases_only_its_oplock() {
        let mut fs = FileSystem::new();
        let a = open(&mut fs, A, access::FILE_READ_DATA);
        let b = open(&mut fs, B, access::FILE_READ_DATA);
        assert_eq!(request(&mut fs, a, L::ReadHandle), NtStatus::SUCCESS);
        assert_eq!(request(&mut fs, b, L::Read), NtStatus::SUCCESS);
        assert_eq!(
            fs.stream("f").map(|s| s.oplock.level()),
            Some(L::ReadHandle)
        );
        let _ = fs.close(a);
        assert_eq!(holders(&fs), [(b, L::Read)]);
        assert_eq!(fs.stream("f").map(|s| s.oplock.level()), Some(L::Read));
    }
}
