//! A handle's I/O target: opening it on the pipe the caller opened, forwarding reads to it
//! through the core's forwarder, and closing it.

use core::ptr;

use ferrofilter_core::ports::SpinLock;
use ferrofilter_core::{CancelId, NotSent, NtStatus};
use wdk_sys::ntddk::IoGetRelatedDeviceObject;
use wdk_sys::{
    _WDF_IO_TARGET_OPEN_TYPE, NTSTATUS, WDF_IO_TARGET_OPEN_PARAMS, WDFDEVICE, WDFIOTARGET,
    WDFMEMORY, WDFREQUEST, call_unsafe_wdf_function_binding,
};

use crate::context::{FileContext, Opened, SENT_CONTEXT_INFO, SentContext, Target};
use crate::device;
use crate::wdf::{check, object_attributes, struct_size};

use super::{complete, release_opened};

/// `Action::Forward`: create a request for the handle's target, format it as a read into the
/// received request's output memory and give it to the core, which sends it (or completes it
/// when it cannot) and tracks it; the received request is completed when the created one is
/// (`request.rs`). The target is referenced across the hand-over so a concurrent `OPEN_TARGET`
/// cannot free it underneath.
pub(super) fn forward(
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
pub(super) fn create_sent(
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
pub(super) fn open_target(
    device: WDFDEVICE,
    file: &FileContext,
    opened: Opened,
) -> Result<(), NtStatus> {
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
pub(super) fn delete_target(target: Target) {
    close_and_delete(target.io_target);
    release_opened(target.opened);
}

/// Closes and deletes an I/O target. Closing cancels what is still sent on it and waits for those
/// requests to come back through the completion routine; it also drops the reference KMDF took
/// on the file object when it opened the target. `PASSIVE_LEVEL`.
pub(super) fn close_and_delete(target: WDFIOTARGET) {
    // SAFETY: `target` was removed from its slot (or never stored), so this is its only owner.
    unsafe { call_unsafe_wdf_function_binding!(WdfIoTargetClose, target) };
    // SAFETY: as above; other holders keep only counted references, which delay the free.
    unsafe { call_unsafe_wdf_function_binding!(WdfObjectDelete, target.cast()) };
}
