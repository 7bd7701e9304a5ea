//! The control device's callbacks: file create / cleanup / close and `EvtIoDeviceControl`.
//!
//! - Create: counted through the handle gate (`ControlState::open_handle`: refused with
//!   `STATUS_DELETE_PENDING` once unload started), then `Forwarder::open_owner`, kept in the file
//!   object's [`FileContext`] with a spin lock for its I/O target; a failure completes the create
//!   with its status.
//! - Cleanup: `Forwarder::close_owner` (cancels everything the handle forwarded).
//! - Close: deletes the handle's I/O target (every request on it has completed by then: each held
//!   a reference on the file object), then uncounts the handle.
//! - IOCTL: buffers in, `ferrofilter_core::control::dispatch`, then what it says: complete,
//!   forward (format as a read of the handle's target into the output buffer, then
//!   `Forwarder::forward`, which owns the request from then on), open a target, or serve a
//!   filter request (`filter::serve`).
//! - `EvtIoInCallerContext`: `QUERY_KEYS` / `PURGE_REQUEST` name a handle in the *caller's*
//!   handle table, and the queue may call `EvtIoDeviceControl` in another thread, so the handle is
//!   resolved here, in the caller's thread, before the request is queued:
//!   `ObReferenceObjectByHandle(handle, access, *IoFileObjectType, UserMode, ..)`, the access
//!   being `control::handle_access`'s (user-mode rules: a
//!   kernel handle or another type of object is refused). The referenced file object waits in the
//!   request's context; whoever takes it drops the reference (the IOCTL path, a failed enqueue, or
//!   the request's cleanup callback).
//!
//! Unverified here: written from wdfdevice.h, wdffileobject.h, wdfrequest.h, wdfiotarget.h,
//! wdfio.h (KMDF 1.33), nonpnp.c, the KMDF sources (`FxIoTarget`'s stack-location check) and the
//! `ObReferenceObjectByHandle` / `EvtIoInCallerContext` documentation; never run.

use alloc::vec::Vec;
use core::ptr;
use core::slice;

use ferrofilter_core::control::{Dispatch, dispatch, handle_access};
use ferrofilter_core::ports::SpinLock;
use ferrofilter_core::protocol::{Command, decode_command};
use ferrofilter_core::{CancelId, NotSent, NtStatus};
use wdk_sys::ntddk::{ObReferenceObjectByHandle, ObfDereferenceObject};
use wdk_sys::{
    _WDF_IO_TARGET_OPEN_TYPE, _WDF_REQUEST_TYPE, ACCESS_MASK, IoFileObjectType, NTSTATUS,
    PFILE_OBJECT, PVOID, ULONG, ULONG_PTR, UNICODE_STRING, USHORT, WDF_IO_TARGET_OPEN_PARAMS,
    WDF_REQUEST_PARAMETERS, WDFDEVICE, WDFFILEOBJECT, WDFIOTARGET, WDFMEMORY, WDFOBJECT, WDFQUEUE,
    WDFREQUEST, call_unsafe_wdf_function_binding,
};

use crate::constants::{FILE_NON_DIRECTORY_FILE, FILE_OPEN, GENERIC_READ, USER_MODE};
use crate::context::{FileContext, RequestContext};
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
    let target = match WdfSpinLock::create(None, file_object.cast()) {
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

/// `EVT_WDF_FILE_CLOSE`: the file object goes away; release its I/O target.
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
    if let Some(target) = file.target.with(Option::take) {
        delete_target(target);
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
    let decision = dispatch(&control.forwarder, file.owner, code, &input, &mut *output);
    let decision = match decision {
        Dispatch::QueryKeys { handle } => filter_request(output, |filter, output| {
            serve::query_keys(filter, take_resolved(request, handle), output)
        }),
        Dispatch::PurgeRequest { handle } => filter_request(output, |filter, output| {
            serve::purge_request(filter, take_resolved(request, handle), output)
        }),
        Dispatch::PurgeStatus => serve::purge_status(output),
        Dispatch::FilterStats => serve::filter_stats(output),
        other => other,
    };
    match decision {
        Dispatch::Complete {
            status,
            information,
        } => complete(request, status, information),
        Dispatch::Forward { cancel_id } => forward(device, file, request, output_length, cancel_id),
        Dispatch::OpenTarget { name } => {
            let status = match open_target(device, file, name)
                .and_then(|()| control.forwarder.set_target(file.owner, true))
            {
                Ok(()) => NtStatus::SUCCESS,
                Err(status) => status,
            };
            complete(request, status, 0);
        }
        // Served above; anything else is a variant this build does not know.
        _ => complete(request, NtStatus::INVALID_DEVICE_REQUEST, 0),
    }
}

/// Runs a filter request that needs the registered filter (`STATUS_INVALID_DEVICE_STATE` before
/// `DriverEntry` finished or once unload started).
fn filter_request(
    output: &mut [u8],
    serve: impl FnOnce(crate::fltmgr::PFLT_FILTER, &mut [u8]) -> Dispatch<'static>,
) -> Dispatch<'static> {
    match crate::entry::registered_filter() {
        Some(filter) => serve(filter, output),
        None => Dispatch::Complete {
            status: NtStatus::INVALID_DEVICE_STATE,
            information: 0,
        },
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
/// `PURGE_REQUEST` in the caller's handle table, then queues the request.
///
/// # Safety
/// Called by the framework in the requesting thread, at `PASSIVE_LEVEL`, with the live control
/// device and a request it has not queued yet.
pub unsafe extern "C" fn on_io_in_caller_context(device: WDFDEVICE, request: WDFREQUEST) {
    resolve_handle(request);
    // SAFETY: the request came to this callback and is not queued or completed yet.
    let status =
        unsafe { call_unsafe_wdf_function_binding!(WdfDeviceEnqueueRequest, device, request) };
    if let Err(status) = check(status) {
        release_resolved(request);
        complete(request, status, 0);
    }
}

/// The handle of a filter request, resolved with user-mode access checks into the request's
/// context. Other requests are left alone.
fn resolve_handle(request: WDFREQUEST) {
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
    let (Command::QueryKeys { handle } | Command::PurgeRequest { handle }) = command else {
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

/// `Dispatch::Forward`: format the request as a read of the handle's target into its output
/// buffer and give it to the core. The target is referenced across the hand-over so a concurrent
/// `OPEN_TARGET` cannot free it underneath.
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
        if let Some(target) = *slot {
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
        *slot
    });
    let Some(target) = target else {
        // The core checked the owner has a target; a racing close of it lands here.
        return complete(request, NtStatus::INVALID_DEVICE_STATE, 0);
    };
    match format_read(target, request, output_length) {
        Ok(()) => {
            // SAFETY: the request is live and carries a RequestContext; it is not sent yet.
            let context = unsafe { RequestContext::of(request) };
            // SAFETY: nothing else touches the context before the core sends the request.
            unsafe { (*context).target = target };
            match control
                .forwarder
                .forward_reporting(file.owner, request, cancel_id)
            {
                Ok(id) => log!(Trace, "{:?} forwarded {id:?} ({cancel_id:?})", file.owner),
                Err(NotSent { status, drained }) => {
                    log!(Warning, "forward refused: {status:?}");
                    // A failed send that emptied the table is what an unload drain waits for.
                    if drained {
                        control.signal_drained();
                    }
                }
            }
        }
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

/// `WdfIoTargetFormatRequestForRead` into the request's output memory (none for a zero-length
/// output buffer).
fn format_read(
    target: WDFIOTARGET,
    request: WDFREQUEST,
    output_length: usize,
) -> Result<(), NtStatus> {
    let mut memory: WDFMEMORY = ptr::null_mut();
    if output_length != 0 {
        // SAFETY: the request is live and driver-owned; `memory` is a live local.
        let status = unsafe {
            call_unsafe_wdf_function_binding!(
                WdfRequestRetrieveOutputMemory,
                request,
                &raw mut memory
            )
        };
        check(status)?;
    }
    // SAFETY: target and request are live (the target is referenced by the caller); null offsets
    // mean the whole buffer at the file's current position.
    let status: NTSTATUS = unsafe {
        call_unsafe_wdf_function_binding!(
            WdfIoTargetFormatRequestForRead,
            target,
            request,
            memory,
            ptr::null_mut(),
            ptr::null_mut()
        )
    };
    check(status)
}

/// `Dispatch::OpenTarget`: opens the validated pipe name as this handle's I/O target and replaces
/// (closes and deletes) the previous one.
fn open_target(device: WDFDEVICE, file: &FileContext, name: &[u8]) -> Result<(), NtStatus> {
    // UTF-16LE bytes to code units, in an aligned buffer that outlives WdfIoTargetOpen.
    let mut units: Vec<u16> = Vec::new();
    units
        .try_reserve_exact(name.len() / 2)
        .map_err(|_| NtStatus::INSUFFICIENT_RESOURCES)?;
    units.extend(
        name.chunks_exact(2)
            .map(|pair| u16::from_le_bytes([pair[0], pair[1]])),
    );
    let length = USHORT::try_from(name.len()).map_err(|_| NtStatus::INVALID_PARAMETER)?;
    let target_name = UNICODE_STRING {
        Length: length,
        MaximumLength: length,
        Buffer: units.as_mut_ptr(),
    };

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
    check(status)?;

    // WDF_IO_TARGET_OPEN_PARAMS_INIT_OPEN_BY_NAME(&params, &name, GENERIC_READ).
    let mut params = WDF_IO_TARGET_OPEN_PARAMS {
        Size: struct_size::<WDF_IO_TARGET_OPEN_PARAMS>(),
        Type: _WDF_IO_TARGET_OPEN_TYPE::WdfIoTargetOpenByName,
        TargetDeviceName: target_name,
        DesiredAccess: GENERIC_READ,
        CreateDisposition: FILE_OPEN,
        CreateOptions: FILE_NON_DIRECTORY_FILE,
        ..WDF_IO_TARGET_OPEN_PARAMS::default()
    };
    // SAFETY: `target` was just created; `params` and the name buffer it points to are live
    // locals; PASSIVE_LEVEL is guaranteed by the queue's execution level.
    let status =
        unsafe { call_unsafe_wdf_function_binding!(WdfIoTargetOpen, target, &raw mut params) };
    if let Err(status) = check(status) {
        delete_target(target);
        return Err(status);
    }
    make_room_for(device, target);
    if let Some(previous) = file.target.with(|slot| slot.replace(target)) {
        delete_target(previous);
    }
    Ok(())
}

/// A request received by the control device is forwarded in its own IRP, so that IRP needs a
/// stack location for every device of the target's stack: KMDF refuses to send it otherwise
/// (`FxIoTarget::HasEnoughStackLocations` → `STATUS_REQUEST_NOT_ACCEPTED`). The I/O manager sizes
/// IRPs from the device's `StackSize`, so it is raised to the target's depth plus one; IRPs built
/// after this carry enough locations.
fn make_room_for(device: WDFDEVICE, target: WDFIOTARGET) {
    // SAFETY: `device` is the live control device.
    let ours = unsafe { call_unsafe_wdf_function_binding!(WdfDeviceWdmGetDeviceObject, device) };
    // SAFETY: `target` is open, so it has a target device object.
    let theirs =
        unsafe { call_unsafe_wdf_function_binding!(WdfIoTargetWdmGetTargetDeviceObject, target) };
    // SAFETY: `theirs` is the target's device object, referenced by the open target.
    let needed = unsafe { (*theirs).StackSize }.saturating_add(1);
    // SAFETY: `ours` is the control device's DEVICE_OBJECT, live as long as the device.
    let current = unsafe { (*ours).StackSize };
    // SAFETY: as above; the I/O manager reads StackSize when it allocates an IRP, and a single
    // CCHAR store is what IoAttachDevice-style code does too.
    unsafe { (*ours).StackSize = current.max(needed) };
}

/// Closes and deletes an I/O target. Closing cancels what is still sent on it and waits for those
/// requests to come back through the completion routine. `PASSIVE_LEVEL`.
fn delete_target(target: WDFIOTARGET) {
    // SAFETY: `target` was removed from its slot, so this is its only owner.
    unsafe { call_unsafe_wdf_function_binding!(WdfIoTargetClose, target) };
    // SAFETY: as above; other holders keep only counted references, which delay the free.
    unsafe { call_unsafe_wdf_function_binding!(WdfObjectDelete, target.cast()) };
}
