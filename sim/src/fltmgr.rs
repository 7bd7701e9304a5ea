//! The sim's Filter Manager: one volume, one instance of ferrofilter's filter (core's
//! [`Filter`]) above the simulated [`FileSystem`], stream and stream-handle contexts, ECP lists
//! with a from-user-mode flag, and Filter Manager's side of `FSCTL_SET_PURGE_FAILURE_MODE`:
//! data-scan sections bracketed by ENABLED / DISABLED, and the retry of an operation the file
//! system answered `STATUS_USER_MAPPED_FILE` / `STATUS_PURGE_FAILED` after closing the section.
//!
//! The verifier is told when a filter modifies an ECP, touches an ECP list after its create
//! completed, attaches a system ECP to a create of its own, or issues
//! `FSCTL_SET_PURGE_FAILURE_MODE`, and when the filter's mirror of the count leaves the file
//! system's. Everything is deterministic: no randomness, one thread.

use std::collections::BTreeMap;

use ferrofilter_core::NtStatus;
use ferrofilter_core::control::{self, Dispatch};
use ferrofilter_core::ecp::{
    CreateAnomalies, EcpEntry, GUID_ECP_DUAL_OPLOCK_KEY, GUID_ECP_OPLOCK_KEY, HandleKeys,
};
use ferrofilter_core::guid::Guid;
use ferrofilter_core::minifilter::{
    Filter, FsctlRoute, HandleContext, KeySource, PurgeOutcome, StreamContext, StreamStatus,
};
use ferrofilter_core::oplock::{CreateParams, OplockLevel, access, share};
use ferrofilter_core::purge::{
    FSCTL_SET_PURGE_FAILURE_MODE, PurgeOp, PurgeRequestDecision, RequestorMode,
    SET_PURGE_FAILURE_MODE_DISABLED, SET_PURGE_FAILURE_MODE_ENABLED,
};

use crate::fs::{
    BreakAction, BreakEvent, CreateRequest, FileObjectId, FileSystem, FsOutcome, HeldIo, HeldKind,
    StreamKind,
};
use crate::verifier::{Verifier, Violation};

/// One extra create parameter as the I/O manager attaches it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimEcp {
    /// The ECP type.
    pub ecp_type: Guid,
    /// `FltIsEcpFromUserMode`.
    pub from_user_mode: bool,
    /// The context bytes.
    pub context: Vec<u8>,
}

/// A create as it arrives at the top of the stack.
#[derive(Clone, Debug)]
pub struct CreateArgs {
    /// Path.
    pub path: String,
    /// Access, share, disposition, options.
    pub params: CreateParams,
    /// What to create when the path does not exist.
    pub kind: StreamKind,
    /// The ECP list.
    pub ecps: Vec<SimEcp>,
}

/// A held or cancelled operation as a scenario reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settled {
    /// The held operation.
    pub io: HeldIo,
    /// What it completed with.
    pub status: NtStatus,
    /// `"file_system"` or `"filter"`: who held it.
    pub holder: &'static str,
}

/// What one operation observed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    /// Final status the caller sees.
    pub status: NtStatus,
    /// Oplock breaks.
    pub breaks: Vec<BreakEvent>,
    /// File objects closed by their owners in answer to a break.
    pub closed_by_break: Vec<FileObjectId>,
    /// Held operations re-issued because a window closed, in re-issue order.
    pub reissued: Vec<Settled>,
    /// Held operations completed with `STATUS_CANCELLED` by a cleanup or teardown.
    pub cancelled: Vec<Settled>,
    /// This operation was held.
    pub held: bool,
    /// Filter Manager closed its section and retried the operation this many times.
    pub retried: u32,
    /// The window status the file system answered before Filter Manager's retry.
    pub window_status: Option<NtStatus>,
    /// Bytes read.
    pub data: Vec<u8>,
    /// The file object a create made.
    pub file_object: Option<FileObjectId>,
    /// The keys the filter recorded for a create.
    pub keys: Option<HandleKeys>,
}

impl Observed {
    fn from_fs(fs: FsOutcome) -> Self {
        Self {
            status: fs.status,
            breaks: fs.breaks,
            closed_by_break: fs.closed,
            held: fs.held,
            data: fs.data,
            file_object: fs.file_object,
            cancelled: settle(fs.cancelled, NtStatus::CANCELLED, "file_system"),
            ..Self::default()
        }
    }

    /// Adds `other`'s breaks, closes, re-issued and cancelled operations to these.
    pub fn absorb(&mut self, other: Self) {
        self.breaks.extend(other.breaks);
        self.closed_by_break.extend(other.closed_by_break);
        self.reissued.extend(other.reissued);
        self.cancelled.extend(other.cancelled);
    }
}

fn settle(ios: Vec<HeldIo>, status: NtStatus, holder: &'static str) -> Vec<Settled> {
    ios.into_iter()
        .map(|io| Settled { io, status, holder })
        .collect()
}

/// Unique oplock keys for handles without one: `{ffffffff-0000-0000-0000-<counter>}`.
#[derive(Debug, Default)]
pub struct SimKeys(u64);

impl KeySource for SimKeys {
    fn unique_key(&mut self) -> Guid {
        self.0 += 1;
        let mut tail = [0u8; 8];
        tail.copy_from_slice(&self.0.to_be_bytes());
        Guid::from_fields(0xFFFF_FFFF, 0, 0, tail)
    }
}

/// A filter that misbehaves with the ECPs it is given, for negative controls.
pub type EcpTamper = Box<dyn FnMut(&mut [SimEcp]) + Send>;

/// Filter Manager, the filter instance, and the file system below.
pub struct FltMgr {
    fs: FileSystem,
    filter: Filter,
    attached: bool,
    handles: BTreeMap<FileObjectId, HandleContext>,
    handle_paths: BTreeMap<FileObjectId, String>,
    streams: BTreeMap<String, StreamContext<HeldIo>>,
    stream_ids: BTreeMap<String, u64>,
    /// Data-scan sections Filter Manager holds: (path, file object it was created through).
    sections: Vec<(String, FileObjectId)>,
    keys: SimKeys,
    verifier: Verifier,
    live_ecp_lists: BTreeMap<u64, Vec<SimEcp>>,
    next_ecp_list: u64,
    last_ecp_list: u64,
    tamper: Option<EcpTamper>,
    filter_fsctls: Vec<u32>,
}

impl Default for FltMgr {
    fn default() -> Self {
        Self::new()
    }
}

impl FltMgr {
    /// A volume with the filter attached; the verifier is not strict.
    #[must_use]
    pub fn new() -> Self {
        Self {
            fs: FileSystem::new(),
            filter: Filter::new(),
            attached: true,
            handles: BTreeMap::new(),
            handle_paths: BTreeMap::new(),
            streams: BTreeMap::new(),
            stream_ids: BTreeMap::new(),
            sections: Vec::new(),
            keys: SimKeys::default(),
            verifier: Verifier::new(false),
            live_ecp_lists: BTreeMap::new(),
            next_ecp_list: 0,
            last_ecp_list: 0,
            tamper: None,
            filter_fsctls: Vec::new(),
        }
    }

    /// The file system below.
    #[must_use]
    pub const fn fs(&self) -> &FileSystem {
        &self.fs
    }

    /// The filter.
    #[must_use]
    pub const fn filter(&self) -> &Filter {
        &self.filter
    }

    /// The verifier.
    #[must_use]
    pub const fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// The stream-handle context of a file object.
    #[must_use]
    pub fn handle_context(&self, file_object: FileObjectId) -> Option<&HandleContext> {
        self.handles.get(&file_object)
    }

    /// Every stream context: (opaque ID, path, status).
    #[must_use]
    pub fn stream_statuses(&self) -> Vec<(u64, String, StreamStatus)> {
        self.streams
            .iter()
            .map(|(path, ctx)| {
                let id = self.stream_ids.get(path).copied().unwrap_or(0);
                (id, path.clone(), ctx.status())
            })
            .collect()
    }

    /// The file system's count for `path`.
    #[must_use]
    pub fn fs_count(&self, path: &str) -> u32 {
        self.fs.stream(path).map_or(0, |s| s.purge.count())
    }

    /// Operations the file system holds on `path`.
    #[must_use]
    pub fn fs_held(&self, path: &str) -> usize {
        self.fs.stream(path).map_or(0, |s| s.purge.held_len())
    }

    /// The filter's mirrored count for `path`.
    #[must_use]
    pub fn mirror_count(&self, path: &str) -> u32 {
        self.streams.get(path).map_or(0, |s| s.purge().count())
    }

    /// Control codes of every FSCTL the filter issued itself.
    #[must_use]
    pub fn filter_issued_fsctls(&self) -> &[u32] {
        &self.filter_fsctls
    }

    /// The ECP list of the latest create (freed once that create completed).
    #[must_use]
    pub const fn last_ecp_list(&self) -> u64 {
        self.last_ecp_list
    }

    /// Negative control: install a filter that writes to the ECPs it is given.
    pub fn set_ecp_tamper(&mut self, tamper: Option<EcpTamper>) {
        self.tamper = tamper;
    }

    /// `FltGetNextExtraCreateParameter` on list `list`: the context of ECP `index`. Reports a
    /// use after free when the list's create has completed.
    pub fn read_ecp(&self, list: u64, index: usize) -> Option<Vec<u8>> {
        if let Some(ecps) = self.live_ecp_lists.get(&list) {
            ecps.get(index).map(|e| e.context.clone())
        } else {
            self.verifier.report(Violation::EcpUseAfterFree { list });
            None
        }
    }

    fn path_of(&self, file_object: FileObjectId) -> Option<String> {
        self.fs.open(file_object).map(|o| o.path.clone())
    }

    fn check_mirror(&self, path: &str) {
        if !self.attached {
            return;
        }
        let (file_system, mirror) = (self.fs_count(path), self.mirror_count(path));
        if file_system != mirror {
            self.verifier.report(Violation::MirrorDiverged {
                stream: path.to_owned(),
                file_system,
                mirror,
            });
        }
    }

    /// `IRP_MJ_CREATE` from above, through the filter.
    pub fn create(&mut self, args: &CreateArgs) -> Observed {
        self.next_ecp_list += 1;
        let list = self.next_ecp_list;
        self.last_ecp_list = list;
        self.live_ecp_lists.insert(list, args.ecps.clone());
        let keys = if self.attached {
            if let (Some(tamper), Some(ecps)) =
                (self.tamper.as_mut(), self.live_ecp_lists.get_mut(&list))
            {
                tamper(ecps);
            }
            let ecps = self.live_ecp_lists.get(&list).cloned().unwrap_or_default();
            let entries = ecps.iter().map(|e| EcpEntry {
                ecp_type: e.ecp_type,
                from_user_mode: e.from_user_mode,
                context: &e.context,
            });
            let keys = self.filter.pre_create(entries, &mut self.keys);
            for (index, (now, given)) in ecps.iter().zip(&args.ecps).enumerate() {
                if now != given {
                    self.verifier.report(Violation::EcpModified { list, index });
                }
            }
            keys
        } else {
            // No filter: the I/O manager gives the handle a key of its own.
            HandleKeys {
                target: self.keys.unique_key(),
                target_origin: ferrofilter_core::ecp::KeyOrigin::Unique,
                parent: None,
                anomalies: CreateAnomalies::default(),
            }
        };
        let request = CreateRequest {
            path: args.path.clone(),
            params: args.params,
            kind: args.kind,
        };
        let kind = PurgeOp::Create(args.params.disposition);
        let mut observed = self.below(&args.path, kind, |fs| fs.create(&request, keys.target));
        // The create is complete: its ECP list is freed.
        self.live_ecp_lists.remove(&list);
        if self.attached {
            if self.filter.pre_io(kind) {
                self.filter.post_io(observed.status);
            }
            if let Some(ctx) =
                self.filter
                    .post_create(keys, args.params.desired_access, observed.status)
                && let Some(file_object) = observed.file_object
            {
                self.handles.insert(file_object, ctx);
                self.handle_paths.insert(file_object, args.path.clone());
                let next_id = self.stream_ids.len() as u64 + 1;
                self.stream_ids
                    .entry(args.path.clone())
                    .or_insert(0x5354_0000 + next_id);
                self.streams
                    .entry(args.path.clone())
                    .or_default()
                    .on_handle_opened();
            }
            observed.keys = Some(keys);
        }
        self.after_break_closes(&mut observed);
        observed
    }

    /// Sends an operation to the file system; when it answers with a window status and Filter
    /// Manager holds a data-scan section on the stream, closes the section(s) and retries once.
    fn below(
        &mut self,
        path: &str,
        kind: PurgeOp,
        mut op: impl FnMut(&mut FileSystem) -> FsOutcome,
    ) -> Observed {
        let mut observed = Observed::from_fs(op(&mut self.fs));
        let window_answer = matches!(
            (kind, observed.status),
            (PurgeOp::Create(_), NtStatus::USER_MAPPED_FILE)
                | (
                    PurgeOp::Write { non_cached: true } | PurgeOp::SetInformation,
                    NtStatus::PURGE_FAILED
                )
        );
        let first_status = observed.status;
        if window_answer && self.sections.iter().any(|(p, _)| p == path) {
            let closing: Vec<FileObjectId> = self
                .sections
                .iter()
                .filter(|(p, _)| p == path)
                .map(|(_, fo)| *fo)
                .collect();
            for file_object in closing {
                let closed = self.close_section(file_object);
                observed.absorb(closed);
            }
            let retry = Observed::from_fs(op(&mut self.fs));
            observed.status = retry.status;
            observed.file_object = retry.file_object;
            observed.held = retry.held;
            observed.data.clone_from(&retry.data);
            observed.absorb(retry);
            observed.retried += 1;
            observed.window_status.get_or_insert(first_status);
        }
        observed
    }

    /// Closes breaks' closed handles on the filter's side too.
    fn after_break_closes(&mut self, observed: &mut Observed) {
        for file_object in observed.closed_by_break.clone() {
            let cancelled = self.filter_cleanup(file_object);
            observed.cancelled.extend(cancelled);
        }
    }

    fn filter_cleanup(&mut self, file_object: FileObjectId) -> Vec<Settled> {
        if self.handles.remove(&file_object).is_none() {
            return Vec::new();
        }
        match self.handle_paths.remove(&file_object) {
            Some(path) => self.cleanup_stream(&path, file_object),
            None => Vec::new(),
        }
    }

    fn cleanup_stream(&mut self, path: &str, file_object: FileObjectId) -> Vec<Settled> {
        let Some(stream) = self.streams.get_mut(path) else {
            return Vec::new();
        };
        let torn = self
            .filter
            .cleanup(stream, |held| held.file_object == file_object);
        settle(torn.ops.into_iter().collect(), torn.status, "filter")
    }

    /// Frees the stream context of `path` when nothing references the stream any more.
    fn maybe_free_stream(&mut self, path: &str) -> Vec<Settled> {
        let referenced = self.fs.opens_of(path) > 0
            || self.sections.iter().any(|(p, _)| p == path)
            || self
                .fs
                .stream(path)
                .is_some_and(|s| s.data_scan_sections + s.user_sections > 0);
        if referenced {
            return Vec::new();
        }
        match self.streams.remove(path) {
            Some(stream) => {
                let torn = self.filter.stream_teardown(stream);
                settle(torn.ops.into_iter().collect(), torn.status, "filter")
            }
            None => Vec::new(),
        }
    }

    /// `FSCTL_REQUEST_OPLOCK` from the handle's owner.
    pub fn request_oplock(
        &mut self,
        file_object: FileObjectId,
        level: OplockLevel,
        on_break: BreakAction,
    ) -> Observed {
        Observed::from_fs(self.fs.request_oplock(file_object, level, on_break))
    }

    /// `IRP_MJ_READ`.
    pub fn read(&mut self, file_object: FileObjectId, offset: u64, length: u32) -> Observed {
        let mut observed = Observed::from_fs(self.fs.read(file_object, offset, length));
        self.after_break_closes(&mut observed);
        observed
    }

    /// `IRP_MJ_WRITE`; `step` names it if it is held.
    pub fn write(
        &mut self,
        file_object: FileObjectId,
        offset: u64,
        data: &[u8],
        non_cached: bool,
        step: usize,
    ) -> Observed {
        let path = self.path_of(file_object).unwrap_or_default();
        let kind = PurgeOp::Write { non_cached };
        let mut observed = self.below(&path, kind, |fs| {
            fs.write(file_object, offset, data, non_cached, step)
        });
        if self.attached && self.filter.pre_io(kind) {
            self.filter.post_io(observed.status);
        }
        self.after_break_closes(&mut observed);
        observed
    }

    /// `IRP_MJ_SET_INFORMATION`; `resize` as [`FileSystem::set_information`].
    pub fn set_information(&mut self, file_object: FileObjectId, resize: Option<u64>) -> Observed {
        let path = self.path_of(file_object).unwrap_or_default();
        let mut observed = self.below(&path, PurgeOp::SetInformation, |fs| {
            fs.set_information(file_object, resize)
        });
        if self.attached {
            self.filter.post_io(observed.status);
        }
        self.after_break_closes(&mut observed);
        observed
    }

    /// An `FSCTL_SET_PURGE_FAILURE_MODE` sent by someone above the filter (Filter Manager, a
    /// kernel component, or a user-mode caller) on `file_object`, through the filter.
    pub fn set_purge_failure_mode(
        &mut self,
        file_object: FileObjectId,
        requestor: RequestorMode,
        input: &[u8],
    ) -> Observed {
        let route = if self.attached {
            self.filter.pre_fsctl(FSCTL_SET_PURGE_FAILURE_MODE, input)
        } else {
            FsctlRoute::PassThrough
        };
        let fs = self
            .fs
            .set_purge_failure_mode(file_object, requestor, input);
        let released = fs.released.clone();
        let mut observed = Observed::from_fs(fs);
        // The file system re-issues what it held, oldest first, before completing the FSCTL.
        for held in released {
            let again = self.fs.reissue(&held);
            observed.reissued.push(Settled {
                io: held,
                status: again.status,
                holder: "file_system",
            });
        }
        let path = self.path_of(file_object).unwrap_or_default();
        if let FsctlRoute::TrackSetPurgeFailureMode(saved) = route
            && let Some(stream) = self.streams.get_mut(&path)
        {
            let update = self.filter.post_fsctl(stream, &saved, observed.status);
            for held in update.reissue {
                let status = self.run_purge(&path, held.clone());
                observed.reissued.push(Settled {
                    io: held,
                    status: status.unwrap_or(NtStatus::PENDING),
                    holder: "filter",
                });
            }
        }
        self.check_mirror(&path);
        observed
    }

    /// Runs a purge request's flush + purge and applies the policy to its result; `None` when
    /// it was held (again).
    fn run_purge(&mut self, path: &str, held: HeldIo) -> Option<NtStatus> {
        let status = self.fs.flush_and_purge(held.file_object).status;
        let stream = self.streams.get_mut(path)?;
        match self.filter.purge_completed(stream, held, status) {
            PurgeOutcome::Completed { status, .. } => Some(status),
            PurgeOutcome::Held => None,
        }
    }

    /// Filter Manager creates a section for data scanning on the stream of `file_object`:
    /// ENABLED first (through the filter), then the section.
    pub fn begin_data_scan(&mut self, file_object: FileObjectId) -> Observed {
        let observed = self.set_purge_failure_mode(
            file_object,
            RequestorMode::Kernel,
            &SET_PURGE_FAILURE_MODE_ENABLED.to_le_bytes(),
        );
        if !observed.status.is_success() {
            return observed;
        }
        let Some(path) = self.path_of(file_object) else {
            return observed;
        };
        match self.fs.map_section(file_object, true, true) {
            Ok(()) => self.sections.push((path, file_object)),
            Err(status) => {
                let mut failed = observed;
                failed.status = status;
                return failed;
            }
        }
        observed
    }

    fn close_section(&mut self, file_object: FileObjectId) -> Observed {
        let Some(at) = self.sections.iter().position(|(_, fo)| *fo == file_object) else {
            return Observed {
                status: NtStatus::NOT_FOUND,
                ..Observed::default()
            };
        };
        self.sections.remove(at);
        // Unmapping cannot fail: the section was mapped through this file object.
        let _ = self.fs.map_section(file_object, true, false);
        self.set_purge_failure_mode(
            file_object,
            RequestorMode::Kernel,
            &SET_PURGE_FAILURE_MODE_DISABLED.to_le_bytes(),
        )
    }

    /// Filter Manager closes the data-scan section it created through `file_object`, then sends
    /// DISABLED. `STATUS_NOT_FOUND` when there is none (e.g. a retry already closed it).
    pub fn end_data_scan(&mut self, file_object: FileObjectId) -> Observed {
        self.close_section(file_object)
    }

    /// Maps (`true`) or unmaps a user section of the stream.
    pub fn user_section(&mut self, file_object: FileObjectId, map: bool) -> Observed {
        Observed {
            status: match self.fs.map_section(file_object, false, map) {
                Ok(()) => NtStatus::SUCCESS,
                Err(status) => status,
            },
            ..Observed::default()
        }
    }

    /// The control device's purge request for `file_object`: held while the window is open,
    /// otherwise flushed and purged now through the caller's file object.
    pub fn purge_request(&mut self, file_object: FileObjectId, step: usize) -> Observed {
        let Some(path) = self.path_of(file_object) else {
            return status_only(NtStatus::INVALID_HANDLE);
        };
        if !self.attached || !self.handles.contains_key(&file_object) {
            return status_only(NtStatus::NOT_FOUND);
        }
        let id = self.fs.next_held_id();
        let held = HeldIo {
            id,
            file_object,
            step,
            kind: HeldKind::PurgeRequest,
        };
        let Some(stream) = self.streams.get_mut(&path) else {
            return status_only(NtStatus::NOT_FOUND);
        };
        match self.filter.purge_request(stream, held) {
            PurgeRequestDecision::Held => Observed {
                status: NtStatus::PENDING,
                held: true,
                ..Observed::default()
            },
            PurgeRequestDecision::Proceed(held) => match self.run_purge(&path, held) {
                Some(status) => status_only(status),
                None => Observed {
                    status: NtStatus::PENDING,
                    held: true,
                    ..Observed::default()
                },
            },
        }
    }

    /// The filter reads `length` bytes on behalf of `file_object`, through that file object.
    pub fn inspect(&mut self, file_object: FileObjectId, offset: u64, length: u32) -> Observed {
        let Some(ctx) = self.handles.get(&file_object).copied() else {
            return status_only(NtStatus::NOT_FOUND);
        };
        match self.filter.inspect(&ctx, offset, length) {
            Ok(plan) => self.read(file_object, plan.offset, plan.length),
            Err(status) => status_only(status),
        }
    }

    /// Negative control of [`FltMgr::inspect`]: the read goes through a new handle the filter
    /// opens itself (with no ECP, as it must), so it has a key of its own and breaks the caller's
    /// oplock where the rules say a different key breaks.
    pub fn inspect_new_handle(
        &mut self,
        file_object: FileObjectId,
        offset: u64,
        length: u32,
    ) -> Observed {
        let Some(path) = self.path_of(file_object) else {
            return status_only(NtStatus::INVALID_HANDLE);
        };
        let mut observed = self.filter_create(
            &path,
            CreateParams::open(access::FILE_READ_DATA, share::FILE_SHARE_ALL),
            &[],
        );
        let Some(own) = observed.file_object.take() else {
            return observed;
        };
        let read = self.fs.read(own, offset, length);
        observed.status = read.status;
        observed.data.clone_from(&read.data);
        observed.absorb(Observed::from_fs(read));
        let _ = self.fs.close(own);
        self.after_break_closes(&mut observed);
        observed
    }

    /// A create the filter issues itself (`FltCreateFileEx2`): it goes below the filter, and must
    /// not carry a system ECP.
    pub fn filter_create(&mut self, path: &str, params: CreateParams, ecps: &[SimEcp]) -> Observed {
        let mut key = None;
        for ecp in ecps {
            if ecp.ecp_type == GUID_ECP_OPLOCK_KEY || ecp.ecp_type == GUID_ECP_DUAL_OPLOCK_KEY {
                self.verifier.report(Violation::SystemEcpOnFilterCreate {
                    ecp_type: ecp.ecp_type.to_string(),
                });
                // What the file system below would do with it: honour the key.
                let entries = [EcpEntry {
                    ecp_type: ecp.ecp_type,
                    from_user_mode: false,
                    context: &ecp.context,
                }];
                let resolved =
                    ferrofilter_core::ecp::resolve_create_keys(entries, || self.keys.unique_key());
                key = Some(resolved.target);
            }
        }
        let key = key.unwrap_or_else(|| self.keys.unique_key());
        let request = CreateRequest {
            path: path.to_owned(),
            params,
            kind: StreamKind::File,
        };
        Observed::from_fs(self.fs.create(&request, key))
    }

    /// An FSCTL the filter issues itself. Only for negative controls: no path of the filter
    /// calls it, and `FSCTL_SET_PURGE_FAILURE_MODE` is reported as a violation.
    pub fn filter_issue_fsctl(
        &mut self,
        file_object: FileObjectId,
        code: u32,
        input: &[u8],
    ) -> Observed {
        self.filter_fsctls.push(code);
        if code == FSCTL_SET_PURGE_FAILURE_MODE {
            self.verifier
                .report(Violation::FilterIssuedPurgeFailureMode);
            let observed = Observed::from_fs(self.fs.set_purge_failure_mode(
                file_object,
                RequestorMode::Kernel,
                input,
            ));
            // Sent below the filter, so the mirror never sees it.
            if let Some(path) = self.path_of(file_object) {
                self.check_mirror(&path);
            }
            return observed;
        }
        status_only(NtStatus::INVALID_DEVICE_REQUEST)
    }

    /// `IRP_MJ_CLEANUP` + `IRP_MJ_CLOSE` of a handle.
    pub fn close(&mut self, file_object: FileObjectId) -> Observed {
        let path = self.path_of(file_object);
        let mut observed = Observed::from_fs(self.fs.close(file_object));
        if let Some(path) = path {
            if self.attached {
                let cancelled = self.filter_cleanup(file_object);
                observed.cancelled.extend(cancelled);
            }
            if self.attached {
                let freed = self.maybe_free_stream(&path);
                observed.cancelled.extend(freed);
            }
        }
        observed
    }

    /// Instance teardown: every stream context is freed; operations the filter held complete
    /// with `STATUS_CANCELLED`. Later operations bypass the filter.
    pub fn detach(&mut self) -> Observed {
        let mut observed = status_only(NtStatus::SUCCESS);
        for (_, stream) in std::mem::take(&mut self.streams) {
            let torn = self.filter.stream_teardown(stream);
            observed.cancelled.extend(settle(
                torn.ops.into_iter().collect(),
                torn.status,
                "filter",
            ));
        }
        self.handles.clear();
        self.handle_paths.clear();
        self.attached = false;
        observed
    }
}

impl FltMgr {
    /// Serves the filter's control-device requests that [`control::dispatch`] handed back:
    /// [`Dispatch::QueryKeys`], [`Dispatch::PurgeRequest`], [`Dispatch::PurgeStatus`] and
    /// [`Dispatch::FilterStats`]. `resolve` plays `ObReferenceObjectByHandle` on the caller's
    /// handle table (a user handle value to a file object); `step` names a purge request if it is
    /// held. Returns the completion status and the bytes written, or `None` for any other
    /// variant (not the filter's).
    pub fn serve_ioctl(
        &mut self,
        decision: Dispatch<'_>,
        resolve: impl Fn(u64) -> Option<FileObjectId>,
        step: usize,
        output: &mut [u8],
    ) -> Option<(NtStatus, usize)> {
        let answer = match decision {
            Dispatch::QueryKeys { handle } => {
                let context = resolve(handle)
                    .ok_or(NtStatus::INVALID_HANDLE)
                    .and_then(|fo| self.handle_context(fo).ok_or(NtStatus::NOT_FOUND));
                control::answer_query_keys(context, output)
            }
            Dispatch::PurgeRequest { handle } => {
                let answer = match resolve(handle) {
                    None => Err(NtStatus::INVALID_HANDLE),
                    Some(fo) => {
                        let observed = self.purge_request(fo, step);
                        if observed.status == NtStatus::INVALID_HANDLE
                            || observed.status == NtStatus::NOT_FOUND
                        {
                            Err(observed.status)
                        } else {
                            let path = self.path_of(fo).unwrap_or_default();
                            let stream = self
                                .streams
                                .get(&path)
                                .map(StreamContext::status)
                                .unwrap_or_default();
                            Ok(control::PurgeAnswer {
                                held: observed.held,
                                status: observed.status,
                                stream,
                            })
                        }
                    }
                };
                control::answer_purge_request(answer, output)
            }
            Dispatch::PurgeStatus => {
                let rows: Vec<(u64, StreamStatus)> = self
                    .stream_statuses()
                    .into_iter()
                    .map(|(id, _, status)| (id, status))
                    .collect();
                control::answer_purge_status(self.filter.counters(), rows, output)
            }
            Dispatch::FilterStats => control::answer_filter_stats(self.filter.counters(), output),
            _ => return None,
        };
        match answer {
            Dispatch::Complete {
                status,
                information,
            } => Some((status, information)),
            _ => Some((NtStatus::INVALID_DEVICE_REQUEST, 0)),
        }
    }
}

fn status_only(status: NtStatus) -> Observed {
    Observed {
        status,
        ..Observed::default()
    }
}
