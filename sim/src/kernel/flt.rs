//! Filter Manager's side: registration, the instance on the simulated volume, stream and
//! stream-handle contexts with their references, ECP lists, generic work items, the flush
//! the purge path calls and the read the inspect path calls. The operations themselves (building `FLT_CALLBACK_DATA` and calling the
//! filter's pre- and post-operation callbacks) are [`crate::kernel::machine`]'s.
#![allow(non_snake_case, reason = "Filter Manager's routine names")]

use core::ffi::c_void;
use std::alloc::Layout;
use std::collections::{HashMap, VecDeque};

use super::layout::{
    DRIVER_OBJECT, FLT_CALLBACK_DATA, FLT_REGISTRATION, GUID, PostOperation, PreOperation,
};
use super::nt::{STATUS_INSUFFICIENT_RESOURCES, STATUS_SUCCESS};
use super::wdf::STATUS_INVALID_PARAMETER;
use super::{APC_LEVEL, DISPATCH_LEVEL, Deferred, Kernel, PASSIVE_LEVEL, Violation, with};

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
        let mut deferred = Vec::new();
        with(|k| {
            k.enter("FltUnregisterFilter", PASSIVE_LEVEL);
            if !filter_ok(k, "FltUnregisterFilter", filter) {
                return;
            }
            k.flt.attached = false;
            k.flt.detach_all(&mut deferred);
        });
        super::run_deferred(deferred);
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

// ---- ECPs ---------------------------------------------------------------------------------------

/// `FltGetEcpListFromCallbackData`.
///
/// # Safety
/// The filter, a callback data Filter Manager passed, a writable out pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn FltGetEcpListFromCallbackData(
    filter: *mut c_void,
    data: *mut FLT_CALLBACK_DATA,
    list: *mut *mut c_void,
) -> i32 {
    super::pool::as_kernel(|| {
        let found = with(|k| {
            k.enter("FltGetEcpListFromCallbackData", APC_LEVEL);
            if !filter_ok(k, "FltGetEcpListFromCallbackData", filter) {
                return None;
            }
            k.flt.ecp_of_data.get(&(data as usize)).copied()
        });
        // SAFETY: the driver's out pointer.
        unsafe { write_out(list, found.unwrap_or(0) as *mut c_void) };
        STATUS_SUCCESS
    })
}

/// `FltGetNextExtraCreateParameter`.
///
/// # Safety
/// A list from `FltGetEcpListFromCallbackData`; the out pointers are writable or null.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn FltGetNextExtraCreateParameter(
    filter: *mut c_void,
    list: *mut c_void,
    current: *mut c_void,
    ecp_type: *mut GUID,
    context: *mut *mut c_void,
    size: *mut u32,
) -> i32 {
    super::pool::as_kernel(|| {
        let next = with(|k| {
            k.enter("FltGetNextExtraCreateParameter", APC_LEVEL);
            if !filter_ok(k, "FltGetNextExtraCreateParameter", filter) {
                return None;
            }
            let Some((ecps, live)) = k.flt.ecp_lists.get(&(list as usize)) else {
                k.report(Violation::EcpUseAfterFree { list: list as u64 });
                return None;
            };
            if !*live {
                k.report(Violation::EcpUseAfterFree { list: list as u64 });
                return None;
            }
            let position = if current.is_null() {
                0
            } else {
                ecps.iter().position(|e| e.address() == current as usize)? + 1
            };
            ecps.get(position)
                .map(|ecp| (ecp.ecp_type, ecp.address(), ecp.size))
        });
        let Some((kind, address, length)) = next else {
            return STATUS_NOT_FOUND;
        };
        // SAFETY: the driver's out pointers.
        unsafe { write_out(ecp_type, kind) };
        // SAFETY: as above.
        unsafe { write_out(context, address as *mut c_void) };
        // SAFETY: as above.
        unsafe { write_out(size, u32::try_from(length).unwrap_or(u32::MAX)) };
        STATUS_SUCCESS
    })
}

/// `FltIsEcpFromUserMode`.
///
/// # Safety
/// An ECP context pointer from `FltGetNextExtraCreateParameter`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn FltIsEcpFromUserMode(filter: *mut c_void, context: *mut c_void) -> u8 {
    super::pool::as_kernel(|| {
        with(|k| {
            k.enter("FltIsEcpFromUserMode", DISPATCH_LEVEL);
            if !filter_ok(k, "FltIsEcpFromUserMode", filter) {
                return 0;
            }
            let from_user = k.flt.ecp_lists.values().find_map(|(ecps, _)| {
                ecps.iter()
                    .find(|e| e.address() == context as usize)
                    .map(|e| e.from_user_mode)
            });
            u8::from(from_user.unwrap_or(false))
        })
    })
}

// ---- contexts -----------------------------------------------------------------------------------

/// `FltAllocateContext`. The memory is not zeroed (pool), so the filter must initialize it.
///
/// # Safety
/// The filter and a writable out pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn FltAllocateContext(
    filter: *mut c_void,
    context_type: u16,
    size: usize,
    _pool_type: i32,
    context: *mut *mut c_void,
) -> i32 {
    super::pool::as_kernel(|| {
        let allocated = with(|k| {
            k.enter("FltAllocateContext", APC_LEVEL);
            if !filter_ok(k, "FltAllocateContext", filter) {
                return Err(STATUS_INVALID_PARAMETER);
            }
            let registered = k
                .flt
                .registration
                .as_ref()
                .and_then(|r| r.contexts.iter().find(|c| c.0 == context_type).copied());
            let Some((_, cleanup, registered_size, _)) = registered else {
                return Err(STATUS_FLT_INVALID_CONTEXT_REGISTRATION);
            };
            if size != registered_size {
                return Err(STATUS_INVALID_PARAMETER);
            }
            if k.fails("FltAllocateContext") {
                return Err(STATUS_INSUFFICIENT_RESOURCES);
            }
            let layout =
                Layout::from_size_align(size.max(1), 16).map_err(|_| STATUS_INVALID_PARAMETER)?;
            // SAFETY: a non-zero size.
            let address = unsafe { std::alloc::alloc(layout) };
            if address.is_null() {
                return Err(STATUS_INSUFFICIENT_RESOURCES);
            }
            // Pool memory is not zeroed; a recognisable pattern shows a read before a write.
            // SAFETY: `address` has `layout.size()` writable bytes.
            unsafe { address.write_bytes(0xA5, layout.size()) };
            k.flt.contexts.insert(
                address as usize,
                Context {
                    kind: context_type,
                    refs: 1,
                    attached: None,
                    layout,
                    cleanup,
                },
            );
            Ok(address as usize)
        });
        match allocated {
            Ok(address) => {
                // SAFETY: the driver's out pointer.
                unsafe { write_out(context, address as *mut c_void) };
                STATUS_SUCCESS
            }
            Err(status) => status,
        }
    })
}

/// `FltReleaseContext`.
///
/// # Safety
/// A context the caller holds a reference on.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn FltReleaseContext(context: *mut c_void) {
    super::pool::as_kernel(|| {
        let mut deferred = Vec::new();
        with(|k| {
            k.enter("FltReleaseContext", DISPATCH_LEVEL);
            if k.flt.release(context as usize, &mut deferred).is_none() {
                k.report(Violation::ReferenceUnderflow {
                    routine: "FltReleaseContext",
                    handle: format!("{context:p}"),
                });
            }
        });
        super::run_deferred(deferred);
    });
}

fn get_context(
    routine: &'static str,
    instance: *mut c_void,
    what: impl FnOnce(&FilterManager) -> Option<usize>,
    context: *mut *mut c_void,
) -> i32 {
    let found = with(|k| {
        k.enter(routine, APC_LEVEL);
        if !instance_ok(k, routine, instance) {
            return Err(STATUS_INVALID_PARAMETER);
        }
        if k.fails(routine) {
            return Err(STATUS_NOT_FOUND);
        }
        let address = what(&k.flt).ok_or(STATUS_NOT_FOUND)?;
        if let Some(found) = k.flt.contexts.get_mut(&address) {
            found.refs += 1;
        }
        Ok(address)
    });
    match found {
        Ok(address) => {
            // SAFETY: the driver's out pointer.
            unsafe { write_out(context, address as *mut c_void) };
            STATUS_SUCCESS
        }
        Err(status) => status,
    }
}

/// `FltGetStreamContext`.
///
/// # Safety
/// The instance, a file object on its volume, a writable out pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn FltGetStreamContext(
    instance: *mut c_void,
    file: *mut c_void,
    context: *mut *mut c_void,
) -> i32 {
    super::pool::as_kernel(|| {
        get_context(
            "FltGetStreamContext",
            instance,
            |flt| {
                let stream = flt.file_streams.get(&(file as usize))?;
                flt.stream_contexts.get(stream).copied()
            },
            context,
        )
    })
}

/// `FltGetStreamHandleContext`.
///
/// # Safety
/// As [`FltGetStreamContext`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn FltGetStreamHandleContext(
    instance: *mut c_void,
    file: *mut c_void,
    context: *mut *mut c_void,
) -> i32 {
    super::pool::as_kernel(|| {
        get_context(
            "FltGetStreamHandleContext",
            instance,
            |flt| flt.handle_contexts.get(&(file as usize)).copied(),
            context,
        )
    })
}

fn set_context(
    routine: &'static str,
    instance: *mut c_void,
    file: usize,
    stream: bool,
    operation: i32,
    new: usize,
    old: *mut *mut c_void,
) -> i32 {
    let mut deferred = Vec::new();
    let result = with(|k| {
        k.enter(routine, APC_LEVEL);
        if !instance_ok(k, routine, instance) {
            return Err(STATUS_INVALID_PARAMETER);
        }
        let expected = if stream {
            FLT_STREAM_CONTEXT
        } else {
            FLT_STREAMHANDLE_CONTEXT
        };
        match k.flt.contexts.get(&new) {
            Some(context) if context.kind == expected && context.attached.is_none() => {}
            _ => {
                k.report(Violation::BadArgument {
                    routine,
                    detail: "not an unattached context of this type".to_owned(),
                });
                return Err(STATUS_INVALID_PARAMETER);
            }
        }
        let key = if stream {
            Attached::Stream(*k.flt.file_streams.get(&file).ok_or(STATUS_NOT_SUPPORTED)?)
        } else {
            Attached::Handle(file)
        };
        if k.fails(routine) {
            return Err(STATUS_FLT_DELETING_OBJECT);
        }
        let existing = match key {
            Attached::Stream(s) => k.flt.stream_contexts.get(&s).copied(),
            Attached::Handle(f) => k.flt.handle_contexts.get(&f).copied(),
        };
        if let Some(existing) = existing {
            if operation == KEEP_IF_EXISTS {
                if !old.is_null()
                    && let Some(context) = k.flt.contexts.get_mut(&existing)
                {
                    context.refs += 1;
                }
                return Ok(Some((existing, STATUS_FLT_CONTEXT_ALREADY_DEFINED)));
            }
            if operation != REPLACE_IF_EXISTS {
                return Err(STATUS_INVALID_PARAMETER);
            }
            if !old.is_null()
                && let Some(context) = k.flt.contexts.get_mut(&existing)
            {
                context.refs += 1;
            }
            k.flt.detach(key, &mut deferred);
        }
        match key {
            Attached::Stream(s) => k.flt.stream_contexts.insert(s, new),
            Attached::Handle(f) => k.flt.handle_contexts.insert(f, new),
        };
        if let Some(context) = k.flt.contexts.get_mut(&new) {
            context.attached = Some(key);
            context.refs += 1;
        }
        Ok(existing.map(|e| (e, STATUS_SUCCESS)))
    });
    super::run_deferred(deferred);
    match result {
        Ok(previous) => {
            let (address, status) = previous.unwrap_or((0, STATUS_SUCCESS));
            // SAFETY: the driver's optional out pointer.
            unsafe { write_out(old, address as *mut c_void) };
            status
        }
        Err(status) => {
            // SAFETY: as above.
            unsafe { write_out(old, core::ptr::null_mut()) };
            status
        }
    }
}

/// `FltSetStreamContext`.
///
/// # Safety
/// The instance, a file object on its volume, a context from `FltAllocateContext`, an optional
/// out pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn FltSetStreamContext(
    instance: *mut c_void,
    file: *mut c_void,
    operation: i32,
    new: *mut c_void,
    old: *mut *mut c_void,
) -> i32 {
    super::pool::as_kernel(|| {
        set_context(
            "FltSetStreamContext",
            instance,
            file as usize,
            true,
            operation,
            new as usize,
            old,
        )
    })
}

/// `FltSetStreamHandleContext`.
///
/// # Safety
/// As [`FltSetStreamContext`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn FltSetStreamHandleContext(
    instance: *mut c_void,
    file: *mut c_void,
    operation: i32,
    new: *mut c_void,
    old: *mut *mut c_void,
) -> i32 {
    super::pool::as_kernel(|| {
        set_context(
            "FltSetStreamHandleContext",
            instance,
            file as usize,
            false,
            operation,
            new as usize,
            old,
        )
    })
}

// ---- volumes and instances ------------------------------------------------------------------

/// `FltGetVolumeFromFileObject`.
///
/// # Safety
/// The filter, a referenced file object, a writable out pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn FltGetVolumeFromFileObject(
    filter: *mut c_void,
    file: *mut c_void,
    volume: *mut *mut c_void,
) -> i32 {
    super::pool::as_kernel(|| {
        let status = with(|k| {
            k.enter("FltGetVolumeFromFileObject", APC_LEVEL);
            if !filter_ok(k, "FltGetVolumeFromFileObject", filter) {
                return STATUS_INVALID_PARAMETER;
            }
            if k.fails("FltGetVolumeFromFileObject") {
                return STATUS_INSUFFICIENT_RESOURCES;
            }
            if !k.flt.file_streams.contains_key(&(file as usize)) {
                return STATUS_INVALID_PARAMETER;
            }
            k.flt.volume_refs += 1;
            STATUS_SUCCESS
        });
        if status == STATUS_SUCCESS {
            // SAFETY: the driver's out pointer.
            unsafe { write_out(volume, VOLUME_HANDLE as *mut c_void) };
        }
        status
    })
}

/// `FltGetVolumeInstanceFromName` (the filter's own instance; one per volume).
///
/// # Safety
/// The filter, a referenced volume, a name or null, a writable out pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn FltGetVolumeInstanceFromName(
    filter: *mut c_void,
    volume: *mut c_void,
    _name: *const c_void,
    instance: *mut *mut c_void,
) -> i32 {
    super::pool::as_kernel(|| {
        let status = with(|k| {
            k.enter("FltGetVolumeInstanceFromName", APC_LEVEL);
            if !filter_ok(k, "FltGetVolumeInstanceFromName", filter) {
                return STATUS_INVALID_PARAMETER;
            }
            if volume as usize != VOLUME_HANDLE || k.flt.volume_refs == 0 {
                k.report(Violation::UseAfterFree {
                    routine: "FltGetVolumeInstanceFromName",
                    handle: format!("{volume:p}"),
                });
                return STATUS_INVALID_PARAMETER;
            }
            if k.fails("FltGetVolumeInstanceFromName") || !k.flt.attached {
                return STATUS_FLT_INSTANCE_NOT_FOUND;
            }
            k.flt.instance_refs += 1;
            STATUS_SUCCESS
        });
        if status == STATUS_SUCCESS {
            // SAFETY: the driver's out pointer.
            unsafe { write_out(instance, INSTANCE_HANDLE as *mut c_void) };
        }
        status
    })
}

/// `FltObjectDereference`.
///
/// # Safety
/// A volume or instance the caller referenced.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn FltObjectDereference(object: *mut c_void) {
    super::pool::as_kernel(|| {
        with(|k| {
            k.enter("FltObjectDereference", DISPATCH_LEVEL);
            let count = match object as usize {
                VOLUME_HANDLE => &mut k.flt.volume_refs,
                INSTANCE_HANDLE => &mut k.flt.instance_refs,
                _ => {
                    k.report(Violation::UseAfterFree {
                        routine: "FltObjectDereference",
                        handle: format!("{object:p}"),
                    });
                    return;
                }
            };
            if let Some(left) = count.checked_sub(1) {
                *count = left;
            } else {
                k.report(Violation::ReferenceUnderflow {
                    routine: "FltObjectDereference",
                    handle: format!("{object:p}"),
                });
            }
        });
    });
}

// ---- flush and work items --------------------------------------------------------------------

/// `FltFlushBuffers2`: flush and purge through the file system.
///
/// # Safety
/// The instance and a referenced file object on its volume.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn FltFlushBuffers2(
    instance: *mut c_void,
    file: *mut c_void,
    _flush_type: u32,
    _data: *mut c_void,
) -> i32 {
    super::pool::as_kernel(|| {
        let ok = with(|k| {
            k.enter("FltFlushBuffers2", PASSIVE_LEVEL);
            instance_ok(k, "FltFlushBuffers2", instance)
        });
        if !ok {
            return STATUS_INVALID_PARAMETER;
        }
        super::machine::flush_and_purge(file as usize)
    })
}

/// `PFLT_COMPLETED_ASYNC_IO_CALLBACK`.
pub type AsyncIoCallback = unsafe extern "C" fn(*mut c_void, *mut c_void);

/// `FltReadFile`, synchronous only: a read through `file` (a file object of the volume the
/// instance is attached to) as the file system's open of it, so the file system sees that open's
/// oplock key and access. The bytes go to `buffer`, their number to `*bytes_read`.
///
/// - a read that starts at or after the end of the file: `STATUS_END_OF_FILE`, nothing read;
/// - the file system's refusal (`STATUS_ACCESS_DENIED` for an open without read access) as is;
/// - a file object of the volume whose handle was closed: `STATUS_FILE_CLOSED`;
/// - a file object that is not of the volume, a null offset or buffer, a negative offset
///   (`FILE_USE_FILE_POINTER_POSITION` is not modelled): `STATUS_INVALID_PARAMETER`, with a
///   verifier finding for the first two;
/// - a completion callback (an asynchronous read, not modelled): `STATUS_NOT_SUPPORTED`.
///
/// A file object opened for synchronous I/O (`FO_SYNCHRONOUS_IO`) has its `CurrentByteOffset`
/// moved past what was read, unless the caller passes
/// `FLTFL_IO_OPERATION_DO_NOT_UPDATE_BYTE_OFFSET` (the current `FltReadFile` page says so without
/// excepting an explicit `ByteOffset`; older pages of `FltReadFileEx` except it, so the sim takes
/// the stricter reading, under which only the flag keeps the caller's position). Not modelled: an oplock owner that closes its
/// handle in answer to a break the read caused (the file system closes its open; the filter
/// does not see that cleanup).
///
/// # Safety
/// The instance, a referenced file object, a readable offset, `length` writable bytes at
/// `buffer`, a writable `bytes_read` or null.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments, reason = "FltReadFile's signature")]
pub unsafe extern "C" fn FltReadFile(
    instance: *mut c_void,
    file: *mut c_void,
    byte_offset: *const i64,
    length: u32,
    buffer: *mut c_void,
    flags: u32,
    bytes_read: *mut u32,
    callback: Option<AsyncIoCallback>,
    _callback_context: *mut c_void,
) -> i32 {
    super::pool::as_kernel(|| {
        // SAFETY: the driver's out pointer (optional).
        unsafe { write_out(bytes_read, 0) };
        let offset = if byte_offset.is_null() {
            None
        } else {
            // SAFETY: a non-null offset the caller passes is readable (caller).
            Some(unsafe { byte_offset.read() })
        };
        let read = with(|k| {
            k.enter("FltReadFile", PASSIVE_LEVEL);
            if !instance_ok(k, "FltReadFile", instance) {
                return Err(STATUS_INVALID_PARAMETER);
            }
            if callback.is_some() {
                return Err(STATUS_NOT_SUPPORTED);
            }
            let file = file as usize;
            let Some(open) = k.volume.open_of.get(&file).copied() else {
                if k.flt.file_streams.contains_key(&file) {
                    return Err(STATUS_FILE_CLOSED);
                }
                k.report(Violation::BadArgument {
                    routine: "FltReadFile",
                    detail: format!("{file:#x} is not a file object of the instance's volume"),
                });
                return Err(STATUS_INVALID_PARAMETER);
            };
            let Some(offset) = offset else {
                k.report(Violation::BadArgument {
                    routine: "FltReadFile",
                    detail: "no ByteOffset (the file object's position is not modelled)".to_owned(),
                });
                return Err(STATUS_INVALID_PARAMETER);
            };
            let Ok(offset) = u64::try_from(offset) else {
                return Err(STATUS_INVALID_PARAMETER);
            };
            if buffer.is_null() && length > 0 {
                k.report(Violation::BadArgument {
                    routine: "FltReadFile",
                    detail: "a null buffer".to_owned(),
                });
                return Err(STATUS_INVALID_PARAMETER);
            }
            if k.fails("FltReadFile") {
                return Err(STATUS_INSUFFICIENT_RESOURCES);
            }
            let outcome = k.volume.fs.read(open, offset, length);
            let mut status = outcome.status.as_i32();
            if status >= 0 && outcome.data.is_empty() && length > 0 {
                // The read started at or after the end of the file.
                status = STATUS_END_OF_FILE;
            }
            let data = if status >= 0 {
                outcome.data.clone()
            } else {
                Vec::new()
            };
            k.flt.reads.push(FilterRead {
                file,
                offset,
                length,
                status,
                outcome,
            });
            Ok((status, data, offset))
        });
        let (status, data, offset) = match read {
            Ok(done) => done,
            Err(status) => return status,
        };
        if status < 0 {
            return status;
        }
        let count = data
            .len()
            .min(usize::try_from(length).unwrap_or(usize::MAX));
        // SAFETY: `buffer` has `length` writable bytes (caller) and `count <= length`; the file
        // system's data is a separate allocation.
        unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), buffer.cast::<u8>(), count) };
        let count = u32::try_from(count).unwrap_or(u32::MAX);
        // SAFETY: the driver's out pointer (optional).
        unsafe { write_out(bytes_read, count) };
        if flags & FLTFL_IO_OPERATION_DO_NOT_UPDATE_BYTE_OFFSET == 0 {
            // SAFETY: a file object of the volume (checked above), allocated by the sim's I/O
            // manager and referenced by the caller, so live; the driver does not touch it during
            // this call.
            let object = unsafe { &mut *file.cast::<super::layout::FILE_OBJECT>() };
            if object.Flags & FO_SYNCHRONOUS_IO != 0 {
                object.CurrentByteOffset =
                    i64::try_from(offset.saturating_add(u64::from(count))).unwrap_or(i64::MAX);
            }
        }
        status
    })
}

/// A test's view of the file object behind one of the caller's handles: marks it opened for
/// synchronous I/O (as a `CreateFileW` without `FILE_FLAG_OVERLAPPED` does) with its position at
/// `position`. Returns the file object, or `None` for a handle that is not a file of the volume.
pub fn open_synchronously(handle: u64, position: i64) -> Option<usize> {
    with(|k| {
        let file = k.io.handle(handle)?.file;
        k.volume.open_of.get(&file)?;
        // SAFETY: a live file object of the volume (its handle is open), owned by the I/O
        // manager's table; nothing else touches it while the kernel's state is borrowed.
        let object = unsafe { &mut *(file as *mut super::layout::FILE_OBJECT) };
        object.Flags |= FO_SYNCHRONOUS_IO;
        object.CurrentByteOffset = position;
        Some(file)
    })
}

/// The `CurrentByteOffset` of the file object behind one of the caller's handles.
#[must_use]
pub fn byte_offset(handle: u64) -> Option<i64> {
    with(|k| {
        let file = k.io.handle(handle)?.file;
        k.io.file(file)?;
        // SAFETY: a live file object (its handle is open), read while the kernel's state is
        // borrowed.
        let object = unsafe { &*(file as *const super::layout::FILE_OBJECT) };
        Some(object.CurrentByteOffset)
    })
}

/// `FltAllocateGenericWorkItem`.
#[unsafe(no_mangle)]
pub extern "C" fn FltAllocateGenericWorkItem() -> *mut c_void {
    super::pool::as_kernel(|| {
        with(|k| {
            k.enter("FltAllocateGenericWorkItem", DISPATCH_LEVEL);
            if k.fails("FltAllocateGenericWorkItem") {
                return core::ptr::null_mut();
            }
            k.flt.next_item += 1;
            let handle = FLT_TAG | 0x20_0000 | k.flt.next_item;
            k.flt.work_items.insert(handle, WorkItem { queued: None });
            handle as *mut c_void
        })
    })
}

/// `FltQueueGenericWorkItem`.
///
/// # Safety
/// An allocated work item, a filter or instance, a routine.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn FltQueueGenericWorkItem(
    item: *mut c_void,
    object: *mut c_void,
    routine: Option<WorkRoutine>,
    _queue_type: i32,
    context: *mut c_void,
) -> i32 {
    super::pool::as_kernel(|| {
        with(|k| {
            k.enter("FltQueueGenericWorkItem", DISPATCH_LEVEL);
            let Some(routine) = routine else {
                return STATUS_INVALID_PARAMETER;
            };
            if k.fails("FltQueueGenericWorkItem") {
                return STATUS_FLT_DELETING_OBJECT;
            }
            match k.flt.work_items.get_mut(&(item as usize)) {
                Some(work) if work.queued.is_none() => {
                    work.queued = Some((routine, object as usize, context as usize));
                    k.flt.queue.push_back(item as usize);
                    STATUS_SUCCESS
                }
                _ => {
                    k.report(Violation::UseAfterFree {
                        routine: "FltQueueGenericWorkItem",
                        handle: format!("{item:p}"),
                    });
                    STATUS_INVALID_PARAMETER
                }
            }
        })
    })
}

/// `FltFreeGenericWorkItem`.
///
/// # Safety
/// A work item from `FltAllocateGenericWorkItem`, not queued or already run.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn FltFreeGenericWorkItem(item: *mut c_void) {
    super::pool::as_kernel(|| {
        with(|k| {
            k.enter("FltFreeGenericWorkItem", DISPATCH_LEVEL);
            if k.flt.work_items.remove(&(item as usize)).is_none() {
                k.report(Violation::UseAfterFree {
                    routine: "FltFreeGenericWorkItem",
                    handle: format!("{item:p}"),
                });
            }
        });
    });
}
