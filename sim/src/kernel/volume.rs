//! The simulated volume under Filter Manager: operations from above (`IRP_MJ_CREATE`,
//! `IRP_MJ_CLEANUP` / `IRP_MJ_CLOSE`, `IRP_MJ_WRITE`, `IRP_MJ_SET_INFORMATION`,
//! `FSCTL_SET_PURGE_FAILURE_MODE`) built as Filter Manager builds them — a `FILE_OBJECT`, an
//! `FLT_CALLBACK_DATA` with its parameter block, the create's ECP list — and passed through the
//! filter's registered pre- and post-operation callbacks to the sim's file system
//! ([`crate::fs::FileSystem`]) and back. The file system decides from the ECPs itself which
//! oplock key a handle has, as NTFS does; the filter only reads them.

use core::ffi::c_void;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use ferrofilter_core::NtStatus;
use ferrofilter_core::guid::Guid;
use ferrofilter_model::fastfat::RequestorMode;

use super::flt::{Attached, Ecp, FilterManager};
use super::layout::{
    ACCESS_STATE, FLT_CALLBACK_DATA, FLT_CREATE_PARAMETERS, FLT_FSCTL_BUFFERED_PARAMETERS,
    FLT_IO_PARAMETER_BLOCK, FLT_PARAMETERS, FLT_SET_INFORMATION_PARAMETERS, FLT_WRITE_PARAMETERS,
    GUID, IO_SECURITY_CONTEXT, IO_STATUS_BLOCK,
};
use super::machine::related_objects;
use super::nt::{FileKind, map_generic};
use super::{Violation, with};
use crate::fs::{
    BreakAction, CreateRequest, FileObjectId, FileSystem, FsOutcome, HeldIo, HeldKind, StreamKind,
};
use ferrofilter_model::oplock::{CreateParams, OplockLevel, access, share};

mod lock_control;
pub use lock_control::{lock, unlock};

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

/// Create options beyond [`CreateArgs`]'s, which [`create_with`] passes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CreateOptions {
    /// `FILE_DELETE_ON_CLOSE`.
    pub delete_on_close: bool,
    /// `FILE_OPEN_REQUIRING_OPLOCK`.
    pub requiring_oplock: bool,
    /// `FILE_COMPLETE_IF_OPLOCKED`.
    pub complete_if_oplocked: bool,
}

/// `FILE_OPEN_REQUIRING_OPLOCK`.
const FILE_OPEN_REQUIRING_OPLOCK: u32 = 0x0001_0000;
/// `FILE_COMPLETE_IF_OPLOCKED`.
const FILE_COMPLETE_IF_OPLOCKED: u32 = 0x0000_0100;
/// `REQUEST_OPLOCK_INPUT_FLAG_ACK`.
const REQUEST_OPLOCK_INPUT_FLAG_ACK: u32 = 0x2;
/// `REQUEST_OPLOCK_CURRENT_VERSION`.
const REQUEST_OPLOCK_CURRENT_VERSION: u16 = 1;

/// The rest of an operation an oplock break pended: called with `true` when the operation is
/// cancelled instead (its caller's handle closed).
type Continuation = Box<dyn FnOnce(bool) -> Completed>;

thread_local! {
    /// Pended operations by the file system's wait number. Kept outside the kernel's state as
    /// they own the operation's callback data, which the driver's callbacks point into.
    static PENDED: RefCell<BTreeMap<u64, Continuation>> = const { RefCell::new(BTreeMap::new()) };
}

fn pend(wait: u64, rest: Continuation) {
    PENDED.with(|pended| pended.borrow_mut().insert(wait, rest));
}

/// Drops the operations a previous machine left pended on this thread.
pub fn forget_pended() {
    let left = PENDED.with(|pended| std::mem::take(&mut *pended.borrow_mut()));
    drop(left);
}

/// Runs the rest of each pended operation in `waits` (or cancels it). One that pends again (a
/// lock request that, its oplock acknowledged, waits for its range) is not done yet.
fn run_pended(waits: &[u64], cancelled: bool) -> Vec<Resumed> {
    waits
        .iter()
        .filter_map(|&wait| {
            let rest = PENDED.with(|pended| pended.borrow_mut().remove(&wait))?;
            Some(Resumed {
                wait,
                done: rest(cancelled),
            })
        })
        .filter(|resumed| resumed.done.status != NtStatus::PENDING.as_i32())
        .collect()
}

/// `IRP_MJ_CREATE`.
const IRP_MJ_CREATE: u8 = 0x00;
/// `IRP_MJ_WRITE`.
const IRP_MJ_WRITE: u8 = 0x04;
/// `IRP_MJ_SET_INFORMATION`.
const IRP_MJ_SET_INFORMATION: u8 = 0x06;
/// `IRP_MJ_FILE_SYSTEM_CONTROL`.
const IRP_MJ_FILE_SYSTEM_CONTROL: u8 = 0x0D;
/// `IRP_MJ_CLEANUP`.
const IRP_MJ_CLEANUP: u8 = 0x12;
/// `IRP_MN_USER_FS_REQUEST`.
const IRP_MN_USER_FS_REQUEST: u8 = 0x00;
/// `IRP_MN_KERNEL_CALL`.
const IRP_MN_KERNEL_CALL: u8 = 0x04;
/// `IRP_NOCACHE`.
const IRP_NOCACHE: u32 = 0x0000_0001;
/// `IRP_PAGING_IO`.
const IRP_PAGING_IO: u32 = 0x0000_0002;
/// `FSCTL_SET_PURGE_FAILURE_MODE`.
const FSCTL_SET_PURGE_FAILURE_MODE: u32 = 0x0009_0270;
/// `FSCTL_REQUEST_OPLOCK`: `CTL_CODE(FILE_DEVICE_FILE_SYSTEM, 144, METHOD_BUFFERED, FILE_ANY_ACCESS)`.
const FSCTL_REQUEST_OPLOCK: u32 = 0x0009_0240;
/// `SET_PURGE_FAILURE_MODE_ENABLED`.
const SET_PURGE_FAILURE_MODE_ENABLED: u32 = 1;
/// `SET_PURGE_FAILURE_MODE_DISABLED`.
const SET_PURGE_FAILURE_MODE_DISABLED: u32 = 2;
/// `FileEndOfFileInformation`.
const FILE_END_OF_FILE_INFORMATION: u32 = 20;
/// `FileBasicInformation`.
const FILE_BASIC_INFORMATION: u32 = 4;
/// `FileRenameInformation`.
const FILE_RENAME_INFORMATION: u32 = 10;
/// `FileDispositionInformation`.
const FILE_DISPOSITION_INFORMATION: u32 = 13;
/// `FILE_DELETE_ON_CLOSE`.
const FILE_DELETE_ON_CLOSE: u32 = 0x0000_1000;
/// `MAXIMUM_ALLOWED`.
const MAXIMUM_ALLOWED: u32 = 0x0200_0000;
/// `FILE_ALL_ACCESS`.
const FILE_ALL_ACCESS: u32 = 0x001F_01FF;

/// `FLT_PREOP_SUCCESS_WITH_CALLBACK`.
const PREOP_SUCCESS_WITH_CALLBACK: i32 = 0;
/// `FLT_PREOP_SUCCESS_NO_CALLBACK`.
const PREOP_SUCCESS_NO_CALLBACK: i32 = 1;
/// `FLT_PREOP_COMPLETE`.
const PREOP_COMPLETE: i32 = 4;

/// The volume's side of the kernel: the file system and which file object is which open.
#[derive(Default)]
pub struct Volume {
    /// The file system below the filter.
    pub fs: FileSystem,
    /// File objects of the volume by the file system's open.
    pub file_of: HashMap<FileObjectId, usize>,
    /// The open of each file object.
    pub open_of: HashMap<usize, FileObjectId>,
    stream_keys: HashMap<String, u64>,
    next_unique: u64,
    /// What the filter's own flushes did in the file system.
    pub flushed: Vec<(FileObjectId, FsOutcome)>,
    /// Data-scan sections Filter Manager holds: the stream's path and the file object it
    /// created the section through.
    pub sections: Vec<(String, usize)>,
    /// The path of each file object of the volume, for as long as the file object lives.
    pub path_of: HashMap<usize, String>,
    /// Streams that have a stream context, in the order the filter attached them.
    context_order: Vec<u64>,
}

impl Volume {
    fn stream_key(&mut self, path: &str) -> u64 {
        let next = self.stream_keys.len() as u64 + 1;
        *self.stream_keys.entry(path.to_owned()).or_insert(next)
    }

    fn unique_key(&mut self) -> Guid {
        self.next_unique += 1;
        Guid::from_fields(0xFFFF_FFFF, 0, 0, self.next_unique.to_be_bytes())
    }

    /// The paths of the streams that have a stream context, oldest context first.
    #[must_use]
    pub fn streams_with_context(&self) -> Vec<String> {
        self.context_order
            .iter()
            .filter_map(|key| {
                self.stream_keys
                    .iter()
                    .find(|(_, k)| *k == key)
                    .map(|(path, _)| path.clone())
            })
            .collect()
    }
}

/// Brings [`Volume::streams_with_context`] up to date with the contexts Filter Manager holds.
fn note_stream_contexts(k: &mut super::Kernel) {
    let live = &k.flt.stream_contexts;
    k.volume.context_order.retain(|key| live.contains_key(key));
    let mut new: Vec<u64> = live
        .keys()
        .filter(|key| !k.volume.context_order.contains(key))
        .copied()
        .collect();
    new.sort_unstable();
    k.volume.context_order.extend(new);
}

/// What one operation from above returned.
#[derive(Debug, Default)]
pub struct Completed {
    /// The status the caller sees.
    pub status: i32,
    /// For a create: the caller's handle value.
    pub handle: Option<u64>,
    /// For a create: the file system's open.
    pub file: Option<FileObjectId>,
    /// What the file system did, with what the operations Filter Manager sent on its behalf
    /// (closing data-scan sections) and the owners' closes in answer to breaks did.
    pub outcome: Option<FsOutcome>,
    /// Filter Manager closed its data-scan sections and retried the operation this many times.
    pub retried: u32,
    /// The window status the file system answered before that retry.
    pub window_status: Option<NtStatus>,
    /// Operations the file system held and re-issued when a window closed, in order, with what
    /// each came to.
    pub reissued: Vec<(HeldIo, NtStatus)>,
    /// Operations an oplock break had pended that this one let go on (or cancelled), in order.
    pub resumed: Vec<Resumed>,
}

/// A pended operation that completed.
#[derive(Debug)]
pub struct Resumed {
    /// The file system's wait number ([`FsOutcome::wait`] of the operation when it pended).
    pub wait: u64,
    /// What it came to.
    pub done: Completed,
}

impl Completed {
    /// Adds what `other` (an operation sent on this one's behalf) did.
    fn absorb(&mut self, other: Self) {
        if let (Some(mine), Some(theirs)) = (self.outcome.as_mut(), other.outcome) {
            mine.breaks.extend(theirs.breaks);
            mine.closed.extend(theirs.closed);
            mine.cancelled.extend(theirs.cancelled);
        }
        self.reissued.extend(other.reissued);
        self.resumed.extend(other.resumed);
    }
}

fn to_guid(guid: Guid) -> GUID {
    let b = guid.to_le_bytes();
    GUID {
        Data1: u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        Data2: u16::from_le_bytes([b[4], b[5]]),
        Data3: u16::from_le_bytes([b[6], b[7]]),
        Data4: [b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]],
    }
}

/// The oplock keys the file system honours for a create, from the ECPs as attached (what
/// `FsRtlOplock*` reads itself): the I/O manager's own key when none is valid.
fn file_system_key(volume: &mut Volume, args: &CreateArgs) -> Guid {
    let entries = args.ecps.iter().map(|ecp| ferrofilter_core::ecp::EcpEntry {
        ecp_type: ecp.ecp_type,
        from_user_mode: ecp.from_user_mode,
        context: &ecp.context,
    });
    let unique = volume.unique_key();
    ferrofilter_core::ecp::resolve_create_keys(entries, || unique).target
}

/// Which answers of the file system mean "a purge-failure window is open": the operations
/// Filter Manager answers by closing its data-scan sections and retrying (REFERENCE §5).
#[derive(Clone, Copy)]
enum Window {
    /// A create: `STATUS_USER_MAPPED_FILE`.
    Create,
    /// A non-cached write or a set-information: `STATUS_PURGE_FAILED`.
    Purge,
    /// An operation no window affects.
    None,
}

impl Window {
    fn says_open(self, status: NtStatus) -> bool {
        match self {
            Self::Create => status == NtStatus::USER_MAPPED_FILE,
            Self::Purge => status == NtStatus::PURGE_FAILED,
            Self::None => false,
        }
    }
}

/// The file system's answer, unless the filter completed the operation in its pre-operation
/// callback. When the file system answers that a window is open on `path` and Filter Manager
/// holds data-scan sections of it, Filter Manager closes them (unmap, then DISABLED through the
/// filter) and retries once; `done` gets what that did.
fn below(
    completed: Option<i32>,
    path: &str,
    window: Window,
    done: &mut Completed,
    mut op: impl FnMut(&mut FileSystem) -> FsOutcome,
) -> FsOutcome {
    if let Some(status) = completed {
        return FsOutcome {
            status: NtStatus::from_i32(status),
            ..FsOutcome::default()
        };
    }
    let first = with(|k| op(&mut k.volume.fs));
    if !window.says_open(first.status) {
        return first;
    }
    let sections: Vec<usize> = with(|k| {
        k.volume
            .sections
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, file)| *file)
            .collect()
    });
    if sections.is_empty() {
        return first;
    }
    let mut merged = Completed {
        outcome: Some(first.clone()),
        ..Completed::default()
    };
    for file in sections {
        merged.absorb(close_section(file));
    }
    let mut retry = with(|k| op(&mut k.volume.fs));
    if let Some(earlier) = merged.outcome {
        retry.breaks.splice(0..0, earlier.breaks);
        retry.closed.splice(0..0, earlier.closed);
        retry.cancelled.splice(0..0, earlier.cancelled);
    }
    done.reissued.extend(merged.reissued);
    done.retried += 1;
    done.window_status.get_or_insert(first.status);
    retry
}

/// After the post-operation callback: the owners that close their handles in answer to a
/// break do so (through the filter's cleanup), the work the filter queued runs, and the caller
/// gets the status.
///
/// Operations this one let go on then complete (an acknowledgment or close ended their wait);
/// those whose caller closed complete with `STATUS_CANCELLED` first, while their file objects
/// are still referenced.
fn finished(outcome: FsOutcome, mut done: Completed) -> Completed {
    let mut resumed = run_pended(&outcome.aborted, true);
    owners_close(&outcome.closed);
    super::machine::run_work_items();
    resumed.extend(run_pended(&outcome.resumed, false));
    done.resumed.extend(resumed);
    done.status = outcome.status.as_i32();
    done.outcome = Some(outcome);
    done
}

/// The owners of `closed` (file system opens whose oplock holders close in answer to a break)
/// close their handles: the filter sees each cleanup.
fn owners_close(closed: &[FileObjectId]) {
    for &open in closed {
        let found = with(|k| {
            let file = *k.volume.file_of.get(&open)?;
            Some((file, k.io.handle_of(file)))
        });
        if let Some((file, handle)) = found {
            let _ = close_file(file, open, handle, false);
        }
    }
}

/// A handle that is not a file of the volume.
fn invalid_handle() -> Completed {
    Completed {
        status: super::nt::STATUS_INVALID_HANDLE,
        ..Completed::default()
    }
}

struct Operation {
    data: Box<FLT_CALLBACK_DATA>,
    iopb: Box<FLT_IO_PARAMETER_BLOCK>,
}

impl Operation {
    fn new(major: u8, minor: u8, file: usize, parameters: FLT_PARAMETERS, user: bool) -> Self {
        let (_, _, instance) = FilterManager::handles();
        let mut iopb = Box::new(FLT_IO_PARAMETER_BLOCK {
            IrpFlags: 0,
            MajorFunction: major,
            MinorFunction: minor,
            OperationFlags: 0,
            Reserved: 0,
            TargetFileObject: file as *mut _,
            TargetInstance: instance as *mut c_void,
            Parameters: parameters,
        });
        let data = Box::new(FLT_CALLBACK_DATA {
            Flags: 0x0000_0001, // FLTFL_CALLBACK_DATA_IRP_OPERATION
            Thread: core::ptr::null_mut(),
            Iopb: core::ptr::from_mut(iopb.as_mut()),
            IoStatus: IO_STATUS_BLOCK::default(),
            TagData: core::ptr::null_mut(),
            Queue: [core::ptr::null_mut(); 4],
            RequestorMode: i8::from(user),
        });
        Self { data, iopb }
    }

    fn data(&mut self) -> *mut FLT_CALLBACK_DATA {
        core::ptr::from_mut(self.data.as_mut())
    }

    /// Calls the filter's pre-operation callback; returns whether to call its post-operation
    /// callback, or the status it completed the operation with.
    fn pre(&mut self, file: usize) -> (Option<(super::layout::PostOperation, usize)>, Option<i32>) {
        let major = self.iopb.MajorFunction;
        let callbacks = with(|k| {
            if !k.flt.attached {
                return None;
            }
            k.flt
                .registration
                .as_ref()
                .and_then(|r| r.operations.get(&major).copied())
        });
        let Some((pre, post)) = callbacks else {
            return (None, None);
        };
        let Some(pre) = pre else {
            return (None, None);
        };
        let (filter, volume, instance) = FilterManager::handles();
        let objects = related_objects(filter, volume, instance, file as *mut _);
        let mut context: *mut c_void = core::ptr::null_mut();
        // SAFETY: the filter's registered pre-operation callback with callback data, related
        // objects and a completion-context slot that live across the call.
        let status = super::pool::into_driver(|| unsafe {
            pre(self.data(), &raw const objects, &raw mut context)
        });
        match status {
            PREOP_SUCCESS_WITH_CALLBACK => (post.map(|post| (post, context as usize)), None),
            PREOP_SUCCESS_NO_CALLBACK => (None, None),
            PREOP_COMPLETE => (None, Some(self.data.IoStatus.Status)),
            other => {
                with(|k| {
                    k.report(Violation::BadArgument {
                        routine: "pre-operation callback",
                        detail: format!("returned {other}, which this sim does not model"),
                    });
                });
                (None, None)
            }
        }
    }

    fn post(
        &mut self,
        post: Option<(super::layout::PostOperation, usize)>,
        file: usize,
        status: i32,
    ) {
        let Some((post, context)) = post else {
            return;
        };
        self.data.IoStatus.Status = status;
        let (filter, volume, instance) = FilterManager::handles();
        let objects = related_objects(filter, volume, instance, file as *mut _);
        // SAFETY: the filter's post-operation callback for the operation its pre-operation
        // callback asked it for, with the context it returned, not draining.
        let _ = super::pool::into_driver(|| unsafe {
            post(self.data(), &raw const objects, context as *mut c_void, 0)
        });
    }
}

/// The create's `IO_SECURITY_CONTEXT` and the `ACCESS_STATE` it points to, which the I/O manager
/// fills with the granted access once the file system has checked it.
struct CreateSecurity {
    access_state: Box<ACCESS_STATE>,
    context: Box<IO_SECURITY_CONTEXT>,
}

impl CreateSecurity {
    fn new(desired: u32) -> Self {
        // SAFETY: ACCESS_STATE is plain data; all-zero is valid.
        let mut access_state: Box<ACCESS_STATE> = Box::new(unsafe { core::mem::zeroed() });
        access_state.OriginalDesiredAccess = desired;
        access_state.RemainingDesiredAccess = desired;
        let context = Box::new(IO_SECURITY_CONTEXT {
            SecurityQos: core::ptr::null_mut(),
            AccessState: core::ptr::from_mut(access_state.as_mut()),
            DesiredAccess: desired,
            FullCreateOptions: 0,
        });
        Self {
            access_state,
            context,
        }
    }

    fn granted(&mut self, granted: u32) {
        self.access_state.PreviouslyGrantedAccess = granted;
        self.access_state.RemainingDesiredAccess = 0;
    }
}

fn create_parameters(
    args: &CreateArgs,
    options: CreateOptions,
    security: &mut CreateSecurity,
) -> FLT_PARAMETERS {
    let mut reserve = if args.params.reserve_opfilter {
        0x0010_0000 // FILE_RESERVE_OPFILTER
    } else {
        0
    };
    if options.delete_on_close {
        reserve |= FILE_DELETE_ON_CLOSE;
    }
    if options.requiring_oplock {
        reserve |= FILE_OPEN_REQUIRING_OPLOCK;
    }
    if options.complete_if_oplocked {
        reserve |= FILE_COMPLETE_IF_OPLOCKED;
    }
    FLT_PARAMETERS {
        Create: FLT_CREATE_PARAMETERS {
            SecurityContext: core::ptr::from_mut(security.context.as_mut()),
            Options: (args.params.disposition as u32) << 24 | reserve,
            Pad1: 0,
            FileAttributes: 0x80, // FILE_ATTRIBUTE_NORMAL
            ShareAccess: u16::try_from(args.params.share_access & 0xFFFF).unwrap_or(0),
            Pad2: 0,
            EaLength: 0,
            EaBuffer: core::ptr::null_mut(),
            AllocationSize: 0,
        },
    }
}

/// The create is over: its ECP list is freed, and the filter must have left every ECP as it
/// came.
fn end_ecp_list(data: usize, list: Option<usize>) {
    with(|k| {
        k.flt.ecp_of_data.remove(&data);
        if let Some(list) = list
            && let Some((ecps, live)) = k.flt.ecp_lists.get_mut(&list)
        {
            *live = false;
            let changed: Vec<usize> = (0..ecps.len()).filter(|&i| !ecps[i].unchanged()).collect();
            for index in changed {
                k.report(Violation::EcpModified {
                    list: list as u64,
                    index,
                });
            }
        }
    });
}

/// `IRP_MJ_CREATE` of `args` from a user-mode caller.
#[must_use]
pub fn create(args: &CreateArgs) -> Completed {
    create_with(args, CreateOptions::default())
}

/// `IRP_MJ_CREATE` of `args` with oplock create options. A create an oplock break makes wait
/// returns `STATUS_PENDING` and completes when its wait ends ([`Completed::resumed`] of the
/// operation that ended it): the filter's post-create callback runs then.
#[must_use]
pub fn create_with(args: &CreateArgs, options: CreateOptions) -> Completed {
    let prepared = with(|k| {
        let file = k.io.create_file(FileKind::Volume(0));
        let key = file_system_key(&mut k.volume, args);
        let stream = k.volume.stream_key(&args.path);
        k.flt.file_streams.insert(file, stream);
        k.volume.path_of.insert(file, args.path.clone());
        let ecps: Vec<Ecp> = args
            .ecps
            .iter()
            .map(|e| Ecp::new(to_guid(e.ecp_type), e.from_user_mode, &e.context))
            .collect();
        let list = if ecps.is_empty() {
            None
        } else {
            Some(k.flt.new_ecp_list(ecps))
        };
        (file, key, list)
    });
    let (file, key, list) = prepared;
    let desired = args.params.desired_access;
    let granted = if desired & MAXIMUM_ALLOWED != 0 {
        FILE_ALL_ACCESS
    } else {
        map_generic(desired)
    };
    let mut security = CreateSecurity::new(desired);
    let parameters = create_parameters(args, options, &mut security);
    let mut op = Operation::new(IRP_MJ_CREATE, 0, file, parameters, true);
    if let Some(list) = list {
        let data = op.data() as usize;
        with(|k| k.flt.ecp_of_data.insert(data, list));
    }
    let (post, completed) = op.pre(file);
    // The file system keeps the access the open is granted (a MAXIMUM_ALLOWED open gets every
    // right the caller may have), and checks later I/O and share access against it.
    let request = CreateRequest {
        path: args.path.clone(),
        params: CreateParams {
            desired_access: granted,
            ..args.params
        },
        kind: args.kind,
        delete_on_close: options.delete_on_close,
        requiring_oplock: options.requiring_oplock,
        complete_if_oplocked: options.complete_if_oplocked,
    };
    let mut done = Completed::default();
    let outcome = below(completed, &args.path, Window::Create, &mut done, |fs| {
        fs.create(&request, key)
    });
    let pended = PendedCreate {
        op,
        post,
        file,
        security,
        list,
        granted,
    };
    if let Some(wait) = outcome.wait {
        let path = args.path.clone();
        pend(
            wait,
            Box::new(move |cancelled| {
                let mut done = Completed::default();
                let outcome = if cancelled {
                    FsOutcome {
                        status: NtStatus::CANCELLED,
                        ..FsOutcome::default()
                    }
                } else {
                    below(None, &path, Window::Create, &mut done, |fs| {
                        fs.resume_create(&request, key)
                    })
                };
                pended.complete(outcome, done)
            }),
        );
        return finished(outcome, done);
    }
    pended.complete(outcome, done)
}

/// A create between its pre-operation callback and its completion.
struct PendedCreate {
    op: Operation,
    post: Option<(super::layout::PostOperation, usize)>,
    file: usize,
    security: CreateSecurity,
    list: Option<usize>,
    granted: u32,
}

impl PendedCreate {
    /// The file system answered `outcome`: the post-create callback, the ECP list's end, and
    /// the handle, or the file object's end.
    fn complete(self, outcome: FsOutcome, done: Completed) -> Completed {
        let Self {
            mut op,
            post,
            file,
            mut security,
            list,
            granted,
        } = self;
        let status = outcome.status.as_i32();
        if status >= 0 {
            security.granted(granted);
        }
        op.post(post, file, status);
        end_ecp_list(op.data() as usize, list);
        let mut deferred = Vec::new();
        let result = with(|k| {
            let result = match outcome.file_object {
                Some(open) if status >= 0 => {
                    k.volume.file_of.insert(open, file);
                    k.volume.open_of.insert(file, open);
                    k.io.set_kind(file, FileKind::Volume(open));
                    let handle = k.io.insert_handle(file, granted);
                    (Some(handle), Some(open))
                }
                _ => {
                    // A failed create: Filter Manager deletes what was attached to the file object.
                    k.flt.detach(Attached::Handle(file), &mut deferred);
                    k.flt.file_streams.remove(&file);
                    k.volume.path_of.remove(&file);
                    let _ = k.io.dereference(file);
                    (None, None)
                }
            };
            note_stream_contexts(k);
            result
        });
        super::run_deferred(deferred);
        let mut done = finished(outcome, done);
        done.handle = result.0;
        done.file = result.1;
        done
    }
}

fn file_of_handle(handle: u64) -> Option<(usize, FileObjectId)> {
    with(|k| {
        let entry = k.io.handle(handle)?;
        let open = *k.volume.open_of.get(&entry.file)?;
        Some((entry.file, open))
    })
}

/// `CloseHandle`: `IRP_MJ_CLEANUP` through the filter, then the file system's cleanup and
/// close; the file object goes when its last reference does, and the stream's context when the
/// file system has no open of the stream left.
#[must_use]
pub fn close(handle: u64) -> Completed {
    let Some((file, open)) = file_of_handle(handle) else {
        return invalid_handle();
    };
    close_file(file, open, Some(handle), true)
}

/// The close of `file` (the file system's `open`), through its `handle` when it still has one;
/// `fs_close` when the file system has not closed the open itself (an owner that closes in
/// answer to a break was closed by the file system first).
fn close_file(file: usize, open: FileObjectId, handle: Option<u64>, fs_close: bool) -> Completed {
    let parameters = FLT_PARAMETERS {
        Others: [core::ptr::null_mut(); 6],
    };
    let mut op = Operation::new(IRP_MJ_CLEANUP, 0, file, parameters, true);
    let (post, _) = op.pre(file);
    let path = with(|k| k.volume.path_of.get(&file).cloned());
    let mut outcome = if fs_close {
        with(|k| k.volume.fs.cleanup(open))
    } else {
        FsOutcome::default()
    };
    // The closing caller's own pended operations complete while its file object is alive.
    let aborted = run_pended(&std::mem::take(&mut outcome.aborted), true);
    op.post(post, file, 0);
    let mut deferred = Vec::new();
    with(|k| {
        if let Some(handle) = handle {
            let _ = k.io.remove_handle(handle);
        }
        // A data-scan section keeps its file object, and the file system's open of it, for
        // the section's own close (FltCloseSectionForDataScan, then DISABLED on it).
        if !k.volume.sections.iter().any(|(_, f)| *f == file) {
            k.volume.fs.release(open);
            k.volume.file_of.remove(&open);
            k.volume.open_of.remove(&file);
        }
        // IRP_MJ_CLOSE once nothing else references the file object; Filter Manager deletes
        // the stream-handle context then. The sim closes it with the handle.
        k.flt.detach(Attached::Handle(file), &mut deferred);
        // Filter Manager frees a stream context with the stream's FCB, which the file system
        // tears down when nothing (handle, section, cache) references it, or with its name.
        if let Some(path) = &path
            && outcome.torn_down
        {
            let stream = k.volume.stream_key(path);
            k.flt.detach(Attached::Stream(stream), &mut deferred);
            if outcome.deleted {
                // A new file of the same name is a new stream.
                k.volume.stream_keys.remove(path);
            }
        }
        if k.io.dereference(file) == Some(0) {
            k.volume.path_of.remove(&file);
        }
        note_stream_contexts(k);
    });
    super::run_deferred(deferred);
    finished(
        outcome,
        Completed {
            resumed: aborted,
            ..Completed::default()
        },
    )
}

/// `outcome` of a call that may have pended: the status the caller sees now.
fn cancelled_or(cancelled: bool, resume: impl FnOnce() -> FsOutcome) -> FsOutcome {
    if cancelled {
        FsOutcome {
            status: NtStatus::CANCELLED,
            ..FsOutcome::default()
        }
    } else {
        resume()
    }
}

/// An `IRP_MJ_WRITE` parameter block for `buffer` at `offset`.
fn write_parameters(buffer: &mut [u8], offset: u64) -> FLT_PARAMETERS {
    FLT_PARAMETERS {
        Write: FLT_WRITE_PARAMETERS {
            Length: u32::try_from(buffer.len()).unwrap_or(u32::MAX),
            Pad1: 0,
            Key: 0,
            ByteOffset: i64::try_from(offset).unwrap_or(i64::MAX),
            WriteBuffer: buffer.as_mut_ptr().cast(),
            MdlAddress: core::ptr::null_mut(),
        },
    }
}

/// `IRP_MJ_WRITE` through the filter.
#[must_use]
pub fn write(handle: u64, offset: u64, bytes: &[u8], non_cached: bool, step: usize) -> Completed {
    let Some((file, open)) = file_of_handle(handle) else {
        return invalid_handle();
    };
    let path = path_of(file);
    let mut buffer = bytes.to_vec();
    let parameters = write_parameters(&mut buffer, offset);
    let mut op = Operation::new(IRP_MJ_WRITE, 0, file, parameters, true);
    if non_cached {
        op.iopb.IrpFlags |= IRP_NOCACHE;
    }
    let (post, completed) = op.pre(file);
    let window = if non_cached {
        Window::Purge
    } else {
        Window::None
    };
    let mut done = Completed::default();
    let outcome = below(completed, &path, window, &mut done, |fs| {
        fs.write(open, offset, bytes, non_cached, step)
    });
    if let Some(wait) = outcome.wait {
        let bytes = bytes.to_vec();
        pend(
            wait,
            Box::new(move |cancelled| {
                let mut done = Completed::default();
                let outcome = cancelled_or(cancelled, || {
                    below(None, &path, window, &mut done, |fs| {
                        fs.resume_write(open, offset, &bytes, non_cached, step)
                    })
                });
                op.post(post, file, outcome.status.as_i32());
                // The write buffer the callback data points to lives until the write completes.
                drop(buffer);
                finished(outcome, done)
            }),
        );
        return finished(outcome, done);
    }
    op.post(post, file, outcome.status.as_i32());
    finished(outcome, done)
}

/// A paging write (`IRP_PAGING_IO | IRP_NOCACHE`) through the filter, as the cache manager's
/// lazy writer or the memory manager's mapped-page writer sends it on the handle's file object.
#[must_use]
pub fn paging_write(handle: u64, offset: u64, bytes: &[u8]) -> Completed {
    let Some((file, open)) = file_of_handle(handle) else {
        return invalid_handle();
    };
    let path = path_of(file);
    let mut buffer = bytes.to_vec();
    let parameters = write_parameters(&mut buffer, offset);
    let mut op = Operation::new(IRP_MJ_WRITE, 0, file, parameters, true);
    op.iopb.IrpFlags |= IRP_PAGING_IO | IRP_NOCACHE;
    let (post, completed) = op.pre(file);
    let mut done = Completed::default();
    let outcome = below(completed, &path, Window::None, &mut done, |fs| {
        fs.paging_write(open, offset, bytes)
    });
    op.post(post, file, outcome.status.as_i32());
    finished(outcome, done)
}

fn path_of(file: usize) -> String {
    with(|k| k.volume.path_of.get(&file).cloned().unwrap_or_default())
}

/// `IRP_MJ_SET_INFORMATION` through the filter: `FileEndOfFileInformation` for a resize,
/// `FileBasicInformation` otherwise.
#[must_use]
pub fn set_information(handle: u64, resize: Option<u64>) -> Completed {
    let Some((file, open)) = file_of_handle(handle) else {
        return invalid_handle();
    };
    let path = path_of(file);
    // On the heap: a pended resize keeps it, and the callback data points into it.
    let mut size = Box::new(resize.unwrap_or(0).to_le_bytes());
    let parameters = FLT_PARAMETERS {
        SetFileInformation: FLT_SET_INFORMATION_PARAMETERS {
            Length: 8,
            Pad1: 0,
            FileInformationClass: if resize.is_some() {
                FILE_END_OF_FILE_INFORMATION
            } else {
                FILE_BASIC_INFORMATION
            },
            ParentOfTarget: core::ptr::null_mut(),
            Extra: core::ptr::null_mut(),
            InfoBuffer: size.as_mut_ptr().cast(),
        },
    };
    let mut op = Operation::new(IRP_MJ_SET_INFORMATION, 0, file, parameters, true);
    let (post, completed) = op.pre(file);
    let mut done = Completed::default();
    let outcome = below(completed, &path, Window::Purge, &mut done, |fs| {
        fs.set_information(open, resize)
    });
    if let Some(wait) = outcome.wait {
        let new_size = resize.unwrap_or(0);
        pend(
            wait,
            Box::new(move |cancelled| {
                let mut done = Completed::default();
                let outcome = cancelled_or(cancelled, || {
                    below(None, &path, Window::Purge, &mut done, |fs| {
                        fs.resume_set_information(open, new_size)
                    })
                });
                op.post(post, file, outcome.status.as_i32());
                // The information buffer the callback data points to lives until it completes.
                drop(size);
                finished(outcome, done)
            }),
        );
        return finished(outcome, done);
    }
    op.post(post, file, outcome.status.as_i32());
    finished(outcome, done)
}

/// `IRP_MJ_SET_INFORMATION` of `class` with `buffer` through the filter, then `op` in the file
/// system (no data-scan window affects these classes).
fn set_information_class(
    handle: u64,
    class: u32,
    buffer: &mut [u8],
    op: impl FnMut(&mut FileSystem, FileObjectId) -> FsOutcome,
) -> Completed {
    let Some((file, open)) = file_of_handle(handle) else {
        return invalid_handle();
    };
    let path = path_of(file);
    let parameters = FLT_PARAMETERS {
        SetFileInformation: FLT_SET_INFORMATION_PARAMETERS {
            Length: u32::try_from(buffer.len()).unwrap_or(u32::MAX),
            Pad1: 0,
            FileInformationClass: class,
            ParentOfTarget: core::ptr::null_mut(),
            Extra: core::ptr::null_mut(),
            InfoBuffer: buffer.as_mut_ptr().cast(),
        },
    };
    let mut op_data = Operation::new(IRP_MJ_SET_INFORMATION, 0, file, parameters, true);
    let (post, completed) = op_data.pre(file);
    let mut done = Completed::default();
    let mut op = op;
    let outcome = below(completed, &path, Window::None, &mut done, |fs| op(fs, open));
    op_data.post(post, file, outcome.status.as_i32());
    finished(outcome, done)
}

/// `FileDispositionInformation` (`DeleteFile` = `delete`) on a handle, through the filter.
#[must_use]
pub fn set_disposition(handle: u64, delete: bool) -> Completed {
    let mut buffer = [u8::from(delete)];
    set_information_class(
        handle,
        FILE_DISPOSITION_INFORMATION,
        &mut buffer,
        |fs, open| fs.set_disposition(open, delete),
    )
}

/// `FileRenameInformation` of a handle's file to `target`, through the filter. The volume's own
/// names (file objects, sections, stream identities) follow the stream to its new name; a
/// replaced target's stream goes, with its context.
#[must_use]
pub fn rename(handle: u64, target: &str, replace: bool) -> Completed {
    // FILE_RENAME_INFORMATION: ReplaceIfExists, RootDirectory, FileNameLength, FileName.
    let name: Vec<u8> = target.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let mut buffer = vec![0u8; 20];
    buffer[0] = u8::from(replace);
    buffer[16..20].copy_from_slice(&u32::try_from(name.len()).unwrap_or(0).to_le_bytes());
    buffer.extend_from_slice(&name);
    let source = file_of_handle(handle).map(|(file, _)| path_of(file));
    let done = set_information_class(handle, FILE_RENAME_INFORMATION, &mut buffer, |fs, open| {
        fs.rename(open, target, replace)
    });
    if let Some(source) = source
        && done.status >= 0
        && source != target
    {
        let mut deferred = Vec::new();
        with(|k| {
            if let Some(replaced) = k.volume.stream_keys.remove(target) {
                k.flt.detach(Attached::Stream(replaced), &mut deferred);
            }
            if let Some(key) = k.volume.stream_keys.remove(&source) {
                k.volume.stream_keys.insert(target.to_owned(), key);
            }
            for path in k.volume.path_of.values_mut().filter(|p| **p == source) {
                target.clone_into(path);
            }
            for (path, _) in k.volume.sections.iter_mut().filter(|(p, _)| *p == source) {
                target.clone_into(path);
            }
            note_stream_contexts(k);
        });
        super::run_deferred(deferred);
    }
    done
}

/// `FSCTL_SET_PURGE_FAILURE_MODE` from above the filter on a handle: the file system counts
/// and re-issues what it held before completing it; then the filter's post-operation callback.
#[must_use]
pub fn set_purge_failure_mode(handle: u64, requestor: RequestorMode, input: &[u8]) -> Completed {
    let Some((file, open)) = file_of_handle(handle) else {
        return invalid_handle();
    };
    purge_failure_mode(file, open, requestor, input)
}

/// `FSCTL_SET_PURGE_FAILURE_MODE` on `file` (the file system's `open`), through the filter.
fn purge_failure_mode(
    file: usize,
    open: FileObjectId,
    requestor: RequestorMode,
    input: &[u8],
) -> Completed {
    let mut buffer = input.to_vec();
    let kernel = matches!(requestor, RequestorMode::Kernel);
    let parameters = fsctl_parameters(FSCTL_SET_PURGE_FAILURE_MODE, &mut buffer);
    let minor = if kernel {
        IRP_MN_KERNEL_CALL
    } else {
        IRP_MN_USER_FS_REQUEST
    };
    let mut op = Operation::new(IRP_MJ_FILE_SYSTEM_CONTROL, minor, file, parameters, !kernel);
    let (post, completed) = op.pre(file);
    let mut done = Completed::default();
    let mut reissues_pended = Vec::new();
    let outcome = match completed {
        Some(status) => FsOutcome {
            status: NtStatus::from_i32(status),
            ..FsOutcome::default()
        },
        None => with(|k| {
            let mut outcome = k.volume.fs.set_purge_failure_mode(open, requestor, input);
            // The file system re-issues what it held, oldest first, before completing.
            for held in outcome.released.clone() {
                let again = k.volume.fs.reissue(&held);
                outcome.breaks.extend(again.breaks);
                outcome.closed.extend(again.closed);
                outcome.resumed.extend(again.resumed);
                outcome.aborted.extend(again.aborted);
                if let Some(wait) = again.wait {
                    reissues_pended.push((wait, held.clone()));
                }
                done.reissued.push((held, again.status));
            }
            outcome
        }),
    };
    // A re-issued write is below the filter: only the file system's part is left when it pended.
    for (wait, held) in reissues_pended {
        pend(
            wait,
            Box::new(move |cancelled| {
                let outcome = cancelled_or(cancelled, || {
                    with(|k| {
                        let HeldKind::CachedWrite { offset, data } = &held.kind else {
                            return FsOutcome::default();
                        };
                        k.volume
                            .fs
                            .resume_write(held.file_object, *offset, data, false, held.step)
                    })
                });
                finished(outcome, Completed::default())
            }),
        );
    }
    op.post(post, file, outcome.status.as_i32());
    finished(outcome, done)
}

/// `FSCTL_SET_PURGE_FAILURE_MODE` on a handle's file object sent below the filter, as a component
/// attached lower on the volume sends it (`FltFsControlFile` from its own instance), `repeat`
/// times in a row, applied at once: the filter's callbacks see none of them. Also how many
/// changed the count.
#[must_use]
pub fn set_purge_failure_mode_below(
    handle: u64,
    requestor: RequestorMode,
    input: &[u8],
    repeat: u32,
) -> (Completed, u32) {
    let Some((_, open)) = file_of_handle(handle) else {
        return (invalid_handle(), 0);
    };
    let mut done = Completed::default();
    let (outcome, applied) = with(|k| {
        let (mut outcome, applied) = k
            .volume
            .fs
            .set_purge_failure_mode_repeated(open, requestor, input, repeat);
        for held in outcome.released.clone() {
            let again = k.volume.fs.reissue(&held);
            outcome.breaks.extend(again.breaks);
            outcome.closed.extend(again.closed);
            done.reissued.push((held, again.status));
        }
        (outcome, applied)
    });
    (finished(outcome, done), applied)
}

/// An `IRP_MJ_FILE_SYSTEM_CONTROL` parameter block for a buffered FSCTL with input `buffer`.
fn fsctl_parameters(code: u32, buffer: &mut [u8]) -> FLT_PARAMETERS {
    FLT_PARAMETERS {
        FileSystemControl: FLT_FSCTL_BUFFERED_PARAMETERS {
            OutputBufferLength: 0,
            Pad1: 0,
            InputBufferLength: u32::try_from(buffer.len()).unwrap_or(u32::MAX),
            Pad2: 0,
            FsControlCode: code,
            SystemBuffer: if buffer.is_empty() {
                core::ptr::null_mut()
            } else {
                buffer.as_mut_ptr().cast()
            },
        },
    }
}

/// `FSCTL_REQUEST_OPLOCK` from the handle's owner, through the filter (which passes it on).
#[must_use]
pub fn request_oplock(handle: u64, level: OplockLevel, on_break: BreakAction) -> Completed {
    let Some((file, open)) = file_of_handle(handle) else {
        return invalid_handle();
    };
    let parameters = fsctl_parameters(FSCTL_REQUEST_OPLOCK, &mut []);
    let mut op = Operation::new(
        IRP_MJ_FILE_SYSTEM_CONTROL,
        IRP_MN_USER_FS_REQUEST,
        file,
        parameters,
        true,
    );
    let (post, completed) = op.pre(file);
    let mut done = Completed::default();
    let outcome = below(completed, "", Window::None, &mut done, |fs| {
        fs.request_oplock(open, level, on_break)
    });
    op.post(post, file, outcome.status.as_i32());
    finished(outcome, done)
}

/// `FSCTL_REQUEST_OPLOCK` with `REQUEST_OPLOCK_INPUT_FLAG_ACK` from the handle's owner,
/// through the filter: acknowledges the break of its oplock to `level` (default the level it
/// broke to); what waited for it goes on.
#[must_use]
pub fn acknowledge(handle: u64, level: Option<OplockLevel>) -> Completed {
    let Some((file, open)) = file_of_handle(handle) else {
        return invalid_handle();
    };
    // REQUEST_OPLOCK_INPUT_BUFFER: StructureVersion, StructureLength, RequestedOplockLevel, Flags.
    let mut input = Vec::with_capacity(12);
    input.extend_from_slice(&REQUEST_OPLOCK_CURRENT_VERSION.to_le_bytes());
    input.extend_from_slice(&12u16.to_le_bytes());
    input.extend_from_slice(&level.map_or(0, OplockLevel::caching).to_le_bytes());
    input.extend_from_slice(&REQUEST_OPLOCK_INPUT_FLAG_ACK.to_le_bytes());
    let parameters = fsctl_parameters(FSCTL_REQUEST_OPLOCK, &mut input);
    let mut op = Operation::new(
        IRP_MJ_FILE_SYSTEM_CONTROL,
        IRP_MN_USER_FS_REQUEST,
        file,
        parameters,
        true,
    );
    let (post, completed) = op.pre(file);
    let mut done = Completed::default();
    let outcome = below(completed, "", Window::None, &mut done, |fs| {
        fs.acknowledge(open, level)
    });
    op.post(post, file, outcome.status.as_i32());
    finished(outcome, done)
}

/// `IRP_MJ_READ` (cached), which the filter does not register for: Filter Manager passes it
/// straight down.
#[must_use]
pub fn read(handle: u64, offset: u64, length: u32) -> Completed {
    let Some((_, open)) = file_of_handle(handle) else {
        return invalid_handle();
    };
    let outcome = with(|k| k.volume.fs.read(open, offset, length));
    if let Some(wait) = outcome.wait {
        pend(
            wait,
            Box::new(move |cancelled| {
                let outcome = cancelled_or(cancelled, || {
                    with(|k| k.volume.fs.resume_read(open, offset, length))
                });
                finished(outcome, Completed::default())
            }),
        );
    }
    finished(outcome, Completed::default())
}

/// A read by a kernel component that opens a handle of its own on the handle's stream (no ECP,
/// so a key of its own), reads, and closes it below the filter: what a filter that opened its
/// own handle instead of reading through the caller's file object would cause.
#[must_use]
pub fn read_through_own_open(handle: u64, offset: u64, length: u32) -> Completed {
    let Some((file, _)) = file_of_handle(handle) else {
        return invalid_handle();
    };
    let path = path_of(file);
    let request = CreateRequest::new(
        path,
        CreateParams::open(access::FILE_READ_DATA, share::FILE_SHARE_ALL),
        StreamKind::File,
    );
    let (outcome, key) = with(|k| {
        let key = k.volume.unique_key();
        let opened = k.volume.fs.create(&request, key);
        if opened.wait.is_some() {
            return (opened, key);
        }
        (
            read_and_close(&mut k.volume.fs, opened, offset, length),
            key,
        )
    });
    if let Some(wait) = outcome.wait {
        pend(
            wait,
            Box::new(move |cancelled| {
                let outcome = cancelled_or(cancelled, || {
                    with(|k| {
                        let opened = k.volume.fs.resume_create(&request, key);
                        read_and_close(&mut k.volume.fs, opened, offset, length)
                    })
                });
                finished(outcome, Completed::default())
            }),
        );
    }
    finished(outcome, Completed::default())
}

/// The kernel component's read through the open it made, and its close.
fn read_and_close(
    fs: &mut FileSystem,
    mut opened: FsOutcome,
    offset: u64,
    length: u32,
) -> FsOutcome {
    let Some(own) = opened.file_object else {
        return opened;
    };
    let read = fs.read(own, offset, length);
    let closed = fs.close(own);
    opened.status = read.status;
    opened.data = read.data;
    opened.breaks.extend(read.breaks);
    opened.closed.extend(read.closed);
    opened.resumed.extend(closed.resumed);
    opened.file_object = None;
    opened
}

/// Maps (`true`) or unmaps a user section of the handle's stream.
#[must_use]
pub fn user_section(handle: u64, map: bool) -> Completed {
    let Some((_, open)) = file_of_handle(handle) else {
        return invalid_handle();
    };
    let status = with(|k| k.volume.fs.map_section(open, false, map));
    finished(
        FsOutcome {
            status: status.err().unwrap_or(NtStatus::SUCCESS),
            ..FsOutcome::default()
        },
        Completed::default(),
    )
}

/// Filter Manager creates a section for data scanning (`FltCreateSectionForDataScan`) on the
/// handle's stream: `FSCTL_SET_PURGE_FAILURE_MODE` ENABLED first, through the filter, then the
/// section.
#[must_use]
pub fn begin_data_scan(handle: u64) -> Completed {
    let Some((file, open)) = file_of_handle(handle) else {
        return invalid_handle();
    };
    let mut done = purge_failure_mode(
        file,
        open,
        RequestorMode::Kernel,
        &SET_PURGE_FAILURE_MODE_ENABLED.to_le_bytes(),
    );
    if done.status < 0 {
        return done;
    }
    let mapped = with(|k| {
        let mapped = k.volume.fs.map_section(open, true, true);
        if mapped.is_ok() {
            let path = k.volume.path_of.get(&file).cloned().unwrap_or_default();
            k.volume.sections.push((path, file));
            // The section references the file object it was created through.
            let _ = k.io.reference(file);
        }
        mapped
    });
    if let Err(status) = mapped {
        done.status = status.as_i32();
    }
    done
}

/// Filter Manager closes the data-scan section it created through the handle's file object,
/// then sends DISABLED. `STATUS_NOT_FOUND` when there is none (a retry already closed it).
#[must_use]
pub fn end_data_scan(handle: u64) -> Completed {
    let Some((file, _)) = file_of_handle(handle) else {
        return invalid_handle();
    };
    close_section(file)
}

/// Filter Manager closes the data-scan section it created through `file`, then sends DISABLED
/// on it; the file object's handle may have closed before. `STATUS_NOT_FOUND` when there is none.
#[must_use]
pub fn end_section(file: usize) -> Completed {
    close_section(file)
}

fn close_section(file: usize) -> Completed {
    let open = with(|k| {
        let at = k.volume.sections.iter().position(|(_, f)| *f == file)?;
        k.volume.sections.remove(at);
        let open = *k.volume.open_of.get(&file)?;
        // Unmapping cannot fail: the section was mapped through this file object.
        let _ = k.volume.fs.map_section(open, true, false);
        Some(open)
    });
    let Some(open) = open else {
        return Completed {
            status: super::flt::STATUS_NOT_FOUND,
            ..Completed::default()
        };
    };
    let done = purge_failure_mode(
        file,
        open,
        RequestorMode::Kernel,
        &SET_PURGE_FAILURE_MODE_DISABLED.to_le_bytes(),
    );
    // The section's reference goes; a file object whose handle closed first goes with it.
    let mut deferred = Vec::new();
    with(|k| {
        let handle_open = k.io.handle_of(file).is_some();
        let other_section = k.volume.sections.iter().any(|(_, f)| *f == file);
        if !handle_open && !other_section {
            let outcome = k.volume.fs.settle_released(open);
            k.volume.fs.release(open);
            k.volume.file_of.remove(&open);
            k.volume.open_of.remove(&file);
            if let Some(path) = k.volume.path_of.get(&file).cloned()
                && outcome.torn_down
            {
                let stream = k.volume.stream_key(&path);
                k.flt.detach(Attached::Stream(stream), &mut deferred);
                if outcome.deleted {
                    k.volume.stream_keys.remove(&path);
                }
            }
        }
        if k.io.dereference(file) == Some(0) {
            k.volume.path_of.remove(&file);
        }
        note_stream_contexts(k);
    });
    super::run_deferred(deferred);
    done
}

/// `FltFlushBuffers2` with `FLT_FLUSH_TYPE_FLUSH_AND_PURGE` on a file object of the volume.
pub(crate) fn flush_and_purge(k: &mut super::Kernel, file: usize) -> i32 {
    let Some(&open) = k.volume.open_of.get(&file) else {
        // A file object whose handle closed: its stream is still there while it is referenced,
        // but the sim's file system only knows open handles.
        return super::flt::STATUS_NOT_FOUND;
    };
    let outcome = k.volume.fs.flush_and_purge(open);
    let status = outcome.status.as_i32();
    k.volume.flushed.push((open, outcome));
    status
}

/// References on `file` that are not its handle's: what the driver holds (a held purge
/// request's token owns one).
#[must_use]
pub fn driver_references(k: &super::Kernel, file: usize) -> u32 {
    let Some(object) = k.io.file(file) else {
        return 0;
    };
    let handles = u32::from(k.io.handle_of(file).is_some());
    let sections = k.volume.sections.iter().filter(|(_, f)| *f == file).count();
    object
        .refs
        .saturating_sub(handles)
        .saturating_sub(u32::try_from(sections).unwrap_or(u32::MAX))
}
