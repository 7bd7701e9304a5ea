//! KMDF's side: the framework's objects (driver, device, queue, file objects, requests, spin
//! locks, I/O targets, memory) and the methods the driver calls through the function table, at
//! the `WDFFUNCENUM` indices of KMDF 1.33 (wdffuncenum.h).
//!
//! Handles are opaque, generation-tagged values in a kernel-looking range, so a handle used after
//! its object is gone is reported instead of reaching reused memory, and an IOCTL output that
//! carries one is caught. Object contexts are real memory, zero-filled and 16-byte aligned, as
//! the framework allocates them.
#![allow(non_snake_case, reason = "the framework's method names")]

use core::ffi::c_void;
use std::alloc::Layout;
use std::collections::{HashMap, VecDeque};

use super::Deferred;
use super::layout::{
    DEVICE_OBJECT, IoDeviceControl, ObjectCallback, WDF_OBJECT_ATTRIBUTES,
    WDF_OBJECT_CONTEXT_TYPE_INFO, WDF_REQUEST_COMPLETION_PARAMS,
};
use super::nt::{STATUS_INSUFFICIENT_RESOURCES, STATUS_SUCCESS};

mod device;
mod entry;
mod function_table;
mod locks;
mod objects;
mod requests;
mod targets;

use device::{
    WdfControlDeviceInitAllocate, WdfControlFinishInitializing, WdfDeviceCreate,
    WdfDeviceCreateSymbolicLink, WdfDeviceEnqueueRequest, WdfDeviceGetDefaultQueue,
    WdfDeviceInitAssignName, WdfDeviceInitFree, WdfDeviceInitSetFileObjectConfig,
    WdfDeviceInitSetIoInCallerContextCallback, WdfDeviceInitSetRequestAttributes,
    WdfDeviceWdmGetDeviceObject, WdfDriverCreate, WdfFileObjectGetDevice, WdfIoQueueCreate,
    WdfIoQueueGetDevice, WdfIoQueueStart, WdfIoQueueStop,
};
use entry::{out_handle, resolve, resolve_live, write_out};
pub use function_table::{Entry, METHODS, completion_params, table};
use locks::{WdfSpinLockAcquire, WdfSpinLockCreate, WdfSpinLockRelease};
use objects::{
    WdfObjectDelete, WdfObjectDereferenceActual, WdfObjectGetTypedContextWorker,
    WdfObjectReferenceActual,
};
use requests::{
    WdfRequestCancelSentRequest, WdfRequestCompleteWithInformation, WdfRequestCreate,
    WdfRequestGetFileObject, WdfRequestGetParameters, WdfRequestGetStatus,
    WdfRequestRetrieveInputBuffer, WdfRequestRetrieveOutputBuffer, WdfRequestRetrieveOutputMemory,
    WdfRequestSend, WdfRequestSetCompletionRoutine,
};
use targets::{
    WdfIoTargetClose, WdfIoTargetCreate, WdfIoTargetFormatRequestForRead, WdfIoTargetGetDevice,
    WdfIoTargetOpen, WdfIoTargetWdmGetTargetDeviceObject,
};

/// Entries of the KMDF 1.33 function table (`WdfFunctionTableNumEntries`).
pub const TABLE_ENTRIES: usize = 458;

/// `STATUS_INVALID_PARAMETER`.
pub const STATUS_INVALID_PARAMETER: i32 = 0xC000_000D_u32.cast_signed();
/// `STATUS_INVALID_DEVICE_STATE`.
pub const STATUS_INVALID_DEVICE_STATE: i32 = 0xC000_0184_u32.cast_signed();
/// `STATUS_BUFFER_TOO_SMALL`.
pub const STATUS_BUFFER_TOO_SMALL: i32 = 0xC000_0023_u32.cast_signed();
/// `STATUS_CANCELLED`.
pub const STATUS_CANCELLED: i32 = 0xC000_0120_u32.cast_signed();
/// `STATUS_REQUEST_NOT_ACCEPTED`.
pub const STATUS_REQUEST_NOT_ACCEPTED: i32 = 0xC000_00D0_u32.cast_signed();
/// `STATUS_OBJECT_NAME_NOT_FOUND`.
pub const STATUS_OBJECT_NAME_NOT_FOUND: i32 = 0xC000_0034_u32.cast_signed();
/// `STATUS_DEVICE_REMOVED`... (`STATUS_DELETE_PENDING` for a closed target).
pub const STATUS_DELETE_PENDING: i32 = 0xC000_0056_u32.cast_signed();

/// `WdfRequestTypeCreate`.
pub const REQUEST_TYPE_CREATE: i32 = 0;
/// `WdfRequestTypeRead`.
pub const REQUEST_TYPE_READ: i32 = 3;
/// `WdfRequestTypeDeviceControl`.
pub const REQUEST_TYPE_DEVICE_CONTROL: i32 = 14;

/// `WdfIoTargetOpenByName`.
pub const OPEN_BY_NAME: i32 = 2;
/// `WdfIoTargetOpenUseExistingDevice`.
pub const OPEN_USE_EXISTING_DEVICE: i32 = 1;

const HANDLE_TAG: u64 = 0xFFFF_B000_0000_0000;
const INDEX_BITS: u32 = 24;
const GENERATION_MASK: u32 = (1 << 20) - 1;

/// A request's place in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestState {
    /// With the driver.
    Owned,
    /// At an I/O target.
    Sent,
    /// Finished by the target; its completion routine has not run.
    Returned,
    /// Completed (framework requests) — the object lives on while referenced.
    Completed,
}

/// `EVT_WDF_REQUEST_COMPLETION_ROUTINE`.
pub type CompletionRoutine =
    unsafe extern "C" fn(*mut c_void, *mut c_void, *mut WDF_REQUEST_COMPLETION_PARAMS, *mut c_void);

/// `EVT_WDF_DEVICE_FILE_CREATE`.
pub type FileCreate = unsafe extern "C" fn(*mut c_void, *mut c_void, *mut c_void);
/// `EVT_WDF_IO_IN_CALLER_CONTEXT`.
pub type InCallerContext = unsafe extern "C" fn(*mut c_void, *mut c_void);

/// A request.
pub struct RequestData {
    /// `WdfRequestType*`.
    pub kind: i32,
    /// Created by the driver (`WdfRequestCreate`) rather than delivered by the I/O manager.
    pub created: bool,
    /// The framework file object it came through.
    pub file: Option<u32>,
    /// The IOCTL code.
    pub code: u32,
    /// Input bytes.
    pub input_length: usize,
    /// Output bytes.
    pub output_length: usize,
    /// The system buffer (`METHOD_BUFFERED`): input in, output out.
    pub buffer: Vec<u8>,
    /// Where it is.
    pub state: RequestState,
    /// A cancel was asked for while it was sent.
    pub cancel_requested: bool,
    /// The completion routine and its context.
    pub routine: Option<(CompletionRoutine, usize)>,
    /// The status it carries (`WdfRequestGetStatus`).
    pub status: i32,
    /// Bytes the target reported.
    pub information: usize,
    /// The target it was formatted for, and the memory object to read into.
    pub formatted: Option<(u32, Option<u32>)>,
    /// The target it is sent to.
    pub sent_to: Option<u32>,
    /// The I/O manager's number for it (the user's view).
    pub irp: u64,
    /// Stack locations of its IRP.
    pub stack_size: i8,
    /// For a created request: the request whose output buffer it reads into.
    pub reads_into: Option<u32>,
}

impl RequestData {
    /// A request owned by the driver, with nothing in it yet.
    #[must_use]
    pub const fn new(kind: i32, created: bool, irp: u64, stack_size: i8) -> Self {
        Self {
            kind,
            created,
            file: None,
            code: 0,
            input_length: 0,
            output_length: 0,
            buffer: Vec::new(),
            state: RequestState::Owned,
            cancel_requested: false,
            routine: None,
            status: STATUS_SUCCESS,
            information: 0,
            formatted: None,
            sent_to: None,
            irp,
            stack_size,
            reads_into: None,
        }
    }
}

/// What a device was given at initialization.
#[derive(Clone, Copy, Default)]
pub struct DeviceSetup {
    /// `EvtDeviceFileCreate`, `EvtFileCleanup`, `EvtFileClose`.
    pub file_create: Option<FileCreate>,
    /// `EvtFileCleanup`.
    pub file_cleanup: Option<ObjectCallback>,
    /// `EvtFileClose`.
    pub file_close: Option<ObjectCallback>,
    /// File object attributes: context type and size.
    pub file_context: Option<(usize, usize)>,
    /// `EvtIoInCallerContext`.
    pub in_caller_context: Option<InCallerContext>,
    /// Request attributes: context type, size, cleanup callback.
    pub request_context: Option<(usize, usize)>,
    /// The request cleanup callback.
    pub request_cleanup: Option<ObjectCallback>,
    /// A name was assigned.
    pub named: bool,
}

/// An I/O target.
pub struct TargetData {
    /// The device it was created for.
    pub device: u32,
    /// Open.
    pub open: bool,
    /// The target's device object (the pipe file system's, one stack location).
    pub device_object: Box<DEVICE_OBJECT>,
    /// Requests it owns now.
    pub pending: Vec<u32>,
    /// The file object it was opened on, when opened on an existing one.
    pub file: Option<usize>,
}

/// The kinds of framework object.
pub enum Body {
    /// `WDFDRIVER`.
    Driver {
        /// `EvtDriverUnload`.
        unload: Option<ObjectCallback>,
    },
    /// `PWDFDEVICE_INIT`.
    DeviceInit(DeviceSetup),
    /// `WDFDEVICE` (the control device).
    Device {
        /// What it was set up with.
        setup: DeviceSetup,
        /// Its default queue.
        queue: Option<u32>,
        /// Its WDM device object.
        device_object: Box<DEVICE_OBJECT>,
        /// `WdfControlFinishInitializing` ran, with this `StackSize`.
        finished: Option<i8>,
        /// A symbolic link was created.
        linked: bool,
    },
    /// `WDFQUEUE`.
    Queue {
        /// The device.
        device: u32,
        /// `WdfIoQueueStop` ran.
        stopped: bool,
        /// `EvtIoDeviceControl`.
        device_control: Option<IoDeviceControl>,
        /// Requests waiting while stopped.
        waiting: VecDeque<u32>,
    },
    /// `WDFFILEOBJECT`.
    File {
        /// The device.
        device: u32,
        /// Requests that reference it.
        io_refs: u32,
        /// Its handle was closed (cleanup ran).
        closing: bool,
        /// `EvtFileClose`.
        close: Option<ObjectCallback>,
    },
    /// `WDFREQUEST`.
    Request(Box<RequestData>),
    /// `WDFSPINLOCK`.
    SpinLock {
        /// The IRQL to go back to.
        saved: u8,
    },
    /// `WDFIOTARGET`.
    Target(TargetData),
    /// `WDFMEMORY` over a request's buffer.
    Memory {
        /// The request.
        request: u32,
    },
}

impl Body {
    const fn name(&self) -> &'static str {
        match self {
            Self::Driver { .. } => "WDFDRIVER",
            Self::DeviceInit(_) => "PWDFDEVICE_INIT",
            Self::Device { .. } => "WDFDEVICE",
            Self::Queue { .. } => "WDFQUEUE",
            Self::File { .. } => "WDFFILEOBJECT",
            Self::Request(_) => "WDFREQUEST",
            Self::SpinLock { .. } => "WDFSPINLOCK",
            Self::Target(_) => "WDFIOTARGET",
            Self::Memory { .. } => "WDFMEMORY",
        }
    }
}

struct ContextMemory {
    address: usize,
    layout: Layout,
    type_info: usize,
}

/// One framework object.
pub struct Object {
    /// What it is.
    pub body: Body,
    /// References: the creation's plus `WdfObjectReference*` ones.
    pub refs: u32,
    /// `WdfObjectDelete` ran (or, for a request, it completed).
    pub deleted: bool,
    parent: Option<u32>,
    children: Vec<u32>,
    context: Option<ContextMemory>,
    cleanup: Option<ObjectCallback>,
    destroy: Option<ObjectCallback>,
}

struct Slot {
    generation: u32,
    object: Option<Object>,
}

/// A finished request as the caller of `DeviceIoControl` sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The status.
    pub status: i32,
    /// Bytes returned.
    pub information: usize,
    /// The output bytes.
    pub output: Vec<u8>,
}

/// The framework's objects.
#[derive(Default)]
pub struct Objects {
    slots: Vec<Slot>,
    free_slots: Vec<u32>,
    /// The driver object.
    pub driver: Option<u32>,
    /// The control device.
    pub device: Option<u32>,
    /// Requests the target finished, in the order it finished them.
    pub returned: VecDeque<u32>,
    /// Finished requests by IRP number.
    pub replies: HashMap<u64, Reply>,
    next_irp: u64,
    /// Live I/O targets.
    targets: Vec<u32>,
    /// The target completes cancelled requests (off: a read that never comes back).
    pub target_ignores_cancel: bool,
}

/// Encodes a slot as a handle.
#[must_use]
pub fn handle_of(index: u32, generation: u32) -> usize {
    let value =
        HANDLE_TAG | (u64::from(generation & GENERATION_MASK) << INDEX_BITS) | u64::from(index);
    usize::try_from(value).unwrap_or(usize::MAX)
}

/// Whether `value` looks like a handle of this framework (for the disclosure check).
#[must_use]
pub const fn is_handle_value(value: u64) -> bool {
    value & 0xFFFF_F000_0000_0000 == HANDLE_TAG
}

impl Objects {
    /// Creates an object; `attributes` may be null.
    ///
    /// # Errors
    /// `STATUS_INVALID_PARAMETER` for a parent that is not a live object.
    ///
    /// # Safety
    /// `attributes` is null or points to valid `WDF_OBJECT_ATTRIBUTES`.
    pub unsafe fn create(
        &mut self,
        body: Body,
        attributes: *const WDF_OBJECT_ATTRIBUTES,
        default_parent: Option<u32>,
    ) -> Result<(u32, usize), i32> {
        let (context, cleanup, destroy, parent) = if attributes.is_null() {
            (None, None, None, default_parent)
        } else {
            // SAFETY: the caller passes valid attributes.
            let attributes = unsafe { &*attributes };
            let parent = if attributes.ParentObject.is_null() {
                default_parent
            } else {
                Some(
                    self.index(attributes.ParentObject as usize)
                        .ok_or(STATUS_INVALID_PARAMETER)?,
                )
            };
            // SAFETY: as above; the type info, when given, is the driver's static.
            let context = unsafe {
                Self::context_for(attributes.ContextTypeInfo, attributes.ContextSizeOverride)
            };
            (
                context,
                attributes.EvtCleanupCallback,
                attributes.EvtDestroyCallback,
                parent,
            )
        };
        let object = Object {
            body,
            refs: 1,
            deleted: false,
            parent,
            children: Vec::new(),
            context,
            cleanup,
            destroy,
        };
        let index = if let Some(index) = self.free_slots.pop() {
            let slot = &mut self.slots[index as usize];
            slot.generation = (slot.generation + 1) & GENERATION_MASK;
            slot.object = Some(object);
            index
        } else {
            let index =
                u32::try_from(self.slots.len()).map_err(|_| STATUS_INSUFFICIENT_RESOURCES)?;
            self.slots.push(Slot {
                generation: 1,
                object: Some(object),
            });
            index
        };
        if let Some(parent) = parent
            && let Some(parent) = self.get_mut(parent)
        {
            parent.children.push(index);
        }
        if matches!(self.get(index).map(|o| &o.body), Some(Body::Target(_))) {
            self.targets.push(index);
        }
        Ok((index, self.handle(index)))
    }

    /// # Safety
    /// `info` is null or points to the driver's `WDF_OBJECT_CONTEXT_TYPE_INFO`.
    unsafe fn context_for(
        info: *const WDF_OBJECT_CONTEXT_TYPE_INFO,
        size_override: usize,
    ) -> Option<ContextMemory> {
        if info.is_null() {
            return None;
        }
        // SAFETY: the caller passes the driver's static type info.
        let size = unsafe { (*info).ContextSize }.max(size_override).max(1);
        let layout = Layout::from_size_align(size, 16).ok()?;
        // SAFETY: the layout has a non-zero size.
        let address = unsafe { std::alloc::alloc_zeroed(layout) } as usize;
        (address != 0).then_some(ContextMemory {
            address,
            layout,
            type_info: info as usize,
        })
    }

    /// A request's context size and type from a device's request attributes.
    pub fn attach_context(&mut self, index: u32, type_info: usize, size: usize) {
        let Ok(layout) = Layout::from_size_align(size.max(1), 16) else {
            return;
        };
        // SAFETY: the layout has a non-zero size.
        let address = unsafe { std::alloc::alloc_zeroed(layout) } as usize;
        if address != 0
            && let Some(object) = self.get_mut(index)
        {
            object.context = Some(ContextMemory {
                address,
                layout,
                type_info,
            });
        }
    }

    /// Sets an object's cleanup callback.
    pub fn set_cleanup(&mut self, index: u32, cleanup: Option<ObjectCallback>) {
        if let Some(object) = self.get_mut(index) {
            object.cleanup = cleanup;
        }
    }

    /// The handle of a live slot.
    #[must_use]
    pub fn handle(&self, index: u32) -> usize {
        handle_of(index, self.slots[index as usize].generation)
    }

    /// The slot a handle names, if its object is alive.
    #[must_use]
    pub fn index(&self, handle: usize) -> Option<u32> {
        let value = handle as u64;
        if !is_handle_value(value) {
            return None;
        }
        let index = u32::try_from(value & ((1 << INDEX_BITS) - 1)).ok()?;
        let generation = u32::try_from((value >> INDEX_BITS) & u64::from(GENERATION_MASK)).ok()?;
        let slot = self.slots.get(index as usize)?;
        (slot.generation == generation && slot.object.is_some()).then_some(index)
    }

    /// The object in a slot.
    #[must_use]
    pub fn get(&self, index: u32) -> Option<&Object> {
        self.slots.get(index as usize)?.object.as_ref()
    }

    /// The object in a slot.
    pub fn get_mut(&mut self, index: u32) -> Option<&mut Object> {
        self.slots.get_mut(index as usize)?.object.as_mut()
    }

    /// A request's data.
    pub fn request(&mut self, index: u32) -> Option<&mut RequestData> {
        match &mut self.get_mut(index)?.body {
            Body::Request(data) => Some(data),
            _ => None,
        }
    }

    /// A new request from the I/O manager, with the device's request attributes.
    pub fn new_request(&mut self, data: RequestData, device: u32) -> Option<(u32, usize)> {
        let setup = match &self.get(device)?.body {
            Body::Device { setup, .. } => *setup,
            _ => return None,
        };
        // SAFETY: null attributes.
        let (index, handle) =
            unsafe { self.create(Body::Request(Box::new(data)), core::ptr::null(), None) }.ok()?;
        if let Some((type_info, size)) = setup.request_context {
            self.attach_context(index, type_info, size);
        }
        self.set_cleanup(index, setup.request_cleanup);
        Some((index, handle))
    }

    /// The next IRP number.
    pub fn next_irp(&mut self) -> u64 {
        self.next_irp += 1;
        self.next_irp
    }

    /// Drops one reference; at zero the object is cleaned up and destroyed (deferred).
    pub fn release(&mut self, index: u32, deferred: &mut Vec<Deferred>) {
        let Some(object) = self.get_mut(index) else {
            return;
        };
        object.refs = object.refs.saturating_sub(1);
        if object.refs == 0 {
            self.dispose(index, deferred);
        }
    }

    /// `WdfObjectDelete`: children first, each cleaned up; then the creation reference goes.
    pub fn delete(&mut self, index: u32, deferred: &mut Vec<Deferred>) {
        let Some(object) = self.get_mut(index) else {
            return;
        };
        if object.deleted {
            return;
        }
        object.deleted = true;
        let children = core::mem::take(&mut object.children);
        for child in children {
            self.delete(child, deferred);
        }
        self.release(index, deferred);
    }

    fn dispose(&mut self, index: u32, deferred: &mut Vec<Deferred>) {
        let handle = self.handle(index);
        let Some(object) = self.get_mut(index) else {
            return;
        };
        let children = core::mem::take(&mut object.children);
        let (cleanup, destroy) = (object.cleanup.take(), object.destroy.take());
        for child in children {
            self.delete(child, deferred);
        }
        if let Some(cleanup) = cleanup {
            deferred.push(Deferred::Cleanup(cleanup, handle));
        }
        deferred.push(Deferred::Destroy(destroy, handle, index));
    }

    /// Frees a destroyed object's slot and context.
    pub fn free(&mut self, index: u32) -> Vec<Deferred> {
        let Some(slot) = self.slots.get_mut(index as usize) else {
            return Vec::new();
        };
        let Some(object) = slot.object.take() else {
            return Vec::new();
        };
        let mut deferred = Vec::new();
        if let Body::Request(data) = &object.body
            && let Some(file) = data.file
        {
            self.file_io_release(file, &mut deferred);
        }
        if let Some(context) = object.context {
            // SAFETY: allocated with this layout in `context_for` / `attach_context`.
            unsafe { std::alloc::dealloc(context.address as *mut u8, context.layout) };
        }
        if let Some(parent) = object.parent
            && let Some(parent) = self.get_mut(parent)
        {
            parent.children.retain(|&child| child != index);
        }
        if matches!(object.body, Body::Target(_)) {
            self.targets.retain(|&target| target != index);
        }
        if self.driver == Some(index) {
            self.driver = None;
        }
        if self.device == Some(index) {
            self.device = None;
        }
        self.free_slots.push(index);
        deferred
    }

    /// A request that referenced `file` is gone; the last one after the handle closed lets the
    /// framework close the file object.
    pub fn file_io_release(&mut self, file: u32, deferred: &mut Vec<Deferred>) {
        let handle = self.handle(file);
        if let Some(Object {
            body:
                Body::File {
                    io_refs,
                    closing,
                    close,
                    ..
                },
            ..
        }) = self.get_mut(file)
        {
            *io_refs = io_refs.saturating_sub(1);
            if *io_refs == 0 && *closing {
                *closing = false;
                deferred.push(Deferred::FileClose(close.take(), handle, file));
            }
        }
    }

    /// A request from the I/O manager now references `file`.
    pub fn file_io_reference(&mut self, file: u32) {
        if let Some(Object {
            body: Body::File { io_refs, .. },
            ..
        }) = self.get_mut(file)
        {
            *io_refs += 1;
        }
    }

    /// Requests every I/O target owns now.
    #[must_use]
    pub fn pending_at_targets(&self) -> Vec<u32> {
        let mut pending = Vec::new();
        for &index in &self.targets {
            if let Some(Object {
                body: Body::Target(target),
                ..
            }) = self.get(index)
            {
                pending.extend_from_slice(&target.pending);
            }
        }
        pending
    }

    /// Live objects by kind, for the unload check.
    #[must_use]
    pub fn live(&self) -> Vec<&'static str> {
        self.slots
            .iter()
            .filter_map(|slot| slot.object.as_ref())
            .map(|object| object.body.name())
            .collect()
    }

    /// The context address of `index` for `type_info`.
    fn context(&self, index: u32, type_info: usize) -> Option<usize> {
        let context = self.get(index)?.context.as_ref()?;
        (context.type_info == type_info).then_some(context.address)
    }

    /// Every context's address range (for the disclosure check).
    pub fn context_ranges(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.slots
            .iter()
            .filter_map(|slot| slot.object.as_ref()?.context.as_ref())
            .map(|context| (context.address, context.layout.size()))
    }
}
