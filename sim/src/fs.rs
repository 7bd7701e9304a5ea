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
use ferrofilter_model::oplock::{Ack, CreateParams, OplockLevel, access};

use crate::byte_range_locks::ByteRangeLocks;
use crate::purge_mode::PurgeMode;

mod breaks;
mod create;
mod holders;
mod io;
mod lifetime;
mod lock_control;
#[cfg(test)]
mod tests;

use holders::Wait;
pub use holders::{OplockHolder, StreamOplocks};

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

/// The range an unlock (`IRP_MN_UNLOCK_SINGLE`) names, as `NtUnlockFile` / `UnlockFileEx` give it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnlockRange {
    /// First byte.
    pub offset: u64,
    /// Bytes.
    pub length: u64,
    /// The lock key.
    pub key: u32,
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
    pub(super) fn lookup(
        &mut self,
        file_object: FileObjectId,
    ) -> Result<(Open, &mut Stream), NtStatus> {
        if self.opens.get(&file_object).is_some_and(|o| o.cleaned) {
            return Err(NtStatus::FILE_CLOSED);
        }
        self.lookup_any(file_object)
    }

    /// Any open the file object still has, cleaned up or not: what kernel requests need.
    pub(super) fn lookup_any(
        &mut self,
        file_object: FileObjectId,
    ) -> Result<(Open, &mut Stream), NtStatus> {
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

    /// The rest of an operation through `file_object` that waited for oplock acknowledgments,
    /// on its stream as it is now (a rename may have moved it).
    pub(super) fn resume(
        &mut self,
        file_object: FileObjectId,
        rest: impl FnOnce(&mut Self, &str) -> FsOutcome,
    ) -> FsOutcome {
        match self.lookup(file_object) {
            Ok((open, _)) => rest(self, &open.path),
            Err(status) => FsOutcome::status(status),
        }
    }
}
