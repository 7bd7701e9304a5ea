//! `WDFIOTARGET`: opening a target by name, its state, and the requests sent to it.
#![allow(non_snake_case, reason = "the framework's method names")]

use super::super::layout::{
    DEVICE_OBJECT, WDF_DRIVER_GLOBALS, WDF_IO_TARGET_OPEN_PARAMS, WDF_OBJECT_ATTRIBUTES,
};
use super::super::nt::{STATUS_INSUFFICIENT_RESOURCES, STATUS_SUCCESS};
use super::super::{DISPATCH_LEVEL, PASSIVE_LEVEL, with};
use core::ffi::c_void;

use super::{
    Body, OPEN_BY_NAME, OPEN_USE_EXISTING_DEVICE, Object, RequestState, STATUS_CANCELLED,
    STATUS_INVALID_DEVICE_STATE, STATUS_INVALID_PARAMETER, STATUS_OBJECT_NAME_NOT_FOUND,
    TargetData, out_handle, resolve,
};

pub(super) unsafe extern "C" fn WdfIoTargetCreate(
    _globals: *mut WDF_DRIVER_GLOBALS,
    device: *mut c_void,
    attributes: *const WDF_OBJECT_ATTRIBUTES,
    target: *mut *mut c_void,
) -> i32 {
    super::super::pool::as_kernel(|| {
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

pub(super) unsafe extern "C" fn WdfIoTargetOpen(
    _globals: *mut WDF_DRIVER_GLOBALS,
    target: *mut c_void,
    params: *const WDF_IO_TARGET_OPEN_PARAMS,
) -> i32 {
    super::super::pool::as_kernel(|| {
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

pub(super) unsafe extern "C" fn WdfIoTargetClose(
    _globals: *mut WDF_DRIVER_GLOBALS,
    target: *mut c_void,
) {
    super::super::pool::as_kernel(|| {
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
                super::super::machine::target_complete(request, STATUS_CANCELLED, 0);
            }
            super::super::machine::deliver(request);
        }
    });
}

pub(super) unsafe extern "C" fn WdfIoTargetGetDevice(
    _globals: *mut WDF_DRIVER_GLOBALS,
    target: *mut c_void,
) -> *mut c_void {
    super::super::pool::as_kernel(|| {
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

pub(super) unsafe extern "C" fn WdfIoTargetWdmGetTargetDeviceObject(
    _globals: *mut WDF_DRIVER_GLOBALS,
    target: *mut c_void,
) -> *mut DEVICE_OBJECT {
    super::super::pool::as_kernel(|| {
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

pub(super) unsafe extern "C" fn WdfIoTargetFormatRequestForRead(
    _globals: *mut WDF_DRIVER_GLOBALS,
    target: *mut c_void,
    request: *mut c_void,
    memory: *mut c_void,
    _offset: *mut c_void,
    _device_offset: *mut i64,
) -> i32 {
    super::super::pool::as_kernel(|| {
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
