//! The driver, device, queue and file-object methods: creation, configuration, contexts, the
//! control device's symbolic link.
#![allow(non_snake_case, reason = "the framework's method names")]

use super::super::layout::{
    DEVICE_OBJECT, UNICODE_STRING, WDF_DRIVER_CONFIG, WDF_DRIVER_GLOBALS, WDF_FILEOBJECT_CONFIG,
    WDF_IO_QUEUE_CONFIG, WDF_OBJECT_ATTRIBUTES,
};
use super::super::nt::{STATUS_INSUFFICIENT_RESOURCES, STATUS_SUCCESS};
use super::super::{DISPATCH_LEVEL, PASSIVE_LEVEL, with, with_deferred};
use core::ffi::c_void;
use std::collections::VecDeque;

use super::{
    Body, DeviceSetup, InCallerContext, Object, STATUS_INVALID_PARAMETER, out_handle, resolve,
    write_out,
};

pub(super) unsafe extern "C" fn WdfDriverCreate(
    _globals: *mut WDF_DRIVER_GLOBALS,
    driver_object: *mut c_void,
    _registry_path: *const UNICODE_STRING,
    attributes: *const WDF_OBJECT_ATTRIBUTES,
    config: *const WDF_DRIVER_CONFIG,
    driver: *mut *mut c_void,
) -> i32 {
    super::super::pool::as_kernel(|| {
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
                    (*driver_object.cast::<super::super::layout::DRIVER_OBJECT>()).DriverUnload =
                        Some(super::super::machine::kmdf_driver_unload);
                }
                // SAFETY: the driver's out pointer.
                unsafe { write_out(driver, handle as *mut c_void) };
                STATUS_SUCCESS
            }
            Err(status) => status,
        }
    })
}

pub(super) unsafe extern "C" fn WdfControlDeviceInitAllocate(
    _globals: *mut WDF_DRIVER_GLOBALS,
    driver: *mut c_void,
    _sddl: *const UNICODE_STRING,
) -> *mut c_void {
    super::super::pool::as_kernel(|| {
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

pub(super) fn with_init(
    routine: &'static str,
    init: *mut c_void,
    f: impl FnOnce(&mut DeviceSetup),
) {
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

pub(super) unsafe extern "C" fn WdfDeviceInitFree(
    _globals: *mut WDF_DRIVER_GLOBALS,
    init: *mut c_void,
) {
    super::super::pool::as_kernel(|| {
        with_deferred(|k, deferred| {
            k.enter("WdfDeviceInitFree", PASSIVE_LEVEL);
            if let Some(index) = resolve(k, "WdfDeviceInitFree", init, "PWDFDEVICE_INIT") {
                k.wdf.delete(index, deferred);
            }
        });
    });
}

pub(super) unsafe extern "C" fn WdfDeviceInitAssignName(
    _globals: *mut WDF_DRIVER_GLOBALS,
    init: *mut c_void,
    name: *const UNICODE_STRING,
) -> i32 {
    super::super::pool::as_kernel(|| {
        if with(|k| k.fails("WdfDeviceInitAssignName")) {
            return STATUS_INSUFFICIENT_RESOURCES;
        }
        let named = !name.is_null();
        with_init("WdfDeviceInitAssignName", init, |setup| setup.named = named);
        STATUS_SUCCESS
    })
}

pub(super) unsafe extern "C" fn WdfDeviceInitSetFileObjectConfig(
    _globals: *mut WDF_DRIVER_GLOBALS,
    init: *mut c_void,
    config: *const WDF_FILEOBJECT_CONFIG,
    attributes: *const WDF_OBJECT_ATTRIBUTES,
) {
    super::super::pool::as_kernel(|| {
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

pub(super) unsafe extern "C" fn WdfDeviceInitSetIoInCallerContextCallback(
    _globals: *mut WDF_DRIVER_GLOBALS,
    init: *mut c_void,
    callback: Option<InCallerContext>,
) {
    super::super::pool::as_kernel(|| {
        with_init("WdfDeviceInitSetIoInCallerContextCallback", init, |setup| {
            setup.in_caller_context = callback;
        });
    });
}

pub(super) unsafe extern "C" fn WdfDeviceInitSetRequestAttributes(
    _globals: *mut WDF_DRIVER_GLOBALS,
    init: *mut c_void,
    attributes: *const WDF_OBJECT_ATTRIBUTES,
) {
    super::super::pool::as_kernel(|| {
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

pub(super) unsafe extern "C" fn WdfDeviceCreate(
    _globals: *mut WDF_DRIVER_GLOBALS,
    init: *mut *mut c_void,
    attributes: *const WDF_OBJECT_ATTRIBUTES,
    device: *mut *mut c_void,
) -> i32 {
    super::super::pool::as_kernel(|| {
        // SAFETY: the driver passes the address of its init pointer.
        let init_handle = unsafe { *init };
        let created = with_deferred(|k, deferred| {
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
            k.wdf.delete(index, deferred);
            Ok(handle)
        });
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

pub(super) unsafe extern "C" fn WdfDeviceCreateSymbolicLink(
    _globals: *mut WDF_DRIVER_GLOBALS,
    device: *mut c_void,
    _name: *const UNICODE_STRING,
) -> i32 {
    super::super::pool::as_kernel(|| {
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

pub(super) unsafe extern "C" fn WdfControlFinishInitializing(
    _globals: *mut WDF_DRIVER_GLOBALS,
    device: *mut c_void,
) {
    super::super::pool::as_kernel(|| {
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

pub(super) unsafe extern "C" fn WdfDeviceWdmGetDeviceObject(
    _globals: *mut WDF_DRIVER_GLOBALS,
    device: *mut c_void,
) -> *mut DEVICE_OBJECT {
    super::super::pool::as_kernel(|| {
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

pub(super) unsafe extern "C" fn WdfDeviceGetDefaultQueue(
    _globals: *mut WDF_DRIVER_GLOBALS,
    device: *mut c_void,
) -> *mut c_void {
    super::super::pool::as_kernel(|| {
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

pub(super) unsafe extern "C" fn WdfIoQueueCreate(
    _globals: *mut WDF_DRIVER_GLOBALS,
    device: *mut c_void,
    config: *const WDF_IO_QUEUE_CONFIG,
    attributes: *const WDF_OBJECT_ATTRIBUTES,
    queue: *mut *mut c_void,
) -> i32 {
    super::super::pool::as_kernel(|| {
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

pub(super) fn queue_device(routine: &'static str, queue: *mut c_void) -> *mut c_void {
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

pub(super) unsafe extern "C" fn WdfIoQueueGetDevice(
    _globals: *mut WDF_DRIVER_GLOBALS,
    queue: *mut c_void,
) -> *mut c_void {
    super::super::pool::as_kernel(|| queue_device("WdfIoQueueGetDevice", queue))
}

pub(super) fn set_queue_stopped(
    routine: &'static str,
    queue: *mut c_void,
    value: bool,
) -> Vec<u32> {
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

pub(super) unsafe extern "C" fn WdfIoQueueStop(
    _globals: *mut WDF_DRIVER_GLOBALS,
    queue: *mut c_void,
    _callback: super::super::layout::RawFn,
    _context: *mut c_void,
) {
    super::super::pool::as_kernel(|| {
        let _ = set_queue_stopped("WdfIoQueueStop", queue, true);
    });
}

pub(super) unsafe extern "C" fn WdfIoQueueStart(
    _globals: *mut WDF_DRIVER_GLOBALS,
    queue: *mut c_void,
) {
    super::super::pool::as_kernel(|| {
        let waiting = set_queue_stopped("WdfIoQueueStart", queue, false);
        for request in waiting {
            super::super::machine::dispatch_to_queue(request);
        }
    });
}

pub(super) unsafe extern "C" fn WdfDeviceEnqueueRequest(
    _globals: *mut WDF_DRIVER_GLOBALS,
    device: *mut c_void,
    request: *mut c_void,
) -> i32 {
    super::super::pool::as_kernel(|| {
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
                super::super::machine::enqueued(index);
                STATUS_SUCCESS
            }
            Err(status) => status,
        }
    })
}

pub(super) unsafe extern "C" fn WdfFileObjectGetDevice(
    _globals: *mut WDF_DRIVER_GLOBALS,
    file: *mut c_void,
) -> *mut c_void {
    super::super::pool::as_kernel(|| {
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
