//! Filter Manager's side: registration, the instance on the simulated volume, stream and
//! stream-handle contexts with their references, ECP lists, generic work items, the flush
//! the purge path calls and the read the inspect path calls. The operations themselves (building `FLT_CALLBACK_DATA` and calling the
//! filter's pre- and post-operation callbacks) are [`crate::kernel::machine`]'s.
#![allow(non_snake_case, reason = "Filter Manager's routine names")]

use core::ffi::c_void;
use std::alloc::Layout;
use std::collections::{HashMap, VecDeque};

use super::layout::{DRIVER_OBJECT, FLT_REGISTRATION, GUID, PostOperation, PreOperation};
use super::nt::{STATUS_INSUFFICIENT_RESOURCES, STATUS_SUCCESS};
use super::wdf::STATUS_INVALID_PARAMETER;
use super::{APC_LEVEL, Deferred, Kernel, PASSIVE_LEVEL, Violation, with, with_deferred};

mod contexts;
mod ecps;
mod io;
mod objects;

pub use contexts::{
    FltAllocateContext, FltGetStreamContext, FltGetStreamHandleContext, FltReleaseContext,
    FltSetStreamContext, FltSetStreamHandleContext,
};
pub use ecps::{
    FltGetEcpListFromCallbackData, FltGetNextExtraCreateParameter, FltIsEcpFromUserMode,
};
pub use io::{
    FltAllocateGenericWorkItem, FltFlushBuffers2, FltFreeGenericWorkItem, FltQueueGenericWorkItem,
    FltReadFile, byte_offset, open_synchronously,
};
pub use objects::{FltGetVolumeFromFileObject, FltGetVolumeInstanceFromName, FltObjectDereference};

/// `STATUS_NOT_FOUND`.
pub const STATUS_NOT_FOUND: i32 = 0xC000_0225_u32.cast_signed();
/// `STATUS_NOT_SUPPORTED`.
pub const STATUS_NOT_SUPPORTED: i32 = 0xC000_00BB_u32.cast_signed();
/// `STATUS_FLT_CONTEXT_ALREADY_DEFINED`.
pub const STATUS_FLT_CONTEXT_ALREADY_DEFINED: i32 = 0xC01C_0002_u32.cast_signed();
/// `STATUS_FLT_DELETING_OBJECT`.
pub const STATUS_FLT_DELETING_OBJECT: i32 = 0xC01C_000B_u32.cast_signed();
/// `STATUS_FLT_INSTANCE_NOT_FOUND`.
pub const STATUS_FLT_INSTANCE_NOT_FOUND: i32 = 0xC01C_0015_u32.cast_signed();
/// `STATUS_FLT_INVALID_CONTEXT_REGISTRATION`.
pub const STATUS_FLT_INVALID_CONTEXT_REGISTRATION: i32 = 0xC01C_0017_u32.cast_signed();
/// `STATUS_FLT_NOT_INITIALIZED`.
pub const STATUS_FLT_NOT_INITIALIZED: i32 = 0xC01C_0007_u32.cast_signed();
/// `STATUS_END_OF_FILE`.
pub const STATUS_END_OF_FILE: i32 = 0xC000_0011_u32.cast_signed();
/// `STATUS_FILE_CLOSED`.
pub const STATUS_FILE_CLOSED: i32 = 0xC000_0128_u32.cast_signed();

/// `FLTFL_IO_OPERATION_DO_NOT_UPDATE_BYTE_OFFSET`: `FltReadFile` leaves `CurrentByteOffset`.
pub const FLTFL_IO_OPERATION_DO_NOT_UPDATE_BYTE_OFFSET: u32 = 0x0000_0004;
/// `FO_SYNCHRONOUS_IO` (`FILE_OBJECT.Flags`): the file was opened for synchronous I/O, so a read
/// moves its `CurrentByteOffset`.
pub const FO_SYNCHRONOUS_IO: u32 = 0x0000_0002;

/// `FLT_STREAM_CONTEXT`.
pub const FLT_STREAM_CONTEXT: u16 = 0x0008;
/// `FLT_STREAMHANDLE_CONTEXT`.
pub const FLT_STREAMHANDLE_CONTEXT: u16 = 0x0010;
/// `FLT_CONTEXT_END`.
const FLT_CONTEXT_END: u16 = 0xFFFF;
/// `IRP_MJ_OPERATION_END`.
const IRP_MJ_OPERATION_END: u8 = 0x80;
/// `FLT_SET_CONTEXT_REPLACE_IF_EXISTS`.
const REPLACE_IF_EXISTS: i32 = 0;
/// `FLT_SET_CONTEXT_KEEP_IF_EXISTS`.
const KEEP_IF_EXISTS: i32 = 1;
/// `FLT_REGISTRATION_VERSION` (0x0203).
const REGISTRATION_VERSION: u16 = 0x0203;

const FLT_TAG: usize = 0xFFFF_C000_0000_0000;
const FILTER_HANDLE: usize = FLT_TAG | 0x1000;
const VOLUME_HANDLE: usize = FLT_TAG | 0x2000;
const INSTANCE_HANDLE: usize = FLT_TAG | 0x3000;

/// The filter's registration, as Filter Manager copied it.
#[derive(Clone, Default)]
pub struct Registration {
    /// Pre- and post-operation callbacks by major function.
    pub operations: HashMap<u8, (Option<PreOperation>, Option<PostOperation>)>,
    /// Context types: (type, cleanup, size, pool tag).
    pub contexts: Vec<(
        u16,
        Option<unsafe extern "C" fn(*mut c_void, u16)>,
        usize,
        u32,
    )>,
    /// `FilterUnloadCallback`.
    pub unload: Option<unsafe extern "C" fn(u32) -> i32>,
    /// `InstanceSetupCallback`.
    pub instance_setup: Option<
        unsafe extern "C" fn(*const super::layout::FLT_RELATED_OBJECTS, u32, u32, i32) -> i32,
    >,
    /// `InstanceQueryTeardownCallback`.
    pub query_teardown:
        Option<unsafe extern "C" fn(*const super::layout::FLT_RELATED_OBJECTS, u32) -> i32>,
}

/// What a context is attached to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attached {
    /// A stream (the file system's stream key).
    Stream(u64),
    /// A file object (its address).
    Handle(usize),
}

/// A Filter Manager context.
pub struct Context {
    /// `FLT_STREAM_CONTEXT` or `FLT_STREAMHANDLE_CONTEXT`.
    pub kind: u16,
    /// References: the allocation's, Filter Manager's while attached, each `FltGet*`.
    pub refs: u32,
    /// What it is attached to.
    pub attached: Option<Attached>,
    layout: Layout,
    cleanup: Option<unsafe extern "C" fn(*mut c_void, u16)>,
}

/// One ECP in a list.
pub struct Ecp {
    /// The type.
    pub ecp_type: GUID,
    /// `FltIsEcpFromUserMode`.
    pub from_user_mode: bool,
    memory: Vec<u64>,
    /// Context bytes.
    pub size: usize,
    original: Vec<u8>,
}

impl Ecp {
    /// An ECP with a context of `bytes`.
    #[must_use]
    pub fn new(ecp_type: GUID, from_user_mode: bool, bytes: &[u8]) -> Self {
        let mut memory = vec![0u64; bytes.len().div_ceil(8).max(1)];
        let view: &mut [u8] = zerocopy::IntoBytes::as_mut_bytes(memory.as_mut_slice());
        view[..bytes.len()].copy_from_slice(bytes);
        Self {
            ecp_type,
            from_user_mode,
            memory,
            size: bytes.len(),
            original: bytes.to_vec(),
        }
    }

    fn address(&self) -> usize {
        self.memory.as_ptr() as usize
    }

    /// The context bytes now.
    #[must_use]
    pub fn bytes(&self) -> &[u8] {
        &zerocopy::IntoBytes::as_bytes(self.memory.as_slice())[..self.size]
    }

    /// Whether the context still holds what the creator attached.
    #[must_use]
    pub fn unchanged(&self) -> bool {
        self.bytes() == self.original.as_slice()
    }
}

/// A generic work item.
#[derive(Clone, Copy)]
pub struct WorkItem {
    /// Queued with this routine, object and context.
    pub queued: Option<(WorkRoutine, usize, usize)>,
}

/// `PFLT_GENERIC_WORKITEM_ROUTINE`.
pub type WorkRoutine = unsafe extern "C" fn(*mut c_void, *mut c_void, *mut c_void);

/// Filter Manager's state.
#[derive(Default)]
pub struct FilterManager {
    /// The registration, from `FltRegisterFilter` until `FltUnregisterFilter`.
    pub registration: Option<Registration>,
    /// `FltStartFiltering` ran.
    pub started: bool,
    /// The instance on the volume is attached.
    pub attached: bool,
    /// The unload routine Filter Manager saved when it replaced the driver's.
    pub saved_unload: Option<unsafe extern "C" fn(*mut DRIVER_OBJECT)>,
    /// Contexts by address.
    pub contexts: HashMap<usize, Context>,
    /// Stream contexts by stream.
    pub stream_contexts: HashMap<u64, usize>,
    /// Stream-handle contexts by file object.
    pub handle_contexts: HashMap<usize, usize>,
    /// The stream of each file object on the volume.
    pub file_streams: HashMap<usize, u64>,
    /// ECP lists by handle: (list, live).
    pub ecp_lists: HashMap<usize, (Vec<Ecp>, bool)>,
    /// The ECP list of each callback data.
    pub ecp_of_data: HashMap<usize, usize>,
    next_list: usize,
    /// References the filter holds on the volume and the instance.
    pub volume_refs: u32,
    /// As above, the instance.
    pub instance_refs: u32,
    /// Work items by handle.
    pub work_items: HashMap<usize, WorkItem>,
    next_item: usize,
    /// Queued work, in order.
    pub queue: VecDeque<usize>,
    /// What the filter's flushes asked of the file system: (file object, status).
    pub flushes: Vec<(usize, i32)>,
    /// The filter's reads (`FltReadFile`), in order.
    pub reads: Vec<FilterRead>,
}

/// One `FltReadFile` the filter issued that reached the file system.
#[derive(Clone, Debug)]
pub struct FilterRead {
    /// The file object it was issued on.
    pub file: usize,
    /// Byte offset.
    pub offset: u64,
    /// Bytes asked for.
    pub length: u32,
    /// What `FltReadFile` returned.
    pub status: i32,
    /// What the file system did (its oplock breaks included).
    pub outcome: crate::fs::FsOutcome,
}

impl FilterManager {
    /// The filter handle, the volume, the instance.
    #[must_use]
    pub const fn handles() -> (usize, usize, usize) {
        (FILTER_HANDLE, VOLUME_HANDLE, INSTANCE_HANDLE)
    }

    /// A new ECP list; its handle.
    pub fn new_ecp_list(&mut self, ecps: Vec<Ecp>) -> usize {
        self.next_list += 1;
        let handle = FLT_TAG | 0x10_0000 | self.next_list;
        self.ecp_lists.insert(handle, (ecps, true));
        handle
    }

    /// Releases a context's memory after its cleanup callback ran.
    pub fn free_context(&mut self, address: usize) {
        if let Some(context) = self.contexts.remove(&address) {
            // SAFETY: allocated with this layout in FltAllocateContext.
            unsafe { std::alloc::dealloc(address as *mut u8, context.layout) };
        }
    }

    /// Drops one reference of a context; at zero its cleanup is deferred.
    pub fn release(&mut self, address: usize, deferred: &mut Vec<Deferred>) -> Option<()> {
        let context = self.contexts.get_mut(&address)?;
        context.refs = context.refs.checked_sub(1)?;
        if context.refs == 0 {
            deferred.push(Deferred::ContextCleanup(
                context.cleanup,
                address,
                context.kind,
            ));
        }
        Some(())
    }

    /// Deletes the context attached to `what` (Filter Manager's reference goes).
    pub fn detach(&mut self, what: Attached, deferred: &mut Vec<Deferred>) {
        let address = match what {
            Attached::Stream(stream) => self.stream_contexts.remove(&stream),
            Attached::Handle(file) => self.handle_contexts.remove(&file),
        };
        if let Some(address) = address {
            if let Some(context) = self.contexts.get_mut(&address) {
                context.attached = None;
            }
            let _ = self.release(address, deferred);
        }
    }

    /// Every attached context goes (the instance is torn down).
    pub fn detach_all(&mut self, deferred: &mut Vec<Deferred>) {
        let streams: Vec<u64> = self.stream_contexts.keys().copied().collect();
        for stream in streams {
            self.detach(Attached::Stream(stream), deferred);
        }
        let handles: Vec<usize> = self.handle_contexts.keys().copied().collect();
        for file in handles {
            self.detach(Attached::Handle(file), deferred);
        }
    }
}

fn filter_ok(k: &mut Kernel, routine: &'static str, filter: *mut c_void) -> bool {
    if filter as usize == FILTER_HANDLE && k.flt.registration.is_some() {
        true
    } else {
        k.report(Violation::UseAfterFree {
            routine,
            handle: format!("{filter:p}"),
        });
        false
    }
}

fn instance_ok(k: &mut Kernel, routine: &'static str, instance: *mut c_void) -> bool {
    if instance as usize == INSTANCE_HANDLE && k.flt.registration.is_some() {
        true
    } else {
        k.report(Violation::UseAfterFree {
            routine,
            handle: format!("{instance:p}"),
        });
        false
    }
}

/// # Safety
/// `out` is a writable pointer or null.
unsafe fn write_out<T>(out: *mut T, value: T) {
    if !out.is_null() {
        // SAFETY: the caller passes a writable out pointer.
        unsafe { out.write(value) };
    }
}

/// Copies the filter's registration tables.
///
/// # Safety
/// `registration` points to a valid `FLT_REGISTRATION` whose tables are terminated.
unsafe fn copy_registration(registration: *const FLT_REGISTRATION) -> Result<Registration, i32> {
    // SAFETY: the caller passes a valid registration.
    let registration = unsafe { &*registration };
    if usize::from(registration.Size) != size_of::<FLT_REGISTRATION>()
        || registration.Version != REGISTRATION_VERSION
    {
        return Err(STATUS_INVALID_PARAMETER);
    }
    let mut copied = Registration {
        unload: registration.FilterUnloadCallback,
        instance_setup: registration.InstanceSetupCallback,
        query_teardown: registration.InstanceQueryTeardownCallback,
        ..Registration::default()
    };
    let mut operation = registration.OperationRegistration;
    // SAFETY: the table ends with IRP_MJ_OPERATION_END; each entry is read in turn.
    while !operation.is_null() && unsafe { (*operation).MajorFunction } != IRP_MJ_OPERATION_END {
        // SAFETY: as above.
        let entry = unsafe { &*operation };
        copied.operations.insert(
            entry.MajorFunction,
            (entry.PreOperation, entry.PostOperation),
        );
        // SAFETY: not past the terminator.
        operation = unsafe { operation.add(1) };
    }
    let mut context = registration.ContextRegistration;
    // SAFETY: the table ends with FLT_CONTEXT_END.
    while !context.is_null() && unsafe { (*context).ContextType } != FLT_CONTEXT_END {
        // SAFETY: as above.
        let entry = unsafe { &*context };
        if entry.ContextType != FLT_STREAM_CONTEXT && entry.ContextType != FLT_STREAMHANDLE_CONTEXT
        {
            return Err(STATUS_FLT_INVALID_CONTEXT_REGISTRATION);
        }
        copied.contexts.push((
            entry.ContextType,
            entry.ContextCleanupCallback,
            entry.Size,
            entry.PoolTag,
        ));
        // SAFETY: not past the terminator.
        context = unsafe { context.add(1) };
    }
    Ok(copied)
}

/// `FltRegisterFilter`.
///
/// # Safety
/// The driver object the sim passed to `DriverEntry`, a valid registration, an out pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn FltRegisterFilter(
    driver: *mut DRIVER_OBJECT,
    registration: *const FLT_REGISTRATION,
    filter: *mut *mut c_void,
) -> i32 {
    super::pool::as_kernel(|| {
        // SAFETY: forwarded from the caller.
        let copied = unsafe { copy_registration(registration) };
        // SAFETY: the driver object is the sim's, live while the driver is loaded.
        let saved = unsafe { (*driver).DriverUnload };
        let status = with(|k| {
            k.enter("FltRegisterFilter", PASSIVE_LEVEL);
            let copied = copied?;
            if k.flt.registration.is_some() {
                return Err(STATUS_INVALID_PARAMETER);
            }
            if k.fails("FltRegisterFilter") {
                return Err(STATUS_INSUFFICIENT_RESOURCES);
            }
            k.flt.registration = Some(copied);
            k.flt.saved_unload = saved;
            Ok(())
        });
        match status {
            Ok(()) => {
                // Filter Manager replaces the unload routine and calls the saved one after the
                // filter's unload callback.
                // SAFETY: as above.
                unsafe { (*driver).DriverUnload = Some(super::machine::fltmgr_driver_unload) };
                // SAFETY: the driver's out pointer.
                unsafe { write_out(filter, FILTER_HANDLE as *mut c_void) };
                STATUS_SUCCESS
            }
            Err(status) => status,
        }
    })
}

/// `FltStartFiltering`: attaches the instance to the volume through `InstanceSetupCallback`.
///
/// # Safety
/// A filter handle from `FltRegisterFilter`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn FltStartFiltering(filter: *mut c_void) -> i32 {
    super::pool::as_kernel(|| {
        let status = with(|k| {
            k.enter("FltStartFiltering", PASSIVE_LEVEL);
            if !filter_ok(k, "FltStartFiltering", filter) {
                return STATUS_INVALID_PARAMETER;
            }
            if k.fails("FltStartFiltering") {
                return STATUS_INSUFFICIENT_RESOURCES;
            }
            k.flt.started = true;
            STATUS_SUCCESS
        });
        if status == STATUS_SUCCESS {
            super::machine::attach_instance();
        }
        status
    })
}

/// `FltUnregisterFilter`: tears the instance down (its contexts go) and checks nothing the
/// filter holds is left; on Windows it would wait for those forever.
///
/// # Safety
/// A filter handle from `FltRegisterFilter`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn FltUnregisterFilter(filter: *mut c_void) {
    super::pool::as_kernel(|| {
        with_deferred(|k, deferred| {
            k.enter("FltUnregisterFilter", PASSIVE_LEVEL);
            if !filter_ok(k, "FltUnregisterFilter", filter) {
                return;
            }
            k.flt.attached = false;
            k.flt.detach_all(deferred);
        });
        super::machine::run_work_items();
        with(|k| {
            let held: Vec<String> = k
                .flt
                .contexts
                .values()
                .map(|c| format!("type {:#x} with {} references", c.kind, c.refs))
                .collect();
            if !held.is_empty() {
                k.report(Violation::Leak {
                    what: "contexts",
                    count: held.len(),
                    detail: held.join(", "),
                });
            }
            if k.flt.volume_refs + k.flt.instance_refs != 0 {
                let detail = format!(
                    "volume {} instance {}",
                    k.flt.volume_refs, k.flt.instance_refs
                );
                k.report(Violation::Leak {
                    what: "Filter Manager object references",
                    count: (k.flt.volume_refs + k.flt.instance_refs) as usize,
                    detail,
                });
            }
            if !k.flt.work_items.is_empty() {
                let count = k.flt.work_items.len();
                k.report(Violation::Leak {
                    what: "generic work items",
                    count,
                    detail: String::new(),
                });
            }
            k.flt.registration = None;
            k.flt.started = false;
        });
    });
}

/// `FltIsVolumeWritable`.
///
/// # Safety
/// A volume or instance, and a writable out pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn FltIsVolumeWritable(_object: *mut c_void, writable: *mut u8) -> i32 {
    super::pool::as_kernel(|| {
        with(|k| k.enter("FltIsVolumeWritable", APC_LEVEL));
        // SAFETY: the driver's out pointer.
        unsafe { write_out(writable, 1) };
        STATUS_SUCCESS
    })
}
