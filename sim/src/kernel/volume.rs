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

use super::flt::FilterManager;
use super::layout::{FLT_CALLBACK_DATA, FLT_IO_PARAMETER_BLOCK, FLT_PARAMETERS, IO_STATUS_BLOCK};
use super::machine::related_objects;
use super::{Violation, with};
use crate::fs::{FileObjectId, FileSystem, FsOutcome, HeldIo, StreamKind};
use ferrofilter_model::oplock::CreateParams;

mod create;
mod data;
mod fsctl;
mod handles;
mod lock_control;

pub use create::{create, create_with};
pub use data::{
    paging_write, read, read_through_own_open, rename, set_disposition, set_information, write,
};
pub use fsctl::{
    acknowledge, request_oplock, set_purge_failure_mode, set_purge_failure_mode_below,
};
pub(crate) use handles::flush_and_purge;
pub use handles::{
    begin_data_scan, close, driver_references, end_data_scan, end_section, user_section,
};
use handles::{close_file, close_section};
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

/// Pends the rest of an operation the filter saw, under the file system's `wait`: when the wait
/// ends, `resume` runs below the filter (or the operation is cancelled), the filter's
/// post-operation callback sees its status, and then `after` runs with that status (it owns
/// what the callback data points into, so that lives until then, and does what follows the
/// operation's completion, such as a rename's bookkeeping).
#[allow(
    clippy::too_many_arguments,
    reason = "the pended operation's callback data, where it goes and what follows it"
)]
fn pend_filtered(
    wait: u64,
    mut op: Operation,
    post: Option<(super::layout::PostOperation, usize)>,
    file: usize,
    path: String,
    window: Window,
    after: impl FnOnce(NtStatus) + 'static,
    mut resume: impl FnMut(&mut FileSystem) -> FsOutcome + 'static,
) {
    pend(
        wait,
        Box::new(move |cancelled| {
            let mut done = Completed::default();
            let outcome = cancelled_or(cancelled, || {
                below(None, &path, window, &mut done, &mut resume)
            });
            op.post(post, file, outcome.status.as_i32());
            let status = outcome.status;
            let done = finished(outcome, done);
            after(status);
            done
        }),
    );
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

fn file_of_handle(handle: u64) -> Option<(usize, FileObjectId)> {
    with(|k| {
        let entry = k.io.handle(handle)?;
        let open = *k.volume.open_of.get(&entry.file)?;
        Some((entry.file, open))
    })
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

fn path_of(file: usize) -> String {
    with(|k| k.volume.path_of.get(&file).cloned().unwrap_or_default())
}
