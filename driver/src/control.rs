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

use ferrofilter_core::NtStatus;
use ferrofilter_core::control::{Action, Completion, Dispatch, dispatch};
use ferrofilter_core::ports::SpinLock;
use wdk_sys::{
    PVOID, ULONG, ULONG_PTR, WDFDEVICE, WDFFILEOBJECT, WDFQUEUE, WDFREQUEST,
    call_unsafe_wdf_function_binding,
};

use crate::context::{FileContext, RequestContext, TargetSlot};
use crate::device;
use crate::filter::serve::{self, FileRef};
use crate::lock::WdfSpinLock;
use crate::wdf::check;

mod caller_context;
mod target;

pub use caller_context::{on_io_in_caller_context, on_request_cleanup};
use caller_context::{release_opened, take_opened};
use target::{delete_target, forward, open_target};

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
