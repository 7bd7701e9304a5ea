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

use super::layout::{
    DEVICE_OBJECT, IO_STATUS_BLOCK, IoDeviceControl, ObjectCallback, UNICODE_STRING,
    WDF_DRIVER_CONFIG, WDF_DRIVER_GLOBALS, WDF_FILEOBJECT_CONFIG, WDF_IO_QUEUE_CONFIG,
    WDF_IO_TARGET_OPEN_PARAMS, WDF_OBJECT_ATTRIBUTES, WDF_OBJECT_CONTEXT_TYPE_INFO,
    WDF_REQUEST_COMPLETION_PARAMS, WDF_REQUEST_PARAMETERS,
};
use super::nt::{STATUS_INSUFFICIENT_RESOURCES, STATUS_SUCCESS};
use super::{APC_LEVEL, DISPATCH_LEVEL, Deferred, Kernel, PASSIVE_LEVEL, Violation, with};

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

// ---- the entry helpers ------------------------------------------------------------------------

/// Resolves `handle` to a live object of the kind `expected` names, reporting otherwise.
fn resolve(
    k: &mut Kernel,
    routine: &'static str,
    handle: *mut c_void,
    expected: &'static str,
) -> Option<u32> {
    let Some(index) = k.wdf.index(handle as usize) else {
        k.report(Violation::UseAfterFree {
            routine,
            handle: format!("{handle:p}"),
        });
        return None;
    };
    let kind = k.wdf.get(index).map(|object| object.body.name());
    if kind == Some(expected) {
        Some(index)
    } else {
        k.report(Violation::WrongObjectType { routine, expected });
        None
    }
}

/// A created object's handle to the driver's out pointer, or the failure status.
///
/// # Safety
/// `out` is a writable pointer or null.
unsafe fn out_handle(created: Result<usize, i32>, out: *mut *mut c_void) -> i32 {
    match created {
        Ok(handle) => {
            // SAFETY: forwarded from the caller.
            unsafe { write_out(out, handle as *mut c_void) };
            STATUS_SUCCESS
        }
        Err(status) => status,
    }
}

/// # Safety
/// `out` is a writable pointer.
unsafe fn write_out<T>(out: *mut T, value: T) {
    if !out.is_null() {
        // SAFETY: the caller passes a writable out pointer.
        unsafe { out.write(value) };
    }
}

// ---- driver and device ------------------------------------------------------------------------

unsafe extern "C" fn WdfDriverCreate(
    _globals: *mut WDF_DRIVER_GLOBALS,
    driver_object: *mut c_void,
    _registry_path: *const UNICODE_STRING,
    attributes: *const WDF_OBJECT_ATTRIBUTES,
    config: *const WDF_DRIVER_CONFIG,
    driver: *mut *mut c_void,
) -> i32 {
    super::pool::as_kernel(|| {
        // SAFETY: the driver passes its configuration.
        let unload = unsafe { (*config).EvtDriverUnload };
        let created = with(|k| {
            k.enter("WdfDriverCreate", PASSIVE_LEVEL);
            if k.fails("WdfDriverCreate") {
                return Err(STATUS_INSUFFICIENT_RESOURCES);
            }
            // SAFETY: the attributes are null or the driver's.
            let (index, handle) =
                unsafe { k.wdf.create(Body::Driver { unload }, attributes, None) }?;
            k.wdf.driver = Some(index);
            Ok(handle)
        });
        match created {
            Ok(handle) => {
                // KMDF installs its own unload routine, which calls EvtDriverUnload.
                // SAFETY: the driver object the sim passed to DriverEntry.
                unsafe {
                    (*driver_object.cast::<super::layout::DRIVER_OBJECT>()).DriverUnload =
                        Some(super::machine::kmdf_driver_unload);
                }
                // SAFETY: the driver's out pointer.
                unsafe { write_out(driver, handle as *mut c_void) };
                STATUS_SUCCESS
            }
            Err(status) => status,
        }
    })
}

unsafe extern "C" fn WdfControlDeviceInitAllocate(
    _globals: *mut WDF_DRIVER_GLOBALS,
    driver: *mut c_void,
    _sddl: *const UNICODE_STRING,
) -> *mut c_void {
    super::pool::as_kernel(|| {
        with(|k| {
            k.enter("WdfControlDeviceInitAllocate", PASSIVE_LEVEL);
            resolve(k, "WdfControlDeviceInitAllocate", driver, "WDFDRIVER")?;
            if k.fails("WdfControlDeviceInitAllocate") {
                return None;
            }
            // SAFETY: null attributes.
            let (_, handle) = unsafe {
                k.wdf.create(
                    Body::DeviceInit(DeviceSetup::default()),
                    core::ptr::null(),
                    None,
                )
            }
            .ok()?;
            Some(handle as *mut c_void)
        })
        .unwrap_or(core::ptr::null_mut())
    })
}

fn with_init(routine: &'static str, init: *mut c_void, f: impl FnOnce(&mut DeviceSetup)) {
    with(|k| {
        k.enter(routine, PASSIVE_LEVEL);
        if let Some(index) = resolve(k, routine, init, "PWDFDEVICE_INIT")
            && let Some(Object {
                body: Body::DeviceInit(setup),
                ..
            }) = k.wdf.get_mut(index)
        {
            f(setup);
        }
    });
}

unsafe extern "C" fn WdfDeviceInitFree(_globals: *mut WDF_DRIVER_GLOBALS, init: *mut c_void) {
    super::pool::as_kernel(|| {
        let mut deferred = Vec::new();
        with(|k| {
            k.enter("WdfDeviceInitFree", PASSIVE_LEVEL);
            if let Some(index) = resolve(k, "WdfDeviceInitFree", init, "PWDFDEVICE_INIT") {
                k.wdf.delete(index, &mut deferred);
            }
        });
        super::run_deferred(deferred);
    });
}

unsafe extern "C" fn WdfDeviceInitAssignName(
    _globals: *mut WDF_DRIVER_GLOBALS,
    init: *mut c_void,
    name: *const UNICODE_STRING,
) -> i32 {
    super::pool::as_kernel(|| {
        if with(|k| k.fails("WdfDeviceInitAssignName")) {
            return STATUS_INSUFFICIENT_RESOURCES;
        }
        let named = !name.is_null();
        with_init("WdfDeviceInitAssignName", init, |setup| setup.named = named);
        STATUS_SUCCESS
    })
}

unsafe extern "C" fn WdfDeviceInitSetFileObjectConfig(
    _globals: *mut WDF_DRIVER_GLOBALS,
    init: *mut c_void,
    config: *const WDF_FILEOBJECT_CONFIG,
    attributes: *const WDF_OBJECT_ATTRIBUTES,
) {
    super::pool::as_kernel(|| {
        // SAFETY: the driver passes its configuration; the framework copies it.
        let config = unsafe { &*config };
        let context = if attributes.is_null() {
            None
        } else {
            // SAFETY: as above.
            let info = unsafe { (*attributes).ContextTypeInfo };
            // SAFETY: the type info is the driver's static.
            (!info.is_null()).then(|| (info as usize, unsafe { (*info).ContextSize }))
        };
        let (create, cleanup, close) = (
            config.EvtDeviceFileCreate,
            config.EvtFileCleanup,
            config.EvtFileClose,
        );
        with_init("WdfDeviceInitSetFileObjectConfig", init, |setup| {
            setup.file_create = create;
            setup.file_cleanup = cleanup;
            setup.file_close = close;
            setup.file_context = context;
        });
    });
}

unsafe extern "C" fn WdfDeviceInitSetIoInCallerContextCallback(
    _globals: *mut WDF_DRIVER_GLOBALS,
    init: *mut c_void,
    callback: Option<InCallerContext>,
) {
    super::pool::as_kernel(|| {
        with_init("WdfDeviceInitSetIoInCallerContextCallback", init, |setup| {
            setup.in_caller_context = callback;
        });
    });
}

unsafe extern "C" fn WdfDeviceInitSetRequestAttributes(
    _globals: *mut WDF_DRIVER_GLOBALS,
    init: *mut c_void,
    attributes: *const WDF_OBJECT_ATTRIBUTES,
) {
    super::pool::as_kernel(|| {
        // SAFETY: the driver passes its attributes; the framework copies them.
        let attributes = unsafe { &*attributes };
        let info = attributes.ContextTypeInfo;
        // SAFETY: the type info is the driver's static.
        let context = (!info.is_null()).then(|| (info as usize, unsafe { (*info).ContextSize }));
        let cleanup = attributes.EvtCleanupCallback;
        with_init("WdfDeviceInitSetRequestAttributes", init, |setup| {
            setup.request_context = context;
            setup.request_cleanup = cleanup;
        });
    });
}

unsafe extern "C" fn WdfDeviceCreate(
    _globals: *mut WDF_DRIVER_GLOBALS,
    init: *mut *mut c_void,
    attributes: *const WDF_OBJECT_ATTRIBUTES,
    device: *mut *mut c_void,
) -> i32 {
    super::pool::as_kernel(|| {
        // SAFETY: the driver passes the address of its init pointer.
        let init_handle = unsafe { *init };
        let mut deferred = Vec::new();
        let created = with(|k| {
            k.enter("WdfDeviceCreate", PASSIVE_LEVEL);
            let index = resolve(k, "WdfDeviceCreate", init_handle, "PWDFDEVICE_INIT")
                .ok_or(STATUS_INVALID_PARAMETER)?;
            if k.fails("WdfDeviceCreate") {
                return Err(STATUS_INSUFFICIENT_RESOURCES);
            }
            let setup = match &k.wdf.get(index).map(|object| &object.body) {
                Some(Body::DeviceInit(setup)) => *setup,
                _ => return Err(STATUS_INVALID_PARAMETER),
            };
            // SAFETY: DEVICE_OBJECT is plain data; all-zero is valid.
            let mut device_object: Box<DEVICE_OBJECT> = Box::new(unsafe { core::mem::zeroed() });
            device_object.Type = 3;
            device_object.Size = u16::try_from(size_of::<DEVICE_OBJECT>()).unwrap_or(u16::MAX);
            device_object.StackSize = 1;
            device_object.DeviceType = 0x22; // FILE_DEVICE_UNKNOWN
            device_object.Flags = 0x80; // DO_DEVICE_INITIALIZING
            let body = Body::Device {
                setup,
                queue: None,
                device_object,
                finished: None,
                linked: false,
            };
            let driver = k.wdf.driver;
            // SAFETY: the attributes are null or the driver's.
            let (device_index, handle) = unsafe { k.wdf.create(body, attributes, driver) }?;
            k.wdf.device = Some(device_index);
            // The framework owns the init structure from here on.
            k.wdf.delete(index, &mut deferred);
            Ok(handle)
        });
        super::run_deferred(deferred);
        match created {
            Ok(handle) => {
                // SAFETY: the driver's pointers, as above.
                unsafe { init.write(core::ptr::null_mut()) };
                // SAFETY: as above.
                unsafe { write_out(device, handle as *mut c_void) };
                STATUS_SUCCESS
            }
            Err(status) => status,
        }
    })
}

unsafe extern "C" fn WdfDeviceCreateSymbolicLink(
    _globals: *mut WDF_DRIVER_GLOBALS,
    device: *mut c_void,
    _name: *const UNICODE_STRING,
) -> i32 {
    super::pool::as_kernel(|| {
        with(|k| {
            k.enter("WdfDeviceCreateSymbolicLink", PASSIVE_LEVEL);
            let Some(index) = resolve(k, "WdfDeviceCreateSymbolicLink", device, "WDFDEVICE") else {
                return STATUS_INVALID_PARAMETER;
            };
            if k.fails("WdfDeviceCreateSymbolicLink") {
                return STATUS_INSUFFICIENT_RESOURCES;
            }
            if let Some(Object {
                body: Body::Device { linked, .. },
                ..
            }) = k.wdf.get_mut(index)
            {
                *linked = true;
            }
            STATUS_SUCCESS
        })
    })
}

unsafe extern "C" fn WdfControlFinishInitializing(
    _globals: *mut WDF_DRIVER_GLOBALS,
    device: *mut c_void,
) {
    super::pool::as_kernel(|| {
        with(|k| {
            k.enter("WdfControlFinishInitializing", DISPATCH_LEVEL);
            if let Some(index) = resolve(k, "WdfControlFinishInitializing", device, "WDFDEVICE")
                && let Some(Object {
                    body:
                        Body::Device {
                            device_object,
                            finished,
                            ..
                        },
                    ..
                }) = k.wdf.get_mut(index)
            {
                device_object.Flags &= !0x80;
                *finished = Some(device_object.StackSize);
            }
        });
    });
}

unsafe extern "C" fn WdfDeviceWdmGetDeviceObject(
    _globals: *mut WDF_DRIVER_GLOBALS,
    device: *mut c_void,
) -> *mut DEVICE_OBJECT {
    super::pool::as_kernel(|| {
        with(|k| {
            k.enter("WdfDeviceWdmGetDeviceObject", DISPATCH_LEVEL);
            let index = resolve(k, "WdfDeviceWdmGetDeviceObject", device, "WDFDEVICE")?;
            match k.wdf.get_mut(index) {
                Some(Object {
                    body: Body::Device { device_object, .. },
                    ..
                }) => Some(core::ptr::from_mut(device_object.as_mut())),
                _ => None,
            }
        })
        .unwrap_or(core::ptr::null_mut())
    })
}

unsafe extern "C" fn WdfDeviceGetDefaultQueue(
    _globals: *mut WDF_DRIVER_GLOBALS,
    device: *mut c_void,
) -> *mut c_void {
    super::pool::as_kernel(|| {
        with(|k| {
            k.enter("WdfDeviceGetDefaultQueue", DISPATCH_LEVEL);
            let index = resolve(k, "WdfDeviceGetDefaultQueue", device, "WDFDEVICE")?;
            match k.wdf.get(index).map(|object| &object.body) {
                Some(Body::Device {
                    queue: Some(queue), ..
                }) => Some(k.wdf.handle(*queue) as *mut c_void),
                _ => None,
            }
        })
        .unwrap_or(core::ptr::null_mut())
    })
}

unsafe extern "C" fn WdfIoQueueCreate(
    _globals: *mut WDF_DRIVER_GLOBALS,
    device: *mut c_void,
    config: *const WDF_IO_QUEUE_CONFIG,
    attributes: *const WDF_OBJECT_ATTRIBUTES,
    queue: *mut *mut c_void,
) -> i32 {
    super::pool::as_kernel(|| {
        // SAFETY: the driver passes its configuration; the framework copies it.
        let device_control = unsafe { (*config).EvtIoDeviceControl };
        // SAFETY: as above.
        let default = unsafe { (*config).DefaultQueue } != 0;
        let created = with(|k| {
            k.enter("WdfIoQueueCreate", DISPATCH_LEVEL);
            let device_index = resolve(k, "WdfIoQueueCreate", device, "WDFDEVICE")
                .ok_or(STATUS_INVALID_PARAMETER)?;
            if k.fails("WdfIoQueueCreate") {
                return Err(STATUS_INSUFFICIENT_RESOURCES);
            }
            let body = Body::Queue {
                device: device_index,
                stopped: false,
                device_control,
                waiting: VecDeque::new(),
            };
            // SAFETY: the attributes are null or the driver's.
            let (index, handle) = unsafe { k.wdf.create(body, attributes, Some(device_index)) }?;
            if default
                && let Some(Object {
                    body: Body::Device { queue, .. },
                    ..
                }) = k.wdf.get_mut(device_index)
            {
                *queue = Some(index);
            }
            Ok(handle)
        });
        // SAFETY: the driver's out pointer.
        unsafe { out_handle(created, queue) }
    })
}

fn queue_device(routine: &'static str, queue: *mut c_void) -> *mut c_void {
    with(|k| {
        k.enter(routine, DISPATCH_LEVEL);
        let index = resolve(k, routine, queue, "WDFQUEUE")?;
        match k.wdf.get(index).map(|object| &object.body) {
            Some(Body::Queue { device, .. }) => Some(k.wdf.handle(*device) as *mut c_void),
            _ => None,
        }
    })
    .unwrap_or(core::ptr::null_mut())
}

unsafe extern "C" fn WdfIoQueueGetDevice(
    _globals: *mut WDF_DRIVER_GLOBALS,
    queue: *mut c_void,
) -> *mut c_void {
    super::pool::as_kernel(|| queue_device("WdfIoQueueGetDevice", queue))
}

fn set_queue_stopped(routine: &'static str, queue: *mut c_void, value: bool) -> Vec<u32> {
    with(|k| {
        k.enter(routine, DISPATCH_LEVEL);
        let Some(index) = resolve(k, routine, queue, "WDFQUEUE") else {
            return Vec::new();
        };
        match k.wdf.get_mut(index).map(|object| &mut object.body) {
            Some(Body::Queue {
                stopped, waiting, ..
            }) => {
                *stopped = value;
                if value {
                    Vec::new()
                } else {
                    waiting.drain(..).collect()
                }
            }
            _ => Vec::new(),
        }
    })
}

unsafe extern "C" fn WdfIoQueueStop(
    _globals: *mut WDF_DRIVER_GLOBALS,
    queue: *mut c_void,
    _callback: super::layout::RawFn,
    _context: *mut c_void,
) {
    super::pool::as_kernel(|| {
        let _ = set_queue_stopped("WdfIoQueueStop", queue, true);
    });
}

unsafe extern "C" fn WdfIoQueueStart(_globals: *mut WDF_DRIVER_GLOBALS, queue: *mut c_void) {
    super::pool::as_kernel(|| {
        let waiting = set_queue_stopped("WdfIoQueueStart", queue, false);
        for request in waiting {
            super::machine::dispatch_to_queue(request);
        }
    });
}

unsafe extern "C" fn WdfDeviceEnqueueRequest(
    _globals: *mut WDF_DRIVER_GLOBALS,
    device: *mut c_void,
    request: *mut c_void,
) -> i32 {
    super::pool::as_kernel(|| {
        let queued = with(|k| {
            k.enter("WdfDeviceEnqueueRequest", DISPATCH_LEVEL);
            resolve(k, "WdfDeviceEnqueueRequest", device, "WDFDEVICE")
                .ok_or(STATUS_INVALID_PARAMETER)?;
            let index = resolve(k, "WdfDeviceEnqueueRequest", request, "WDFREQUEST")
                .ok_or(STATUS_INVALID_PARAMETER)?;
            if k.fails("WdfDeviceEnqueueRequest") {
                return Err(STATUS_INSUFFICIENT_RESOURCES);
            }
            Ok(index)
        });
        match queued {
            Ok(index) => {
                super::machine::enqueued(index);
                STATUS_SUCCESS
            }
            Err(status) => status,
        }
    })
}

unsafe extern "C" fn WdfFileObjectGetDevice(
    _globals: *mut WDF_DRIVER_GLOBALS,
    file: *mut c_void,
) -> *mut c_void {
    super::pool::as_kernel(|| {
        with(|k| {
            k.enter("WdfFileObjectGetDevice", DISPATCH_LEVEL);
            let index = resolve(k, "WdfFileObjectGetDevice", file, "WDFFILEOBJECT")?;
            match k.wdf.get(index).map(|object| &object.body) {
                Some(Body::File { device, .. }) => Some(k.wdf.handle(*device) as *mut c_void),
                _ => None,
            }
        })
        .unwrap_or(core::ptr::null_mut())
    })
}

// ---- objects ------------------------------------------------------------------------------------

unsafe extern "C" fn WdfObjectGetTypedContextWorker(
    _globals: *mut WDF_DRIVER_GLOBALS,
    handle: *mut c_void,
    type_info: *const WDF_OBJECT_CONTEXT_TYPE_INFO,
) -> *mut c_void {
    super::pool::as_kernel(|| {
        with(|k| {
            k.enter("WdfObjectGetTypedContextWorker", DISPATCH_LEVEL);
            let Some(index) = k.wdf.index(handle as usize) else {
                k.report(Violation::UseAfterFree {
                    routine: "WdfObjectGetTypedContextWorker",
                    handle: format!("{handle:p}"),
                });
                return core::ptr::null_mut();
            };
            k.wdf
                .context(index, type_info as usize)
                .map_or(core::ptr::null_mut(), |address| address as *mut c_void)
        })
    })
}

unsafe extern "C" fn WdfObjectReferenceActual(
    _globals: *mut WDF_DRIVER_GLOBALS,
    handle: *mut c_void,
    _tag: *mut c_void,
    _line: i32,
    _file: *const i8,
) {
    super::pool::as_kernel(|| {
        with(|k| {
            k.enter("WdfObjectReferenceActual", DISPATCH_LEVEL);
            match k.wdf.index(handle as usize) {
                Some(index) => {
                    if let Some(object) = k.wdf.get_mut(index) {
                        object.refs += 1;
                    }
                }
                None => k.report(Violation::UseAfterFree {
                    routine: "WdfObjectReferenceActual",
                    handle: format!("{handle:p}"),
                }),
            }
        });
    });
}

unsafe extern "C" fn WdfObjectDereferenceActual(
    _globals: *mut WDF_DRIVER_GLOBALS,
    handle: *mut c_void,
    _tag: *mut c_void,
    _line: i32,
    _file: *const i8,
) {
    super::pool::as_kernel(|| {
        let mut deferred = Vec::new();
        with(|k| {
            k.enter("WdfObjectDereferenceActual", DISPATCH_LEVEL);
            let Some(index) = k.wdf.index(handle as usize) else {
                k.report(Violation::UseAfterFree {
                    routine: "WdfObjectDereferenceActual",
                    handle: format!("{handle:p}"),
                });
                return;
            };
            let refs = k.wdf.get(index).map_or(0, |object| object.refs);
            if refs <= 1 && !k.wdf.get(index).is_some_and(|object| object.deleted) {
                k.report(Violation::ReferenceUnderflow {
                    routine: "WdfObjectDereferenceActual",
                    handle: format!("{handle:p}"),
                });
                return;
            }
            k.wdf.release(index, &mut deferred);
        });
        super::run_deferred(deferred);
    });
}

unsafe extern "C" fn WdfObjectDelete(_globals: *mut WDF_DRIVER_GLOBALS, handle: *mut c_void) {
    super::pool::as_kernel(|| {
        let mut deferred = Vec::new();
        with(|k| {
            k.enter("WdfObjectDelete", DISPATCH_LEVEL);
            let Some(index) = k.wdf.index(handle as usize) else {
                k.report(Violation::UseAfterFree {
                    routine: "WdfObjectDelete",
                    handle: format!("{handle:p}"),
                });
                return;
            };
            if let Some(Object {
                body: Body::Request(data),
                ..
            }) = k.wdf.get(index)
                && !data.created
            {
                k.report(Violation::BadArgument {
                    routine: "WdfObjectDelete",
                    detail: "a request the framework delivered is completed, not deleted"
                        .to_owned(),
                });
                return;
            }
            k.wdf.delete(index, &mut deferred);
        });
        super::run_deferred(deferred);
    });
}

// ---- spin locks ---------------------------------------------------------------------------------

unsafe extern "C" fn WdfSpinLockCreate(
    _globals: *mut WDF_DRIVER_GLOBALS,
    attributes: *const WDF_OBJECT_ATTRIBUTES,
    lock: *mut *mut c_void,
) -> i32 {
    super::pool::as_kernel(|| {
        let created = with(|k| {
            k.enter("WdfSpinLockCreate", DISPATCH_LEVEL);
            if k.fails("WdfSpinLockCreate") {
                return Err(STATUS_INSUFFICIENT_RESOURCES);
            }
            let driver = k.wdf.driver;
            // SAFETY: the attributes are null or the driver's.
            unsafe {
                k.wdf
                    .create(Body::SpinLock { saved: 0 }, attributes, driver)
            }
            .map(|(_, h)| h)
        });
        // SAFETY: the driver's out pointer.
        unsafe { out_handle(created, lock) }
    })
}

unsafe extern "C" fn WdfSpinLockAcquire(_globals: *mut WDF_DRIVER_GLOBALS, lock: *mut c_void) {
    super::pool::as_kernel(|| {
        with(|k| {
            k.enter("WdfSpinLockAcquire", DISPATCH_LEVEL);
            if let Some(index) = resolve(k, "WdfSpinLockAcquire", lock, "WDFSPINLOCK") {
                if k.held_locks.contains(&(lock as usize)) {
                    k.report(Violation::RecursiveSpinLock {
                        routine: "WdfSpinLockAcquire",
                    });
                }
                k.held_locks.push(lock as usize);
                let old = core::mem::replace(&mut k.irql, DISPATCH_LEVEL);
                if let Some(Object {
                    body: Body::SpinLock { saved },
                    ..
                }) = k.wdf.get_mut(index)
                {
                    *saved = old;
                }
            }
        });
    });
}

unsafe extern "C" fn WdfSpinLockRelease(_globals: *mut WDF_DRIVER_GLOBALS, lock: *mut c_void) {
    super::pool::as_kernel(|| {
        let free = with(|k| {
            let Some(index) = resolve(k, "WdfSpinLockRelease", lock, "WDFSPINLOCK") else {
                return false;
            };
            let old = match k.wdf.get(index).map(|object| &object.body) {
                Some(Body::SpinLock { saved }) => *saved,
                _ => PASSIVE_LEVEL,
            };
            super::nt::release(k, "WdfSpinLockRelease", lock as usize, old)
        });
        if free {
            super::machine::maybe_preempt();
        }
    });
}

// ---- requests -----------------------------------------------------------------------------------

fn with_request<R>(
    routine: &'static str,
    max_irql: u8,
    request: *mut c_void,
    f: impl FnOnce(&mut Kernel, u32) -> R,
) -> Option<R> {
    with(|k| {
        k.enter(routine, max_irql);
        let index = resolve(k, routine, request, "WDFREQUEST")?;
        Some(f(k, index))
    })
}

unsafe extern "C" fn WdfRequestGetStatus(
    _globals: *mut WDF_DRIVER_GLOBALS,
    request: *mut c_void,
) -> i32 {
    super::pool::as_kernel(|| {
        with_request(
            "WdfRequestGetStatus",
            DISPATCH_LEVEL,
            request,
            |k, index| {
                k.wdf
                    .request(index)
                    .map_or(STATUS_INVALID_PARAMETER, |data| data.status)
            },
        )
        .unwrap_or(STATUS_INVALID_PARAMETER)
    })
}

unsafe extern "C" fn WdfRequestGetFileObject(
    _globals: *mut WDF_DRIVER_GLOBALS,
    request: *mut c_void,
) -> *mut c_void {
    super::pool::as_kernel(|| {
        with_request(
            "WdfRequestGetFileObject",
            DISPATCH_LEVEL,
            request,
            |k, index| {
                let file = k.wdf.request(index).and_then(|data| data.file)?;
                Some(k.wdf.handle(file) as *mut c_void)
            },
        )
        .flatten()
        .unwrap_or(core::ptr::null_mut())
    })
}

unsafe extern "C" fn WdfRequestGetParameters(
    _globals: *mut WDF_DRIVER_GLOBALS,
    request: *mut c_void,
    parameters: *mut WDF_REQUEST_PARAMETERS,
) {
    super::pool::as_kernel(|| {
        let values = with_request(
            "WdfRequestGetParameters",
            DISPATCH_LEVEL,
            request,
            |k, index| {
                k.wdf
                    .request(index)
                    .map(|data| (data.kind, data.output_length, data.input_length, data.code))
            },
        )
        .flatten();
        let Some((kind, output, input, code)) = values else {
            return;
        };
        // SAFETY: the driver passes its parameters structure, initialized with its size.
        let parameters = unsafe { &mut *parameters };
        if usize::from(parameters.Size) != size_of::<WDF_REQUEST_PARAMETERS>() {
            with(|k| {
                k.report(Violation::BadArgument {
                    routine: "WdfRequestGetParameters",
                    detail: format!(
                        "Size {} (WDF_REQUEST_PARAMETERS_INIT sets {})",
                        parameters.Size,
                        size_of::<WDF_REQUEST_PARAMETERS>()
                    ),
                });
            });
            return;
        }
        parameters.Type = kind;
        parameters.MinorFunction = 0;
        parameters.Parameters.DeviceIoControl = super::layout::WDF_DEVICE_IO_CONTROL_PARAMETERS {
            OutputBufferLength: output,
            InputBufferLength: input,
            IoControlCode: code,
            Type3InputBuffer: core::ptr::null_mut(),
        };
    });
}

fn retrieve(
    routine: &'static str,
    request: *mut c_void,
    minimum: usize,
    input: bool,
    buffer: *mut *mut c_void,
    length: *mut usize,
) -> i32 {
    let found = with_request(routine, DISPATCH_LEVEL, request, |k, index| {
        if k.fails(routine) {
            return Err(STATUS_INSUFFICIENT_RESOURCES);
        }
        let data = k.wdf.request(index).ok_or(STATUS_INVALID_PARAMETER)?;
        let size = if input {
            data.input_length
        } else {
            data.output_length
        };
        if size == 0 {
            return Err(STATUS_BUFFER_TOO_SMALL);
        }
        if size < minimum {
            return Err(STATUS_BUFFER_TOO_SMALL);
        }
        Ok((data.buffer.as_mut_ptr(), size))
    })
    .unwrap_or(Err(STATUS_INVALID_PARAMETER));
    match found {
        Ok((address, size)) => {
            // SAFETY: the driver's out pointers (length is optional).
            unsafe { write_out(buffer, address.cast()) };
            // SAFETY: as above.
            unsafe { write_out(length, size) };
            STATUS_SUCCESS
        }
        Err(status) => status,
    }
}

unsafe extern "C" fn WdfRequestRetrieveInputBuffer(
    _globals: *mut WDF_DRIVER_GLOBALS,
    request: *mut c_void,
    minimum: usize,
    buffer: *mut *mut c_void,
    length: *mut usize,
) -> i32 {
    super::pool::as_kernel(|| {
        retrieve(
            "WdfRequestRetrieveInputBuffer",
            request,
            minimum,
            true,
            buffer,
            length,
        )
    })
}

unsafe extern "C" fn WdfRequestRetrieveOutputBuffer(
    _globals: *mut WDF_DRIVER_GLOBALS,
    request: *mut c_void,
    minimum: usize,
    buffer: *mut *mut c_void,
    length: *mut usize,
) -> i32 {
    super::pool::as_kernel(|| {
        retrieve(
            "WdfRequestRetrieveOutputBuffer",
            request,
            minimum,
            false,
            buffer,
            length,
        )
    })
}

unsafe extern "C" fn WdfRequestRetrieveOutputMemory(
    _globals: *mut WDF_DRIVER_GLOBALS,
    request: *mut c_void,
    memory: *mut *mut c_void,
) -> i32 {
    super::pool::as_kernel(|| {
        let created = with_request(
            "WdfRequestRetrieveOutputMemory",
            DISPATCH_LEVEL,
            request,
            |k, index| {
                if k.fails("WdfRequestRetrieveOutputMemory") {
                    return Err(STATUS_INSUFFICIENT_RESOURCES);
                }
                let size = k.wdf.request(index).map_or(0, |data| data.output_length);
                if size == 0 {
                    return Err(STATUS_BUFFER_TOO_SMALL);
                }
                // SAFETY: null attributes.
                unsafe {
                    k.wdf.create(
                        Body::Memory { request: index },
                        core::ptr::null(),
                        Some(index),
                    )
                }
                .map(|(_, handle)| handle)
            },
        )
        .unwrap_or(Err(STATUS_INVALID_PARAMETER));
        // SAFETY: the driver's out pointer.
        unsafe { out_handle(created, memory) }
    })
}

unsafe extern "C" fn WdfRequestSetCompletionRoutine(
    _globals: *mut WDF_DRIVER_GLOBALS,
    request: *mut c_void,
    routine: Option<CompletionRoutine>,
    context: *mut c_void,
) {
    super::pool::as_kernel(|| {
        with_request(
            "WdfRequestSetCompletionRoutine",
            DISPATCH_LEVEL,
            request,
            |k, index| {
                if let Some(data) = k.wdf.request(index) {
                    data.routine = routine.map(|routine| (routine, context as usize));
                }
            },
        );
    });
}

unsafe extern "C" fn WdfRequestCreate(
    _globals: *mut WDF_DRIVER_GLOBALS,
    attributes: *const WDF_OBJECT_ATTRIBUTES,
    target: *mut c_void,
    request: *mut *mut c_void,
) -> i32 {
    super::pool::as_kernel(|| {
        let created = with(|k| {
            k.enter("WdfRequestCreate", DISPATCH_LEVEL);
            let stack_size = if target.is_null() {
                1
            } else {
                let index = resolve(k, "WdfRequestCreate", target, "WDFIOTARGET")
                    .ok_or(STATUS_INVALID_PARAMETER)?;
                match k.wdf.get(index).map(|object| &object.body) {
                    Some(Body::Target(data)) => data.device_object.StackSize.saturating_add(1),
                    _ => 1,
                }
            };
            if k.fails("WdfRequestCreate") {
                return Err(STATUS_INSUFFICIENT_RESOURCES);
            }
            let irp = k.wdf.next_irp();
            let data = RequestData::new(REQUEST_TYPE_READ, true, irp, stack_size);
            let driver = k.wdf.driver;
            // SAFETY: the attributes are null or the driver's.
            unsafe {
                k.wdf
                    .create(Body::Request(Box::new(data)), attributes, driver)
            }
            .map(|(_, h)| h)
        });
        // SAFETY: the driver's out pointer.
        unsafe { out_handle(created, request) }
    })
}

unsafe extern "C" fn WdfRequestCompleteWithInformation(
    _globals: *mut WDF_DRIVER_GLOBALS,
    request: *mut c_void,
    status: i32,
    information: usize,
) {
    super::pool::as_kernel(|| {
        let mut deferred = Vec::new();
        with(|k| {
            k.enter("WdfRequestCompleteWithInformation", DISPATCH_LEVEL);
            let Some(index) = resolve(
                k,
                "WdfRequestCompleteWithInformation",
                request,
                "WDFREQUEST",
            ) else {
                return;
            };
            let handle = format!("{request:p}");
            let Some(data) = k.wdf.request(index) else {
                return;
            };
            match data.state {
                RequestState::Sent | RequestState::Returned => {
                    k.report(Violation::CompletedWhileSent { handle });
                    return;
                }
                RequestState::Completed => {
                    k.report(Violation::DoubleCompletion { handle });
                    return;
                }
                RequestState::Owned => {}
            }
            if data.created {
                k.report(Violation::BadArgument {
                    routine: "WdfRequestCompleteWithInformation",
                    detail: "a request the driver created is deleted, not completed".to_owned(),
                });
                return;
            }
            data.state = RequestState::Completed;
            data.status = status;
            let shown = information.min(data.output_length).min(data.buffer.len());
            let reply = Reply {
                status,
                information,
                output: data.buffer[..shown].to_vec(),
            };
            let irp = data.irp;
            k.wdf.replies.insert(irp, reply);
            if let Some(object) = k.wdf.get_mut(index) {
                object.deleted = true;
            }
            k.wdf.release(index, &mut deferred);
        });
        super::run_deferred(deferred);
    });
}

unsafe extern "C" fn WdfRequestSend(
    _globals: *mut WDF_DRIVER_GLOBALS,
    request: *mut c_void,
    target: *mut c_void,
    _options: *mut c_void,
) -> u8 {
    super::pool::as_kernel(|| {
        let sent = with(|k| {
            k.enter("WdfRequestSend", DISPATCH_LEVEL);
            if !k.held_locks.is_empty() {
                k.report(Violation::CalledWithSpinLockHeld {
                    routine: "WdfRequestSend",
                });
            }
            let index = resolve(k, "WdfRequestSend", request, "WDFREQUEST")?;
            let target_index = resolve(k, "WdfRequestSend", target, "WDFIOTARGET")?;
            let handle = format!("{request:p}");
            let (target_open, target_stack) = match k.wdf.get(target_index).map(|o| &o.body) {
                Some(Body::Target(data)) => (data.open, data.device_object.StackSize),
                _ => (false, 0),
            };
            let fails = k.fails("WdfRequestSend");
            let sync = {
                let ppm = k.faults_sync_ppm();
                k.chance(ppm)
            };
            let data = k.wdf.request(index)?;
            let problem = if data.state != RequestState::Owned {
                Some(Violation::SendWhileSent { handle })
            } else if data.formatted.map(|(t, _)| t) != Some(target_index) {
                data.status = STATUS_INVALID_PARAMETER;
                Some(Violation::NotFormatted { handle })
            } else {
                None
            };
            if let Some(problem) = problem {
                k.report(problem);
                return Some(Err(()));
            }
            let data = k.wdf.request(index)?;
            // FxIoTarget: the IRP needs a stack location for every device of the target's stack.
            let status = if !target_open {
                Some(STATUS_INVALID_DEVICE_STATE)
            } else if data.stack_size <= target_stack {
                Some(STATUS_REQUEST_NOT_ACCEPTED)
            } else if fails {
                Some(STATUS_INSUFFICIENT_RESOURCES)
            } else {
                None
            };
            if let Some(status) = status {
                data.status = status;
                return Some(Err(()));
            }
            data.state = RequestState::Sent;
            data.sent_to = Some(target_index);
            data.cancel_requested = false;
            if let Some(Object {
                body: Body::Target(target),
                ..
            }) = k.wdf.get_mut(target_index)
            {
                target.pending.push(index);
            }
            Some(Ok(sync))
        });
        match sent {
            Some(Ok(sync)) => {
                if sync {
                    // The target finishes it before IoCallDriver returns: the completion routine
                    // runs inside WdfRequestSend, as it can on Windows.
                    let index = with(|k| k.wdf.index(request as usize));
                    if let Some(index) = index {
                        super::machine::target_complete(index, STATUS_SUCCESS, 0);
                        super::machine::deliver(index);
                    }
                }
                1
            }
            _ => 0,
        }
    })
}

unsafe extern "C" fn WdfRequestCancelSentRequest(
    _globals: *mut WDF_DRIVER_GLOBALS,
    request: *mut c_void,
) -> u8 {
    super::pool::as_kernel(|| {
        let cancel = with(|k| {
            k.enter("WdfRequestCancelSentRequest", DISPATCH_LEVEL);
            if !k.held_locks.is_empty() {
                k.report(Violation::CalledWithSpinLockHeld {
                    routine: "WdfRequestCancelSentRequest",
                });
            }
            let index = resolve(k, "WdfRequestCancelSentRequest", request, "WDFREQUEST")?;
            let ignores = k.wdf.target_ignores_cancel;
            let data = k.wdf.request(index)?;
            if data.state != RequestState::Sent || data.cancel_requested {
                return Some((false, None));
            }
            data.cancel_requested = true;
            Some((true, (!ignores).then_some(index)))
        });
        match cancel {
            Some((attempted, complete)) => {
                if let Some(index) = complete {
                    super::machine::target_complete(index, STATUS_CANCELLED, 0);
                }
                u8::from(attempted)
            }
            None => 0,
        }
    })
}

// ---- I/O targets --------------------------------------------------------------------------------

unsafe extern "C" fn WdfIoTargetCreate(
    _globals: *mut WDF_DRIVER_GLOBALS,
    device: *mut c_void,
    attributes: *const WDF_OBJECT_ATTRIBUTES,
    target: *mut *mut c_void,
) -> i32 {
    super::pool::as_kernel(|| {
        let created = with(|k| {
            k.enter("WdfIoTargetCreate", PASSIVE_LEVEL);
            let device_index = resolve(k, "WdfIoTargetCreate", device, "WDFDEVICE")
                .ok_or(STATUS_INVALID_PARAMETER)?;
            if k.fails("WdfIoTargetCreate") {
                return Err(STATUS_INSUFFICIENT_RESOURCES);
            }
            // SAFETY: DEVICE_OBJECT is plain data; all-zero is valid.
            let mut device_object: Box<DEVICE_OBJECT> = Box::new(unsafe { core::mem::zeroed() });
            device_object.Type = 3;
            device_object.StackSize = 1;
            let body = Body::Target(TargetData {
                device: device_index,
                open: false,
                device_object,
                pending: Vec::new(),
                file: None,
            });
            // SAFETY: the attributes are null or the driver's.
            unsafe { k.wdf.create(body, attributes, Some(device_index)) }.map(|(_, h)| h)
        });
        // SAFETY: the driver's out pointer.
        unsafe { out_handle(created, target) }
    })
}

unsafe extern "C" fn WdfIoTargetOpen(
    _globals: *mut WDF_DRIVER_GLOBALS,
    target: *mut c_void,
    params: *const WDF_IO_TARGET_OPEN_PARAMS,
) -> i32 {
    super::pool::as_kernel(|| {
        // SAFETY: the driver passes its parameters.
        let params = unsafe { &*params };
        let name: Vec<u16> = if params.TargetDeviceName.Buffer.is_null() {
            Vec::new()
        } else {
            // SAFETY: the name's buffer holds Length bytes.
            unsafe {
                core::slice::from_raw_parts(
                    params.TargetDeviceName.Buffer,
                    usize::from(params.TargetDeviceName.Length) / 2,
                )
            }
            .to_vec()
        };
        let (kind, file) = (params.Type, params.TargetFileObject as usize);
        let related = params.TargetDeviceObject;
        // SAFETY: an existing-device open names a device object the caller holds through its file
        // object.
        let related_stack = (!related.is_null()).then(|| unsafe { (*related).StackSize });
        with(|k| {
            k.enter("WdfIoTargetOpen", PASSIVE_LEVEL);
            let Some(index) = resolve(k, "WdfIoTargetOpen", target, "WDFIOTARGET") else {
                return STATUS_INVALID_PARAMETER;
            };
            if k.fails("WdfIoTargetOpen") {
                return STATUS_INSUFFICIENT_RESOURCES;
            }
            // By name, the framework opens from kernel mode without an access check.
            let opened = match kind {
                OPEN_BY_NAME => k.io.pipes.iter().any(|pipe| pipe.name == name),
                OPEN_USE_EXISTING_DEVICE => k.io.file(file).is_some() && related_stack.is_some(),
                _ => false,
            };
            if !opened {
                return STATUS_OBJECT_NAME_NOT_FOUND;
            }
            if let Some(Object {
                body: Body::Target(data),
                ..
            }) = k.wdf.get_mut(index)
            {
                data.open = true;
                data.file = (kind == OPEN_USE_EXISTING_DEVICE).then_some(file);
                if let Some(stack) = related_stack {
                    data.device_object.StackSize = stack;
                }
            }
            STATUS_SUCCESS
        })
    })
}

unsafe extern "C" fn WdfIoTargetClose(_globals: *mut WDF_DRIVER_GLOBALS, target: *mut c_void) {
    super::pool::as_kernel(|| {
        // Close cancels what is still sent and waits for it to come back.
        let pending = with(|k| {
            k.enter("WdfIoTargetClose", PASSIVE_LEVEL);
            let index = resolve(k, "WdfIoTargetClose", target, "WDFIOTARGET")?;
            match k.wdf.get_mut(index).map(|object| &mut object.body) {
                Some(Body::Target(data)) => {
                    data.open = false;
                    Some(data.pending.clone())
                }
                _ => None,
            }
        })
        .unwrap_or_default();
        for request in pending {
            let sent = with(|k| {
                k.wdf
                    .request(request)
                    .is_some_and(|data| data.state == RequestState::Sent)
            });
            if sent {
                super::machine::target_complete(request, STATUS_CANCELLED, 0);
            }
            super::machine::deliver(request);
        }
    });
}

unsafe extern "C" fn WdfIoTargetGetDevice(
    _globals: *mut WDF_DRIVER_GLOBALS,
    target: *mut c_void,
) -> *mut c_void {
    super::pool::as_kernel(|| {
        with(|k| {
            k.enter("WdfIoTargetGetDevice", DISPATCH_LEVEL);
            let index = resolve(k, "WdfIoTargetGetDevice", target, "WDFIOTARGET")?;
            match k.wdf.get(index).map(|object| &object.body) {
                Some(Body::Target(data)) => Some(k.wdf.handle(data.device) as *mut c_void),
                _ => None,
            }
        })
        .unwrap_or(core::ptr::null_mut())
    })
}

unsafe extern "C" fn WdfIoTargetWdmGetTargetDeviceObject(
    _globals: *mut WDF_DRIVER_GLOBALS,
    target: *mut c_void,
) -> *mut DEVICE_OBJECT {
    super::pool::as_kernel(|| {
        with(|k| {
            k.enter("WdfIoTargetWdmGetTargetDeviceObject", DISPATCH_LEVEL);
            let index = resolve(
                k,
                "WdfIoTargetWdmGetTargetDeviceObject",
                target,
                "WDFIOTARGET",
            )?;
            match k.wdf.get_mut(index).map(|object| &mut object.body) {
                Some(Body::Target(data)) => Some(core::ptr::from_mut(data.device_object.as_mut())),
                _ => None,
            }
        })
        .unwrap_or(core::ptr::null_mut())
    })
}

unsafe extern "C" fn WdfIoTargetFormatRequestForRead(
    _globals: *mut WDF_DRIVER_GLOBALS,
    target: *mut c_void,
    request: *mut c_void,
    memory: *mut c_void,
    _offset: *mut c_void,
    _device_offset: *mut i64,
) -> i32 {
    super::pool::as_kernel(|| {
        with(|k| {
            k.enter("WdfIoTargetFormatRequestForRead", DISPATCH_LEVEL);
            let Some(target_index) =
                resolve(k, "WdfIoTargetFormatRequestForRead", target, "WDFIOTARGET")
            else {
                return STATUS_INVALID_PARAMETER;
            };
            let Some(index) = resolve(k, "WdfIoTargetFormatRequestForRead", request, "WDFREQUEST")
            else {
                return STATUS_INVALID_PARAMETER;
            };
            let memory_index = if memory.is_null() {
                None
            } else {
                match resolve(k, "WdfIoTargetFormatRequestForRead", memory, "WDFMEMORY") {
                    Some(index) => Some(index),
                    None => return STATUS_INVALID_PARAMETER,
                }
            };
            if k.fails("WdfIoTargetFormatRequestForRead") {
                return STATUS_INSUFFICIENT_RESOURCES;
            }
            let owner = memory_index.and_then(|m| match k.wdf.get(m).map(|o| &o.body) {
                Some(Body::Memory { request }) => Some(*request),
                _ => None,
            });
            let Some(data) = k.wdf.request(index) else {
                return STATUS_INVALID_PARAMETER;
            };
            if data.state != RequestState::Owned {
                return STATUS_INVALID_DEVICE_STATE;
            }
            data.formatted = Some((target_index, memory_index));
            data.reads_into = owner;
            STATUS_SUCCESS
        })
    })
}

// ---- the table ---------------------------------------------------------------------------------

/// An untyped table entry.
pub type Entry = Option<unsafe extern "C" fn()>;

macro_rules! entries {
    ($($index:literal => $name:ident),* $(,)?) => {
        /// The methods the sim provides, by `WDFFUNCENUM` index (KMDF 1.33).
        pub const METHODS: &[(usize, &str)] = &[$(($index, stringify!($name))),*];

        /// The function table.
        #[must_use]
        pub fn table() -> Box<[Entry; TABLE_ENTRIES]> {
            let mut table: Box<[Entry; TABLE_ENTRIES]> = Box::new([None; TABLE_ENTRIES]);
            $(
                // SAFETY: the loader stores every method as an untyped function pointer; the
                // binding casts it back to the method's PFN type for its index, which is the
                // signature defined above.
                table[$index] = Some(unsafe {
                    core::mem::transmute::<*const (), unsafe extern "C" fn()>($name as *const ())
                });
            )*
            table
        }
    };
}

entries! {
    25 => WdfControlDeviceInitAllocate,
    27 => WdfControlFinishInitializing,
    31 => WdfDeviceWdmGetDeviceObject,
    54 => WdfDeviceInitFree,
    67 => WdfDeviceInitAssignName,
    71 => WdfDeviceInitSetFileObjectConfig,
    72 => WdfDeviceInitSetRequestAttributes,
    74 => WdfDeviceInitSetIoInCallerContextCallback,
    75 => WdfDeviceCreate,
    80 => WdfDeviceCreateSymbolicLink,
    91 => WdfDeviceEnqueueRequest,
    92 => WdfDeviceGetDefaultQueue,
    116 => WdfDriverCreate,
    139 => WdfFileObjectGetDevice,
    152 => WdfIoQueueCreate,
    154 => WdfIoQueueStart,
    155 => WdfIoQueueStop,
    157 => WdfIoQueueGetDevice,
    167 => WdfIoTargetCreate,
    168 => WdfIoTargetOpen,
    170 => WdfIoTargetClose,
    174 => WdfIoTargetGetDevice,
    178 => WdfIoTargetWdmGetTargetDeviceObject,
    183 => WdfIoTargetFormatRequestForRead,
    202 => WdfObjectGetTypedContextWorker,
    205 => WdfObjectReferenceActual,
    206 => WdfObjectDereferenceActual,
    208 => WdfObjectDelete,
    247 => WdfRequestCreate,
    253 => WdfRequestSend,
    254 => WdfRequestGetStatus,
    258 => WdfRequestCancelSentRequest,
    260 => WdfRequestSetCompletionRoutine,
    265 => WdfRequestCompleteWithInformation,
    266 => WdfRequestGetParameters,
    268 => WdfRequestRetrieveOutputMemory,
    269 => WdfRequestRetrieveInputBuffer,
    270 => WdfRequestRetrieveOutputBuffer,
    277 => WdfRequestGetFileObject,
    315 => WdfSpinLockCreate,
    316 => WdfSpinLockAcquire,
    317 => WdfSpinLockRelease,
}

/// The completion parameters a completion routine gets.
#[must_use]
pub fn completion_params(status: i32, information: usize) -> WDF_REQUEST_COMPLETION_PARAMS {
    WDF_REQUEST_COMPLETION_PARAMS {
        Size: u32::try_from(size_of::<WDF_REQUEST_COMPLETION_PARAMS>()).unwrap_or(u32::MAX),
        Type: REQUEST_TYPE_READ,
        IoStatus: IO_STATUS_BLOCK {
            Status: status,
            Reserved: 0,
            Information: information,
        },
        Parameters: [0; 6],
    }
}

#[allow(
    dead_code,
    reason = "APC_LEVEL is part of the IRQL vocabulary the table uses"
)]
const _: u8 = APC_LEVEL;
