//! A simulated file system below the filter: streams with data, a cache, mapped sections, one
//! oplock and share access each (core's [`StreamOplock`]), and the authoritative purge-failure-mode
//! count with its held operations (core's [`PurgeStream`]).
//!
//! What needs a purge of a stream's cache, and when that purge fails, is the sim's model:
//! - A purge fails while any section of the stream is mapped (a data-scan section from Filter
//!   Manager or a user mapping); the file system's own failure is `STATUS_USER_MAPPED_FILE`.
//! - A destructive create (supersede / overwrite / overwrite-if), a non-cached write and a
//!   set-information of `EndOfFile` / `Allocation` purge.
//! - A cached write purges while a data-scan section is mapped (the sim's stand-in for the page's
//!   "e.g. a cached write"), so the window holds it.
//!
//! The policy applied to a failed purge is core's [`PurgeStream::on_purge_failure`]; the count is
//! changed by [`PurgeStream::set_mode`] after core's fastfat-order validation.

use std::collections::BTreeMap;

use ferrofilter_core::NtStatus;
use ferrofilter_core::guid::Guid;
use ferrofilter_core::oplock::{
    Ack, BreakDecision, CreateParams, Operation, OplockLevel, StreamOplock, access,
};
use ferrofilter_core::purge::{
    FailureResponse, OpenKind, PurgeOp, PurgeStream, RequestorMode, validate_set_purge_failure_mode,
};

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
    /// Oplock and share access.
    pub oplock: StreamOplock,
    /// The file object the oplock was granted on.
    pub oplock_owner: Option<FileObjectId>,
    /// What that owner does on a break.
    pub on_break: BreakAction,
    /// The authoritative purge-failure-mode count and the operations held by the file system.
    pub purge: PurgeStream<HeldIo>,
    /// Successful purges of the cache.
    pub purges: u64,
}

impl Stream {
    fn new(kind: StreamKind) -> Self {
        Self {
            kind,
            data: Vec::new(),
            cached: false,
            data_scan_sections: 0,
            user_sections: 0,
            oplock: StreamOplock::new(),
            oplock_owner: None,
            on_break: BreakAction::Acknowledge,
            purge: PurgeStream::new(),
            purges: 0,
        }
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
}

/// The file system.
#[derive(Debug, Default)]
pub struct FileSystem {
    streams: BTreeMap<String, Stream>,
    opens: BTreeMap<FileObjectId, Open>,
    next_file_object: FileObjectId,
    next_held: u64,
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
        self.opens.values().filter(|o| o.path == path).count()
    }

    /// A new held-operation number.
    pub fn next_held_id(&mut self) -> u64 {
        self.next_held += 1;
        self.next_held
    }

    fn lookup(&mut self, file_object: FileObjectId) -> Result<(Open, &mut Stream), NtStatus> {
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

    /// Decides and applies what `op` by `key` does to `path`'s oplock; closes the owner's handle
    /// when it answers breaks by closing.
    fn check_oplock(&mut self, path: &str, key: Guid, op: &Operation, out: &mut FsOutcome) {
        let Some(stream) = self.streams.get_mut(path) else {
            return;
        };
        let decision = stream.oplock.decide(key, op);
        let BreakDecision::Break { from, to, ack } = decision else {
            return;
        };
        stream.oplock.apply(decision);
        let Some(owner) = stream.oplock_owner else {
            return;
        };
        if to == OplockLevel::None {
            stream.oplock_owner = None;
        }
        let close = stream.on_break == BreakAction::Close && ack != Ack::NotRequired;
        out.breaks.push(BreakEvent {
            file_object: owner,
            from,
            to,
            ack,
            owner_closed: close,
        });
        if close {
            let closed = self.close(owner);
            out.cancelled.extend(closed.cancelled);
            out.closed.push(owner);
        }
    }

    /// `IRP_MJ_CREATE`, with the handle's oplock key.
    pub fn create(&mut self, request: &CreateRequest, key: Guid) -> FsOutcome {
        use ferrofilter_core::oplock::CreateDisposition as D;
        let params = request.params;
        let mut out = FsOutcome::default();
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
                self.check_oplock(&request.path, key, &Operation::Create(params), &mut out);
            }
        }
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
                    FailureResponse::Fail { status, .. }
                    | FailureResponse::Unchanged { status, .. } => status,
                    // Not a policy outcome for a destructive create; kept total.
                    FailureResponse::Held => NtStatus::PENDING,
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
            },
        );
        out.file_object = Some(file_object);
        out.status = NtStatus::SUCCESS;
        out
    }

    /// `FSCTL_REQUEST_OPLOCK` for `level` on `file_object`.
    pub fn request_oplock(
        &mut self,
        file_object: FileObjectId,
        level: OplockLevel,
        on_break: BreakAction,
    ) -> FsOutcome {
        let (open, stream) = match self.lookup(file_object) {
            Ok(found) => found,
            Err(status) => return FsOutcome::status(status),
        };
        match stream.oplock.request(open.key, level) {
            Ok(()) => {
                stream.oplock_owner = Some(file_object);
                stream.on_break = on_break;
                FsOutcome::status(NtStatus::SUCCESS)
            }
            Err(error) => FsOutcome::status(error.status()),
        }
    }

    /// `IRP_MJ_READ` (cached) through `file_object`.
    pub fn read(&mut self, file_object: FileObjectId, offset: u64, length: u32) -> FsOutcome {
        let mut out = FsOutcome::default();
        let path = match self.lookup(file_object) {
            Ok((open, _)) if open.access & (access::FILE_READ_DATA | access::FILE_EXECUTE) == 0 => {
                return FsOutcome::status(NtStatus::ACCESS_DENIED);
            }
            Ok((open, _)) => {
                self.check_oplock(&open.path, open.key, &Operation::Read, &mut out);
                open.path
            }
            Err(status) => return FsOutcome::status(status),
        };
        let Some(stream) = self.streams.get_mut(&path) else {
            return FsOutcome::status(NtStatus::FILE_CLOSED);
        };
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
        self.check_oplock(
            &open.path,
            open.key,
            &Operation::Write { paging: false },
            &mut out,
        );
        let id = self.next_held_id();
        let Some(stream) = self.streams.get_mut(&open.path) else {
            return FsOutcome::status(NtStatus::FILE_CLOSED);
        };
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
                FailureResponse::Held => {
                    out.held = true;
                    out.status = NtStatus::PENDING;
                }
                FailureResponse::Fail { status, .. }
                | FailureResponse::Unchanged { status, .. } => {
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
        self.check_oplock(
            &open.path,
            open.key,
            &Operation::Write { paging: false },
            &mut out,
        );
        let Some(stream) = self.streams.get_mut(&open.path) else {
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
                    FailureResponse::Fail { status, .. }
                    | FailureResponse::Unchanged { status, .. } => status,
                    FailureResponse::Held => NtStatus::PENDING,
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
        let (_, stream) = match self.lookup(file_object) {
            Ok(found) => found,
            Err(status) => return FsOutcome::status(status),
        };
        let kind = match stream.kind {
            StreamKind::File => OpenKind::UserFile,
            StreamKind::Directory => OpenKind::UserDirectory,
            StreamKind::Volume => OpenKind::Other,
        };
        let change = match validate_set_purge_failure_mode(requestor, kind, input) {
            Ok(change) => change,
            Err(status) => return FsOutcome::status(status),
        };
        match stream.purge.set_mode(change) {
            Ok(update) => FsOutcome {
                status: NtStatus::SUCCESS,
                released: update.reissue.into_iter().collect(),
                ..FsOutcome::default()
            },
            Err(status) => FsOutcome::status(status),
        }
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
        let (_, stream) = self.lookup(file_object)?;
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
        let Some(open) = self.opens.remove(&file_object) else {
            return FsOutcome::status(NtStatus::INVALID_HANDLE);
        };
        let mut out = FsOutcome::status(NtStatus::SUCCESS);
        if let Some(stream) = self.streams.get_mut(&open.path) {
            stream.oplock.share.close(open.access, open.share);
            if stream.oplock_owner == Some(file_object) {
                stream.oplock.release(open.key);
                stream.oplock_owner = None;
            }
            out.cancelled = stream
                .purge
                .cancel_where(|held| held.file_object == file_object)
                .into_iter()
                .collect();
        }
        out
    }
}
