//! The control device's callbacks: file create / cleanup / close and `EvtIoDeviceControl`.
//!
//! - Create: counted through the handle gate (`ControlState::open_handle`: refused with
//!   `STATUS_DELETE_PENDING` once unload started), then `Forwarder::open_owner`, kept in the file
//!   object's [`FileContext`] with a spin lock for its I/O target; a failure completes the create
//!   with its status.
//! - Cleanup: `Forwarder::close_owner` (cancels everything the handle forwarded).
//! - Close: deletes the handle's I/O target and releases the pipe it was opened over (every
//!   request on it has completed by then: each held a reference on the file object), then
//!   uncounts the handle.
//! - IOCTL: buffers in, `ferrofilter_core::control::dispatch`, then what it says: complete,
//!   forward (a request created for the handle's target with `WdfRequestCreate`, so its IRP has
//!   the target's stack size, formatted as a read into the received request's output memory and
//!   given to `Forwarder::forward_reporting`, which owns it from then on; the received request is
//!   completed when the created one is), open a target, or serve a filter request
//!   (`filter::serve`).
//! - `EvtIoInCallerContext`: `QUERY_KEYS` / `PURGE_REQUEST` / `INSPECT` name a handle in the *caller's*
//!   handle table, and the queue may call `EvtIoDeviceControl` in another thread, so the handle is
//!   resolved here, in the caller's thread, before the request is queued:
//!   `ObReferenceObjectByHandle(handle, access, *IoFileObjectType, UserMode, ..)`, the access
//!   being `control::handle_access`'s (user-mode rules: a
//!   kernel handle or another type of object is refused). The referenced file object waits in the
//!   request's context; whoever takes it drops the reference (the IOCTL path, a failed enqueue, or
//!   the request's cleanup callback).
//! - `OPEN_TARGET` names a pipe, opened in the caller's thread too so that the pipe's security
//!   descriptor is checked against the *caller*: `ZwCreateFile` with `OBJ_KERNEL_HANDLE |
//!   OBJ_FORCE_ACCESS_CHECK` (a kernel handle, with the access check of a user-mode open), then
//!   `ObReferenceObjectByHandle(.., KernelMode, ..)` for its file object. The handle and the file
//!   object wait in the handle's [`TargetSlot`] until `EvtIoDeviceControl` opens the I/O target
//!   over them with `WdfIoTargetOpenUseExistingDevice` (`IoGetRelatedDeviceObject` of the file
//!   object, and the file object itself). KMDF references the file object on that open and
//!   dereferences it on close (fxiotargetremote.cpp); the driver keeps its own reference and the
//!   handle until the target is closed and deleted, then releases both (`release_opened`). The
//!   handle is not closed earlier because closing the last handle of a file object sends
//!   `IRP_MJ_CLEANUP`, after which the pipe refuses I/O on it.
//!
//! Unverified here: written from wdfdevice.h, wdffileobject.h, wdfrequest.h, wdfiotarget.h,
//! wdfio.h (KMDF 1.33), nonpnp.c, the KMDF sources (`FxIoTargetRemote::Open` and `Close` for
//! `WdfIoTargetOpenUseExistingDevice`, `OpenTargetHandle` for the by-name open it replaces) and
//! the `ZwCreateFile` / `ObReferenceObjectByHandle` / `EvtIoInCallerContext` / `WdfRequestCreate`
//! documentation; never run.

use alloc::vec::Vec;
use core::ptr;
use core::slice;

use ferrofilter_core::control::{
    Action, Completion, Dispatch, dispatch, handle_access, validate_target_name,
};
use ferrofilter_core::ports::SpinLock;
use ferrofilter_core::protocol::{Command, decode_command};
use ferrofilter_core::{CancelId, NotSent, NtStatus};
use wdk_sys::ntddk::{
    IoGetRelatedDeviceObject, ObReferenceObjectByHandle, ObfDereferenceObject, ZwClose,
    ZwCreateFile,
};
use wdk_sys::{
    _WDF_IO_TARGET_OPEN_TYPE, _WDF_REQUEST_TYPE, ACCESS_MASK, HANDLE, IO_STATUS_BLOCK,
    IoFileObjectType, NTSTATUS, OBJECT_ATTRIBUTES, PFILE_OBJECT, PVOID, ULONG, ULONG_PTR,
    UNICODE_STRING, USHORT, WDF_IO_TARGET_OPEN_PARAMS, WDF_REQUEST_PARAMETERS, WDFDEVICE,
    WDFFILEOBJECT, WDFIOTARGET, WDFMEMORY, WDFOBJECT, WDFQUEUE, WDFREQUEST,
    call_unsafe_wdf_function_binding,
};

use crate::constants::{
    FILE_NON_DIRECTORY_FILE, FILE_OPEN, GENERIC_READ, KERNEL_MODE, OBJ_FORCE_ACCESS_CHECK,
    OBJ_KERNEL_HANDLE, USER_MODE,
};
use crate::context::{
    FileContext, Opened, RequestContext, SENT_CONTEXT_INFO, SentContext, Target, TargetSlot,
};
use crate::device;
use crate::filter::serve::{self, FileRef};
use crate::lock::WdfSpinLock;
use crate::wdf::{check, object_attributes, struct_size};

fn complete(request: WDFREQUEST, status: NtStatus, information: usize) {
    // SAFETY: the caller owns `request` (delivered to the driver and not yet completed) and does
    // not use it afterwards.
    unsafe {
        call_unsafe_wdf_function_binding!(
            WdfRequestCompleteWithInformation,
            request,
            status.as_i32(),
            information as ULONG_PTR
        );
    }
}

/// `EVT_WDF_DEVICE_FILE_CREATE`: a handle of the control device is being opened.
///
/// # Safety
/// Called by the framework at `PASSIVE_LEVEL` with the live control device, the create request and
/// the new file object. Not in `PAGE`: it takes the forwarder's spin lock.
pub unsafe extern "C" fn on_file_create(
    device: WDFDEVICE,
    request: WDFREQUEST,
    file_object: WDFFILEOBJECT,
) {
    wdk_sys::PAGED_CODE!();
    // SAFETY: the framework passes the live control device.
    let control = unsafe { device::state(device) };
    // The gate first: once unload started no handle is created, and unload sees every handle
    // counted here. Every failure below uncounts it (the close callback does not run for a
    // create that failed).
    if let Err(status) = control.open_handle() {
        log!(Warning, "create refused: {status:?} (unloading)");
        return complete(request, status, 0);
    }
    // The lock next: it can fail, and it needs no undoing (it dies with the file object).
    let target = match WdfSpinLock::create(TargetSlot::default(), file_object.cast()) {
        Ok(lock) => lock,
        Err(status) => {
            control.close_handle();
            return complete(request, status, 0);
        }
    };
    let owner = match control.forwarder.open_owner() {
        Ok(owner) => owner,
        Err(status) => {
            control.close_handle();
            log!(Warning, "create refused: {status:?}");
            return complete(request, status, 0);
        }
    };
    // SAFETY: the file object is live and carries a zero-filled FileContext.
    let context = unsafe { FileContext::of(file_object.cast()) };
    // SAFETY: nobody else can reach the context before the create completes.
    unsafe { context.write(FileContext { owner, target }) };
    log!(Trace, "opened {owner:?}");
    complete(request, NtStatus::SUCCESS, 0);
}

/// `EVT_WDF_FILE_CLEANUP`: the last user handle is closed; cancel what it forwarded.
///
/// # Safety
/// Called by the framework at `PASSIVE_LEVEL` with a file object whose create succeeded. Not in
/// `PAGE`: it takes the forwarder's spin lock.
pub unsafe extern "C" fn on_file_cleanup(file_object: WDFFILEOBJECT) {
    wdk_sys::PAGED_CODE!();
    // SAFETY: the file object is live and belongs to the control device.
    let device = unsafe { call_unsafe_wdf_function_binding!(WdfFileObjectGetDevice, file_object) };
    // SAFETY: its device is the live control device.
    let control = unsafe { device::state(device) };
    // SAFETY: the create of this file object succeeded, so its context was written.
    let file = unsafe { FileContext::get(file_object.cast()) };
    match control.forwarder.close_owner(file.owner) {
        Ok(count) => log!(Trace, "cleanup of {:?}: {count} cancels", file.owner),
        Err(status) => log!(Warning, "cleanup of {:?}: {status:?}", file.owner),
    }
}

/// `EVT_WDF_FILE_CLOSE`: the file object goes away; release its I/O target and any pipe an
/// `OPEN_TARGET` opened that no `EvtIoDeviceControl` took (a request cancelled in the queue).
///
/// # Safety
/// Called by the framework at `PASSIVE_LEVEL` with a file object whose create succeeded. Not in
/// `PAGE`: it takes the target slot's spin lock.
pub unsafe extern "C" fn on_file_close(file_object: WDFFILEOBJECT) {
    wdk_sys::PAGED_CODE!();
    // SAFETY: the file object is live and belongs to the control device.
    let device = unsafe { call_unsafe_wdf_function_binding!(WdfFileObjectGetDevice, file_object) };
    // SAFETY: its device is the live control device.
    let control = unsafe { device::state(device) };
    // SAFETY: the create of this file object succeeded, so its context was written.
    let file = unsafe { FileContext::get(file_object.cast()) };
    let (current, pending) = file
        .target
        .with(|slot| (slot.current.take(), slot.pending.take()));
    if let Some(target) = current {
        delete_target(target);
    }
    if let Some((_, opened)) = pending {
        release_opened(opened);
    }
    control.close_handle();
}

/// `EVT_WDF_IO_QUEUE_IO_DEVICE_CONTROL` of the control device's parallel queue (`PASSIVE_LEVEL`:
/// the queue's execution level).
///
/// # Safety
/// Called by the framework with the live queue and a request it hands to the driver.
pub unsafe extern "C" fn on_device_control(
    queue: WDFQUEUE,
    request: WDFREQUEST,
    output_length: usize,
    input_length: usize,
    code: ULONG,
) {
    // SAFETY: the queue is live and belongs to the control device.
    let device = unsafe { call_unsafe_wdf_function_binding!(WdfIoQueueGetDevice, queue) };
    // SAFETY: its device is the live control device.
    let control = unsafe { device::state(device) };
    // SAFETY: the request is live and came through the control device.
    let file_object =
        unsafe { call_unsafe_wdf_function_binding!(WdfRequestGetFileObject, request) };
    // SAFETY: IOCTLs only arrive on handles whose create succeeded, so the context was written.
    let file = unsafe { FileContext::get(file_object.cast()) };

    // METHOD_BUFFERED: input and output are the same system buffer. The input is copied so the
    // core gets a shared input slice and an exclusive output slice that do not alias.
    let input = match copy_input(request, input_length) {
        Ok(input) => input,
        Err(status) => return complete(request, status, 0),
    };
    let output = match output_buffer(request, output_length) {
        Ok(output) => output,
        Err(status) => return complete(request, status, 0),
    };
    let action = match dispatch(&control.forwarder, file.owner, code, &input, &mut *output) {
        Dispatch::Complete(completion) => return complete_with(request, completion),
        Dispatch::Act(action) => action,
    };
    let completion = match action {
        Action::QueryKeys { handle } => filter_request(output, |filter, output| {
            serve::query_keys(filter, take_resolved(request, handle), output)
        }),
        Action::PurgeRequest { handle } => filter_request(output, |filter, output| {
            serve::purge_request(filter, take_resolved(request, handle), output)
        }),
        Action::Inspect {
            handle,
            offset,
            length,
        } => filter_request(output, |filter, output| {
            serve::inspect(
                filter,
                take_resolved(request, handle),
                offset,
                length,
                output,
            )
        }),
        Action::PurgeStatus => serve::purge_status(output),
        Action::FilterStats => serve::filter_stats(output),
        // The forwarder owns the request from here: it completes it when the read does.
        Action::Forward { cancel_id } => {
            return forward(device, file, request, output_length, cancel_id);
        }
        Action::OpenTarget { name: _ } => {
            let opened = take_opened(file, request)
                .and_then(|opened| open_target(device, file, opened))
                .and_then(|()| control.forwarder.set_target(file.owner, true));
            match opened {
                Ok(()) => Completion::ok(0),
                Err(status) => Completion::fail(status),
            }
        }
    };
    complete_with(request, completion);
}

/// Completes `request` as `completion` says.
fn complete_with(request: WDFREQUEST, completion: Completion) {
    complete(request, completion.status, completion.information);
}

/// Runs a filter request that needs the registered filter (`STATUS_INVALID_DEVICE_STATE` before
/// `DriverEntry` finished or once unload started).
fn filter_request(
    output: &mut [u8],
    serve: impl FnOnce(crate::fltmgr::PFLT_FILTER, &mut [u8]) -> Completion,
) -> Completion {
    match crate::entry::registered_filter() {
        Some(filter) => serve(filter, output),
        None => Completion::fail(NtStatus::INVALID_DEVICE_STATE),
    }
}

/// Takes the file object `on_io_in_caller_context` resolved for `handle` out of the request's
/// context (the reference moves to the result).
fn take_resolved(request: WDFREQUEST, handle: u64) -> Result<FileRef, NtStatus> {
    // SAFETY: the request is live, delivered to the control device, so it carries a context.
    let context = unsafe { RequestContext::of(request) };
    // SAFETY: only this request's callbacks touch its context, one at a time.
    let context = unsafe { &mut *context };
    let resolved = core::mem::take(&mut context.resolved);
    if resolved.is_null() {
        let status = NtStatus::from_i32(context.resolve_status);
        return Err(if status.is_success() {
            NtStatus::INVALID_HANDLE
        } else {
            status
        });
    }
    // SAFETY: `resolved` carries the reference ObReferenceObjectByHandle took; it was taken out
    // of the context, so it is handed over once.
    let file = unsafe { FileRef::new(resolved) };
    // The handle was read from the same system buffer; a mismatch cannot happen, but a file
    // object must never answer for another handle value.
    if context.resolved_handle == handle {
        Ok(file)
    } else {
        Err(NtStatus::INVALID_HANDLE)
    }
}

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
fn resolve_in_caller_context(request: WDFREQUEST) {
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
fn open_in_caller_context(request: WDFREQUEST, name: &[u8]) {
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
fn open_pipe(name: &[u8]) -> Result<Opened, NtStatus> {
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
fn release_opened(opened: Opened) {
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
fn take_opened(file: &FileContext, request: WDFREQUEST) -> Result<Opened, NtStatus> {
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
fn release_resolved(request: WDFREQUEST) {
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

/// The request's input buffer, copied. Zero-length input is an empty copy (the framework refuses
/// to retrieve an empty buffer).
fn copy_input(request: WDFREQUEST, length: usize) -> Result<Vec<u8>, NtStatus> {
    let mut copy = Vec::new();
    if length == 0 {
        return Ok(copy);
    }
    let mut buffer: PVOID = ptr::null_mut();
    let mut got: usize = 0;
    // SAFETY: the request is live and driver-owned; both out pointers are live locals.
    let status = unsafe {
        call_unsafe_wdf_function_binding!(
            WdfRequestRetrieveInputBuffer,
            request,
            0,
            &raw mut buffer,
            &raw mut got
        )
    };
    check(status)?;
    copy.try_reserve_exact(got)
        .map_err(|_| NtStatus::INSUFFICIENT_RESOURCES)?;
    // SAFETY: the framework returned a buffer of `got` readable bytes that stays valid until the
    // request is completed, which happens after this copy.
    copy.extend_from_slice(unsafe { slice::from_raw_parts(buffer.cast::<u8>(), got) });
    Ok(copy)
}

/// The request's output buffer. Zero-length output is an empty slice.
fn output_buffer<'a>(request: WDFREQUEST, length: usize) -> Result<&'a mut [u8], NtStatus> {
    if length == 0 {
        return Ok(&mut []);
    }
    let mut buffer: PVOID = ptr::null_mut();
    let mut got: usize = 0;
    // SAFETY: the request is live and driver-owned; both out pointers are live locals.
    let status = unsafe {
        call_unsafe_wdf_function_binding!(
            WdfRequestRetrieveOutputBuffer,
            request,
            0,
            &raw mut buffer,
            &raw mut got
        )
    };
    check(status)?;
    // SAFETY: the framework returned `got` writable bytes valid until the request is completed
    // or sent; the slice is dropped before either (the input was copied out, so nothing aliases).
    Ok(unsafe { slice::from_raw_parts_mut(buffer.cast::<u8>(), got) })
}

/// `Action::Forward`: create a request for the handle's target, format it as a read into the
/// received request's output memory and give it to the core, which sends it (or completes it
/// when it cannot) and tracks it; the received request is completed when the created one is
/// (`request.rs`). The target is referenced across the hand-over so a concurrent `OPEN_TARGET`
/// cannot free it underneath.
fn forward(
    device: WDFDEVICE,
    file: &FileContext,
    request: WDFREQUEST,
    output_length: usize,
    cancel_id: CancelId,
) {
    // SAFETY: the caller passes the live control device.
    let control = unsafe { device::state(device) };
    let target = file.target.with(|slot| {
        let target = slot.current.map(|current| current.io_target);
        if let Some(target) = target {
            // SAFETY: the target in the slot is live while the slot lock is held (replacing or
            // deleting it takes the lock first).
            unsafe {
                call_unsafe_wdf_function_binding!(
                    WdfObjectReferenceActual,
                    target.cast(),
                    ptr::null_mut(),
                    0,
                    c"control.rs".as_ptr()
                );
            }
        }
        target
    });
    let Some(target) = target else {
        // The core checked the owner has a target; a racing close of it lands here.
        return complete(request, NtStatus::INVALID_DEVICE_STATE, 0);
    };
    match create_sent(target, request, output_length) {
        Ok(sent) => match control
            .forwarder
            .forward_reporting(file.owner, sent, cancel_id)
        {
            Ok(id) => log!(Trace, "{:?} forwarded {id:?} ({cancel_id:?})", file.owner),
            Err(NotSent { status, drained }) => {
                log!(Warning, "forward refused: {status:?}");
                // A failed send that emptied the table is what an unload drain waits for.
                if drained {
                    control.signal_drained();
                }
            }
        },
        Err(status) => complete(request, status, 0),
    }
    // SAFETY: drops the reference taken above; the target stays valid for requests already sent
    // on it (the framework tracks them) and is deleted only by its owner.
    unsafe {
        call_unsafe_wdf_function_binding!(
            WdfObjectDereferenceActual,
            target.cast(),
            ptr::null_mut(),
            0,
            c"control.rs".as_ptr()
        );
    }
}

/// `WdfRequestCreate` for `target` (so the IRP has a stack location for each device of the
/// target's stack; a target whose stack is deeper than that IRP could carry is refused here with
/// `STATUS_REQUEST_NOT_ACCEPTED`), its [`SentContext`] written, formatted with
/// `WdfIoTargetFormatRequestForRead` into `original`'s output memory (none for a zero-length
/// output buffer). On failure nothing is left: the created request is deleted, and the caller
/// completes `original`.
fn create_sent(
    target: WDFIOTARGET,
    original: WDFREQUEST,
    output_length: usize,
) -> Result<WDFREQUEST, NtStatus> {
    let mut memory: WDFMEMORY = ptr::null_mut();
    if output_length != 0 {
        // SAFETY: the original is live and driver-owned; `memory` is a live local.
        let status = unsafe {
            call_unsafe_wdf_function_binding!(
                WdfRequestRetrieveOutputMemory,
                original,
                &raw mut memory
            )
        };
        check(status)?;
    }
    // No parent: the driver object (the default); the request is deleted by `request.rs` when it
    // is done, or below.
    let mut attributes = object_attributes();
    attributes.ContextTypeInfo = SENT_CONTEXT_INFO.unique();
    let mut sent: WDFREQUEST = ptr::null_mut();
    // SAFETY: the attributes and the out handle are live locals; `target` is referenced by the
    // caller.
    let status = unsafe {
        call_unsafe_wdf_function_binding!(
            WdfRequestCreate,
            &raw mut attributes,
            target,
            &raw mut sent
        )
    };
    check(status)?;
    // SAFETY: the request was just created with SENT_CONTEXT_INFO.
    let context = unsafe { SentContext::of(sent) };
    // SAFETY: the context is zero-filled and nobody else knows the request yet.
    unsafe {
        context.write(SentContext {
            original,
            id: 0,
            information: 0,
            target,
        });
    }
    // SAFETY: target and request are live (the target is referenced by the caller); the memory
    // belongs to the original, which stays uncompleted until the created request is deleted;
    // null offsets mean the whole buffer at the file's current position.
    let status: NTSTATUS = unsafe {
        call_unsafe_wdf_function_binding!(
            WdfIoTargetFormatRequestForRead,
            target,
            sent,
            memory,
            ptr::null_mut(),
            ptr::null_mut()
        )
    };
    if let Err(status) = check(status) {
        // SAFETY: created above, never sent or handed to the core; deleted once.
        unsafe { call_unsafe_wdf_function_binding!(WdfObjectDelete, sent.cast()) };
        return Err(status);
    }
    Ok(sent)
}

/// `Action::OpenTarget`: opens the pipe opened in the caller's context as this handle's I/O
/// target and replaces (closes and deletes) the previous one. The target is opened over the
/// existing file object (`WdfIoTargetOpenUseExistingDevice`: its device is
/// `IoGetRelatedDeviceObject` of the file object), so no second, unchecked open happens.
/// `PASSIVE_LEVEL` (the queue's execution level; `WdfIoTargetOpen` requires it).
fn open_target(device: WDFDEVICE, file: &FileContext, opened: Opened) -> Result<(), NtStatus> {
    // SAFETY: the file object is referenced by `opened`.
    let device_object = unsafe { IoGetRelatedDeviceObject(opened.file_object) };
    if device_object.is_null() {
        release_opened(opened);
        return Err(NtStatus::INVALID_DEVICE_STATE);
    }
    let mut attributes = object_attributes();
    let mut target: WDFIOTARGET = ptr::null_mut();
    // SAFETY: `device` is the live control device; attributes and out handle are live locals.
    let status = unsafe {
        call_unsafe_wdf_function_binding!(
            WdfIoTargetCreate,
            device,
            &raw mut attributes,
            &raw mut target
        )
    };
    if let Err(status) = check(status) {
        release_opened(opened);
        return Err(status);
    }

    // WDF_IO_TARGET_OPEN_PARAMS_INIT_EXISTING_DEVICE(&params, device_object), plus the file
    // object the target's requests are sent on.
    let mut params = WDF_IO_TARGET_OPEN_PARAMS {
        Size: struct_size::<WDF_IO_TARGET_OPEN_PARAMS>(),
        Type: _WDF_IO_TARGET_OPEN_TYPE::WdfIoTargetOpenUseExistingDevice,
        TargetDeviceObject: device_object,
        TargetFileObject: opened.file_object,
        ..WDF_IO_TARGET_OPEN_PARAMS::default()
    };
    // SAFETY: `target` was just created; `params` is a live local; the device and file objects
    // stay valid while `opened` holds its reference and handle; PASSIVE_LEVEL.
    let status =
        unsafe { call_unsafe_wdf_function_binding!(WdfIoTargetOpen, target, &raw mut params) };
    if let Err(status) = check(status) {
        close_and_delete(target);
        release_opened(opened);
        return Err(status);
    }
    let new = Target {
        io_target: target,
        opened,
    };
    if let Some(previous) = file.target.with(|slot| slot.current.replace(new)) {
        delete_target(previous);
    }
    Ok(())
}

/// Closes and deletes a handle's I/O target, then releases the pipe it was opened over.
/// `PASSIVE_LEVEL`.
fn delete_target(target: Target) {
    close_and_delete(target.io_target);
    release_opened(target.opened);
}

/// Closes and deletes an I/O target. Closing cancels what is still sent on it and waits for those
/// requests to come back through the completion routine; it also drops the reference KMDF took
/// on the file object when it opened the target. `PASSIVE_LEVEL`.
fn close_and_delete(target: WDFIOTARGET) {
    // SAFETY: `target` was removed from its slot (or never stored), so this is its only owner.
    unsafe { call_unsafe_wdf_function_binding!(WdfIoTargetClose, target) };
    // SAFETY: as above; other holders keep only counted references, which delay the free.
    unsafe { call_unsafe_wdf_function_binding!(WdfObjectDelete, target.cast()) };
}
