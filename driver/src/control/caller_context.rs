//! The control device's work in the caller's context (`EvtIoInCallerContext`): resolving the
//! handle an IOCTL names with the caller's access, and opening the pipe `OPEN_TARGET` names as
//! the caller, before the request reaches the queue.

use alloc::vec::Vec;
use core::ptr;

use ferrofilter_core::NtStatus;
use ferrofilter_core::control::{handle_access, validate_target_name};
use ferrofilter_core::ports::SpinLock;
use ferrofilter_core::protocol::{Command, decode_command};
use wdk_sys::ntddk::{ObReferenceObjectByHandle, ObfDereferenceObject, ZwClose, ZwCreateFile};
use wdk_sys::{
    _WDF_REQUEST_TYPE, ACCESS_MASK, HANDLE, IO_STATUS_BLOCK, IoFileObjectType, OBJECT_ATTRIBUTES,
    PFILE_OBJECT, PVOID, UNICODE_STRING, USHORT, WDF_REQUEST_PARAMETERS, WDFDEVICE, WDFOBJECT,
    WDFREQUEST, call_unsafe_wdf_function_binding,
};

use crate::constants::{
    FILE_NON_DIRECTORY_FILE, FILE_OPEN, GENERIC_READ, KERNEL_MODE, OBJ_FORCE_ACCESS_CHECK,
    OBJ_KERNEL_HANDLE, USER_MODE,
};
use crate::context::{FileContext, Opened, RequestContext};
use crate::wdf::{check, struct_size};

use super::{complete, copy_input};

/// `EVT_WDF_IO_IN_CALLER_CONTEXT` of the control device: resolves the handle of `QUERY_KEYS` /
/// `PURGE_REQUEST` / `INSPECT` in the caller's handle table, or opens the pipe `OPEN_TARGET` names with the
/// caller's access checked, then queues the request.
///
/// # Safety
/// Called by the framework in the requesting thread, at `PASSIVE_LEVEL`, with the live control
/// device and a request it has not queued yet.
pub unsafe extern "C" fn on_io_in_caller_context(device: WDFDEVICE, request: WDFREQUEST) {
    resolve_in_caller_context(request);
    // SAFETY: the request came to this callback and is not queued or completed yet.
    let status =
        unsafe { call_unsafe_wdf_function_binding!(WdfDeviceEnqueueRequest, device, request) };
    if let Err(status) = check(status) {
        release_resolved(request);
        complete(request, status, 0);
    }
}

/// The handle of a filter request, resolved with user-mode access checks into the request's
/// context; the pipe of an `OPEN_TARGET`, opened with the caller's access checked. Other requests
/// are left alone.
pub(super) fn resolve_in_caller_context(request: WDFREQUEST) {
    let mut params = WDF_REQUEST_PARAMETERS {
        Size: u16::try_from(size_of::<WDF_REQUEST_PARAMETERS>()).unwrap_or(u16::MAX),
        ..WDF_REQUEST_PARAMETERS::default()
    };
    // SAFETY: the request is live; `params` is a live local initialized as
    // WDF_REQUEST_PARAMETERS_INIT does.
    unsafe {
        call_unsafe_wdf_function_binding!(WdfRequestGetParameters, request, &raw mut params);
    }
    if params.Type != _WDF_REQUEST_TYPE::WdfRequestTypeDeviceControl {
        return;
    }
    // SAFETY: a device-control request's parameters are `DeviceIoControl`.
    let ioctl = unsafe { params.Parameters.DeviceIoControl };
    let Ok(input) = copy_input(request, ioctl.InputBufferLength) else {
        return;
    };
    let Ok(command) = decode_command(ioctl.IoControlCode, &input) else {
        return;
    };
    if let Command::OpenTarget { name } = command {
        // The core's rule for names first: nothing else is ever opened. A name it refuses is
        // refused again by `dispatch` in EvtIoDeviceControl, with the same status.
        if validate_target_name(name).is_ok() {
            open_in_caller_context(request, name);
        }
        return;
    }
    let (Command::QueryKeys { handle }
    | Command::PurgeRequest { handle }
    | Command::Inspect { handle, .. }) = command
    else {
        return;
    };
    // The core decides what access the named handle must carry.
    let desired_access: ACCESS_MASK = handle_access(&command);
    let mut object: PVOID = ptr::null_mut();
    let status = match usize::try_from(handle) {
        Ok(value) => {
            // SAFETY: reads the exported variable (wdm.h `extern POBJECT_TYPE
            // *IoFileObjectType`), set before any driver loads and never written afterwards.
            let exported = unsafe { IoFileObjectType };
            // SAFETY: it points to the kernel's file object type, live for the system's life.
            let file_object_type = unsafe { *exported };
            // SAFETY: any handle value is acceptable: UserMode makes the object manager validate
            // it against the calling process's handle table (this runs in the caller's thread)
            // and refuse kernel handles; `object` is a live local.
            unsafe {
                ObReferenceObjectByHandle(
                    ptr::without_provenance_mut(value),
                    desired_access,
                    file_object_type,
                    USER_MODE,
                    &raw mut object,
                    ptr::null_mut(),
                )
            }
        }
        Err(_) => NtStatus::INVALID_HANDLE.as_i32(),
    };
    // SAFETY: the request is live and carries a RequestContext.
    let context = unsafe { RequestContext::of(request) };
    // SAFETY: nothing else touches the context before the request is queued.
    let context = unsafe { &mut *context };
    context.resolved_handle = handle;
    if check(status).is_ok() {
        context.resolved = object.cast();
    } else {
        context.resolve_status = status;
    }
}

/// `OPEN_TARGET` in the caller's thread: opens the validated pipe name with the caller's access
/// checked, and leaves the result for this request's `EvtIoDeviceControl`: the opened pipe in the
/// handle's [`TargetSlot::pending`] (replacing, and releasing, one an earlier `OPEN_TARGET` left
/// there), the status in the request's context. `PASSIVE_LEVEL`.
pub(super) fn open_in_caller_context(request: WDFREQUEST, name: &[u8]) {
    let result = open_pipe(name);
    // SAFETY: the request is live and carries a RequestContext.
    let context = unsafe { RequestContext::of(request) };
    // SAFETY: nothing else touches the context before the request is queued.
    let context = unsafe { &mut *context };
    context.open_attempted = true;
    match result {
        Ok(opened) => {
            // SAFETY: the request is live and came through the control device.
            let file_object =
                unsafe { call_unsafe_wdf_function_binding!(WdfRequestGetFileObject, request) };
            // SAFETY: IOCTLs only arrive on handles whose create succeeded, so the context was
            // written; the file object outlives the request.
            let file = unsafe { FileContext::get(file_object.cast()) };
            let replaced = file
                .target
                .with(|slot| slot.pending.replace((request, opened)));
            if let Some((_, earlier)) = replaced {
                release_opened(earlier);
            }
            context.open_status = NtStatus::SUCCESS.as_i32();
        }
        Err(status) => context.open_status = status.as_i32(),
    }
}

/// `ZwCreateFile` of `name` (UTF-16LE bytes) for reading, as the by-name I/O target open did
/// (`GENERIC_READ`, `FILE_OPEN`, `FILE_NON_DIRECTORY_FILE`, no sharing), but as a kernel handle
/// whose open is access-checked like a user-mode one (`OBJ_FORCE_ACCESS_CHECK`) in the caller's
/// thread, so the pipe's security descriptor is checked against the caller's token; then its
/// file object, referenced. `PASSIVE_LEVEL`.
pub(super) fn open_pipe(name: &[u8]) -> Result<Opened, NtStatus> {
    // UTF-16LE bytes to code units, in an aligned buffer that outlives ZwCreateFile.
    let mut units: Vec<u16> = Vec::new();
    units
        .try_reserve_exact(name.len() / 2)
        .map_err(|_| NtStatus::INSUFFICIENT_RESOURCES)?;
    units.extend(
        name.chunks_exact(2)
            .map(|pair| u16::from_le_bytes([pair[0], pair[1]])),
    );
    let length = USHORT::try_from(name.len()).map_err(|_| NtStatus::INVALID_PARAMETER)?;
    let mut object_name = UNICODE_STRING {
        Length: length,
        MaximumLength: length,
        Buffer: units.as_mut_ptr(),
    };
    // InitializeObjectAttributes(&attributes, &object_name, OBJ_KERNEL_HANDLE |
    // OBJ_FORCE_ACCESS_CHECK, NULL, NULL).
    let mut attributes = OBJECT_ATTRIBUTES {
        Length: struct_size::<OBJECT_ATTRIBUTES>(),
        RootDirectory: ptr::null_mut(),
        ObjectName: &raw mut object_name,
        Attributes: OBJ_KERNEL_HANDLE | OBJ_FORCE_ACCESS_CHECK,
        SecurityDescriptor: ptr::null_mut(),
        SecurityQualityOfService: ptr::null_mut(),
    };
    let mut handle: HANDLE = ptr::null_mut();
    let mut io_status = IO_STATUS_BLOCK::default();
    // SAFETY: every pointer refers to a live local (the name's buffer included) for the duration
    // of the call; no allocation size or EA buffer; PASSIVE_LEVEL in the caller's thread.
    let status = unsafe {
        ZwCreateFile(
            &raw mut handle,
            GENERIC_READ,
            &raw mut attributes,
            &raw mut io_status,
            ptr::null_mut(),
            0,
            0,
            FILE_OPEN,
            FILE_NON_DIRECTORY_FILE,
            ptr::null_mut(),
            0,
        )
    };
    check(status)?;
    let mut object: PVOID = ptr::null_mut();
    // SAFETY: reads the exported variable (wdm.h `extern POBJECT_TYPE *IoFileObjectType`), set
    // before any driver loads and never written afterwards.
    let exported = unsafe { IoFileObjectType };
    // SAFETY: it points to the kernel's file object type, live for the system's life.
    let file_object_type = unsafe { *exported };
    // SAFETY: `handle` is the kernel handle just opened; KernelMode because it is a kernel
    // handle (the access was checked by the open); `object` is a live local.
    let status = unsafe {
        ObReferenceObjectByHandle(
            handle,
            0,
            file_object_type,
            KERNEL_MODE,
            &raw mut object,
            ptr::null_mut(),
        )
    };
    if let Err(status) = check(status) {
        // SAFETY: the handle was opened above and is closed once, at PASSIVE_LEVEL. Closing a
        // valid kernel handle does not fail; there is nothing to do if it did.
        let _ = unsafe { ZwClose(handle) };
        return Err(status);
    }
    Ok(Opened {
        handle,
        file_object: object.cast(),
    })
}

/// Releases an opened pipe: drops the file object reference, then closes the kernel handle
/// (which sends the pipe its `IRP_MJ_CLEANUP`). `PASSIVE_LEVEL` (`ZwClose`).
pub(super) fn release_opened(opened: Opened) {
    // SAFETY: the reference ObReferenceObjectByHandle took for this `Opened`, dropped once (the
    // caller took the `Opened` out of its slot).
    unsafe { ObfDereferenceObject(opened.file_object.cast()) };
    // SAFETY: the kernel handle ZwCreateFile returned for this `Opened`, closed once; kernel
    // handles are valid in any thread; callers run at PASSIVE_LEVEL. Closing a valid kernel
    // handle does not fail; there is nothing to do if it did.
    let _ = unsafe { ZwClose(opened.handle) };
}

/// The pipe `on_io_in_caller_context` opened for this `OPEN_TARGET` request, taken out of the
/// handle's slot, or why there is none.
pub(super) fn take_opened(file: &FileContext, request: WDFREQUEST) -> Result<Opened, NtStatus> {
    // SAFETY: the request is live, delivered to the control device, so it carries a context.
    let context = unsafe { RequestContext::of(request) };
    // SAFETY: only this request's callbacks touch its context, one at a time.
    let context = unsafe { &*context };
    let (attempted, status) = (context.open_attempted, context.open_status);
    if !attempted {
        // The caller-context callback decodes the same buffer, so this does not happen.
        return Err(NtStatus::INVALID_DEVICE_STATE);
    }
    check(status)?;
    let taken = file.target.with(|slot| match slot.pending {
        Some((owner, opened)) if owner == request => {
            slot.pending = None;
            Some(opened)
        }
        _ => None,
    });
    // A later OPEN_TARGET on the same handle replaced this one's pipe before it got here.
    taken.ok_or(NtStatus::CANCELLED)
}

/// Drops the reference a request still holds on a resolved file object, if any.
pub(super) fn release_resolved(request: WDFREQUEST) {
    // SAFETY: the request is live and carries a RequestContext.
    let context = unsafe { RequestContext::of(request) };
    // SAFETY: only this request's callbacks touch its context, one at a time.
    let context = unsafe { &mut *context };
    let resolved: PFILE_OBJECT = core::mem::take(&mut context.resolved);
    if !resolved.is_null() {
        // SAFETY: the context held the one reference ObReferenceObjectByHandle took; it was
        // taken out above, so it is dropped once.
        unsafe { ObfDereferenceObject(resolved.cast()) };
    }
}

/// `EvtCleanupCallback` of the control device's requests: a request completed or cancelled
/// without reaching `EvtIoDeviceControl` (e.g. purged from the queue at unload) still drops its
/// file object reference.
///
/// # Safety
/// Called by the framework once per request object, when it is being deleted.
pub unsafe extern "C" fn on_request_cleanup(request: WDFOBJECT) {
    release_resolved(request.cast());
}
