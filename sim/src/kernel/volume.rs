//! The simulated volume under Filter Manager: operations from above (`IRP_MJ_CREATE`,
//! `IRP_MJ_CLEANUP` / `IRP_MJ_CLOSE`, `IRP_MJ_WRITE`, `IRP_MJ_SET_INFORMATION`,
//! `FSCTL_SET_PURGE_FAILURE_MODE`) built as Filter Manager builds them — a `FILE_OBJECT`, an
//! `FLT_CALLBACK_DATA` with its parameter block, the create's ECP list — and passed through the
//! filter's registered pre- and post-operation callbacks to the sim's file system
//! ([`crate::fs::FileSystem`]) and back. The file system decides from the ECPs itself which
//! oplock key a handle has, as NTFS does; the filter only reads them.

use core::ffi::c_void;
use std::collections::HashMap;

use ferrofilter_core::NtStatus;
use ferrofilter_core::guid::Guid;
use ferrofilter_core::purge::RequestorMode;

use super::flt::{Attached, Ecp, FilterManager};
use super::layout::{
    ACCESS_STATE, FLT_CALLBACK_DATA, FLT_CREATE_PARAMETERS, FLT_FSCTL_BUFFERED_PARAMETERS,
    FLT_IO_PARAMETER_BLOCK, FLT_PARAMETERS, FLT_SET_INFORMATION_PARAMETERS, FLT_WRITE_PARAMETERS,
    GUID, IO_SECURITY_CONTEXT, IO_STATUS_BLOCK,
};
use super::machine::related_objects;
use super::nt::{FileKind, map_generic};
use super::{Violation, with};
use crate::fltmgr::CreateArgs;
use crate::fs::{CreateRequest, FileObjectId, FileSystem, FsOutcome};

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
/// `FSCTL_SET_PURGE_FAILURE_MODE`.
const FSCTL_SET_PURGE_FAILURE_MODE: u32 = 0x0009_0270;
/// `FileEndOfFileInformation`.
const FILE_END_OF_FILE_INFORMATION: u32 = 20;
/// `FileBasicInformation`.
const FILE_BASIC_INFORMATION: u32 = 4;
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
    /// What the file system did.
    pub outcome: Option<FsOutcome>,
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

/// The file system's answer, unless the filter completed the operation in its pre-operation
/// callback.
fn below(completed: Option<i32>, op: impl FnOnce(&mut FileSystem) -> FsOutcome) -> FsOutcome {
    match completed {
        Some(status) => FsOutcome {
            status: NtStatus::from_i32(status),
            ..FsOutcome::default()
        },
        None => with(|k| op(&mut k.volume.fs)),
    }
}

/// After the post-operation callback: the work it queued runs, and the caller gets the status.
fn finished(outcome: FsOutcome) -> Completed {
    super::machine::run_work_items();
    Completed {
        status: outcome.status.as_i32(),
        outcome: Some(outcome),
        ..Completed::default()
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
        let status = unsafe { pre(self.data(), &raw const objects, &raw mut context) };
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
        let _ = unsafe { post(self.data(), &raw const objects, context as *mut c_void, 0) };
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

fn create_parameters(args: &CreateArgs, security: &mut CreateSecurity) -> FLT_PARAMETERS {
    let reserve = if args.params.reserve_opfilter {
        0x0010_0000 // FILE_RESERVE_OPFILTER
    } else {
        0
    };
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
    let prepared = with(|k| {
        let file = k.io.create_file(FileKind::Volume(0));
        let key = file_system_key(&mut k.volume, args);
        let stream = k.volume.stream_key(&args.path);
        k.flt.file_streams.insert(file, stream);
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
    let parameters = create_parameters(args, &mut security);
    let mut op = Operation::new(IRP_MJ_CREATE, 0, file, parameters, true);
    if let Some(list) = list {
        let data = op.data() as usize;
        with(|k| k.flt.ecp_of_data.insert(data, list));
    }
    let (post, completed) = op.pre(file);
    let outcome = if let Some(status) = completed {
        FsOutcome {
            status: NtStatus::from_i32(status),
            ..FsOutcome::default()
        }
    } else {
        let request = CreateRequest {
            path: args.path.clone(),
            params: args.params,
            kind: args.kind,
        };
        with(|k| k.volume.fs.create(&request, key))
    };
    let status = outcome.status.as_i32();
    if status >= 0 {
        security.granted(granted);
    }
    op.post(post, file, status);
    end_ecp_list(op.data() as usize, list);
    let mut deferred = Vec::new();
    let result = with(|k| match outcome.file_object {
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
            let _ = k.io.dereference(file);
            (None, None)
        }
    });
    super::run_deferred(deferred);
    super::machine::run_work_items();
    Completed {
        status,
        handle: result.0,
        file: result.1,
        outcome: Some(outcome),
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
    let parameters = FLT_PARAMETERS {
        Others: [core::ptr::null_mut(); 6],
    };
    let mut op = Operation::new(IRP_MJ_CLEANUP, 0, file, parameters, true);
    let (post, _) = op.pre(file);
    let path = with(|k| k.volume.fs.open(open).map(|o| o.path.clone()));
    let outcome = with(|k| k.volume.fs.close(open));
    op.post(post, file, 0);
    let mut deferred = Vec::new();
    with(|k| {
        let _ = k.io.remove_handle(handle);
        k.volume.file_of.remove(&open);
        k.volume.open_of.remove(&file);
        // IRP_MJ_CLOSE once nothing else references the file object; Filter Manager deletes
        // the stream-handle context then. The sim closes it with the handle.
        k.flt.detach(Attached::Handle(file), &mut deferred);
        if let Some(path) = &path {
            let referenced = k.volume.fs.opens_of(path) > 0
                || k.volume
                    .fs
                    .stream(path)
                    .is_some_and(|s| s.data_scan_sections + s.user_sections > 0);
            if !referenced {
                let stream = k.volume.stream_key(path);
                k.flt.detach(Attached::Stream(stream), &mut deferred);
            }
        }
        let _ = k.io.dereference(file);
    });
    super::run_deferred(deferred);
    super::machine::run_work_items();
    Completed {
        status: outcome.status.as_i32(),
        outcome: Some(outcome),
        ..Completed::default()
    }
}

/// `IRP_MJ_WRITE` through the filter.
#[must_use]
pub fn write(handle: u64, offset: u64, bytes: &[u8], non_cached: bool, step: usize) -> Completed {
    let Some((file, open)) = file_of_handle(handle) else {
        return invalid_handle();
    };
    let mut buffer = bytes.to_vec();
    let parameters = FLT_PARAMETERS {
        Write: FLT_WRITE_PARAMETERS {
            Length: u32::try_from(bytes.len()).unwrap_or(u32::MAX),
            Pad1: 0,
            Key: 0,
            ByteOffset: i64::try_from(offset).unwrap_or(i64::MAX),
            WriteBuffer: buffer.as_mut_ptr().cast(),
            MdlAddress: core::ptr::null_mut(),
        },
    };
    let mut op = Operation::new(IRP_MJ_WRITE, 0, file, parameters, true);
    if non_cached {
        op.iopb.IrpFlags |= IRP_NOCACHE;
    }
    let (post, completed) = op.pre(file);
    let outcome = below(completed, |fs| {
        fs.write(open, offset, bytes, non_cached, step)
    });
    op.post(post, file, outcome.status.as_i32());
    finished(outcome)
}

/// `IRP_MJ_SET_INFORMATION` through the filter: `FileEndOfFileInformation` for a resize,
/// `FileBasicInformation` otherwise.
#[must_use]
pub fn set_information(handle: u64, resize: Option<u64>) -> Completed {
    let Some((file, open)) = file_of_handle(handle) else {
        return invalid_handle();
    };
    let mut size = resize.unwrap_or(0).to_le_bytes();
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
    let outcome = below(completed, |fs| fs.set_information(open, resize));
    op.post(post, file, outcome.status.as_i32());
    finished(outcome)
}

/// `FSCTL_SET_PURGE_FAILURE_MODE` from above the filter on a handle: the file system counts
/// and re-issues what it held before completing it; then the filter's post-operation callback.
#[must_use]
pub fn set_purge_failure_mode(handle: u64, requestor: RequestorMode, input: &[u8]) -> Completed {
    let Some((file, open)) = file_of_handle(handle) else {
        return invalid_handle();
    };
    let mut buffer = input.to_vec();
    let kernel = matches!(requestor, RequestorMode::Kernel);
    let parameters = FLT_PARAMETERS {
        FileSystemControl: FLT_FSCTL_BUFFERED_PARAMETERS {
            OutputBufferLength: 0,
            Pad1: 0,
            InputBufferLength: u32::try_from(input.len()).unwrap_or(u32::MAX),
            Pad2: 0,
            FsControlCode: FSCTL_SET_PURGE_FAILURE_MODE,
            SystemBuffer: if buffer.is_empty() {
                core::ptr::null_mut()
            } else {
                buffer.as_mut_ptr().cast()
            },
        },
    };
    let minor = if kernel {
        IRP_MN_KERNEL_CALL
    } else {
        IRP_MN_USER_FS_REQUEST
    };
    let mut op = Operation::new(IRP_MJ_FILE_SYSTEM_CONTROL, minor, file, parameters, !kernel);
    let (post, completed) = op.pre(file);
    let outcome = match completed {
        Some(status) => FsOutcome {
            status: NtStatus::from_i32(status),
            ..FsOutcome::default()
        },
        None => with(|k| {
            let mut outcome = k.volume.fs.set_purge_failure_mode(open, requestor, input);
            for held in outcome.released.clone() {
                let again = k.volume.fs.reissue(&held);
                outcome.breaks.extend(again.breaks);
            }
            outcome
        }),
    };
    op.post(post, file, outcome.status.as_i32());
    finished(outcome)
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
