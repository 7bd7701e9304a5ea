//! The core's [`RequestOps`] port over `WDFREQUEST`, and the completion routine of sent requests.
//!
//! The handle the core tracks is the request the driver *sends*: one it created with
//! `WdfRequestCreate` for the target (so its IRP has a stack location for every device of the
//! target's stack) and formatted as a read into the received request's output memory
//! (`control.rs`). Its [`SentContext`] names the received request, which is completed when the
//! sent one is done.
//!
//! - `send`: stores the core's [`RequestId`] in the [`SentContext`], sets the completion routine
//!   and calls `WdfRequestSend` to the target the request was created for. A FALSE return means
//!   not sent: the status comes from `WdfRequestGetStatus` and the core completes the request
//!   (SDV `ReqSendFail`).
//! - `complete`: deletes the created request (`WdfObjectDelete`: a created request is never
//!   completed), then completes the received one with `WdfRequestCompleteWithInformation`, the
//!   status and the bytes the target reported (zero for a request that never reached the target).
//!   A reference the cancel path holds keeps the deleted request's handle valid until it drops it.
//! - `reference` / `dereference`: `WdfObjectReferenceActual` / `WdfObjectDereferenceActual` on
//!   the sent request with one tag, so the framework's tag tracker pairs them.
//! - `cancel_sent`: `WdfRequestCancelSentRequest` on the sent request.
//!
//! Unverified here: written from wdfrequest.h / wdfobject.h / wdfiotarget.h (KMDF 1.33) and
//! REFERENCE §1; never run. KMDF Verifier on a VM is what shows this is right.

use core::ffi::{CStr, c_void};
use core::ptr;

use ferrofilter_core::ports::RequestOps;
use ferrofilter_core::{ForwardState, Forwarder, NtStatus, RequestId};
use wdk_sys::{
    LONG, PVOID, PWDF_REQUEST_COMPLETION_PARAMS, WDFCONTEXT, WDFIOTARGET, WDFREQUEST,
    call_unsafe_wdf_function_binding,
};

use crate::context::{ControlContext, SentContext};
use crate::lock::WdfSpinLock;

/// The forwarder over the framework's spin lock and requests.
pub type DriverForwarder = Forwarder<WdfSpinLock<ForwardState<WDFREQUEST>>, WdfRequests>;

/// Tag for the references the cancel path takes (`!wdfkd.wdftagtracker` shows it as `FfCn`).
const REFERENCE_TAG: u32 = u32::from_le_bytes(*b"FfCn");

/// This file's name for the framework's reference tracking.
const SOURCE_FILE: &CStr = match CStr::from_bytes_with_nul(concat!(file!(), "\0").as_bytes()) {
    Ok(name) => name,
    Err(_) => c"request.rs",
};

fn reference_tag() -> PVOID {
    ptr::without_provenance_mut::<c_void>(usize::try_from(REFERENCE_TAG).unwrap_or(usize::MAX))
}

fn source_line(line: u32) -> LONG {
    LONG::try_from(line).unwrap_or(LONG::MAX)
}

/// The request operations. Stateless: every handle carries its own context.
#[derive(Clone, Copy, Debug, Default)]
pub struct WdfRequests;

impl RequestOps for WdfRequests {
    type Handle = WDFREQUEST;

    fn send(&self, request: WDFREQUEST, id: RequestId) -> Result<(), NtStatus> {
        // SAFETY: `request` was created by `control.rs` with a SentContext and is owned by the
        // driver until the send below.
        let context = unsafe { SentContext::of(request) };
        // SAFETY: `context` is this request's context; nothing else touches it before the send
        // (the completion routine reads it only after WdfRequestSend).
        unsafe { (*context).id = id.0 };
        // SAFETY: as above; `control.rs` stored the target when it created the request.
        let target = unsafe { (*context).target };
        // SAFETY: the request is live and driver-owned; the routine matches
        // EVT_WDF_REQUEST_COMPLETION_ROUTINE and needs no context pointer.
        unsafe {
            call_unsafe_wdf_function_binding!(
                WdfRequestSetCompletionRoutine,
                request,
                Some(on_send_complete),
                ptr::null_mut()
            );
        }
        // SAFETY: the request was created and formatted for `target`, which `control.rs` holds a
        // reference on across this call; no spin lock is held here (the core sends outside its lock);
        // null options mean WDF_NO_SEND_OPTIONS.
        let sent = unsafe {
            call_unsafe_wdf_function_binding!(WdfRequestSend, request, target, ptr::null_mut())
        };
        if sent == 0 {
            // SAFETY: a request the framework refused to send is still owned by the driver.
            let status = unsafe { call_unsafe_wdf_function_binding!(WdfRequestGetStatus, request) };
            return Err(NtStatus::from_i32(status));
        }
        Ok(())
    }

    fn complete(&self, request: WDFREQUEST, status: NtStatus) {
        // SAFETY: the core completes a request once, while the created request is still live.
        let context = unsafe { SentContext::of(request) };
        // SAFETY: `context` belongs to the live request; the completion routine wrote
        // `information` (or it is still zero for a request that was never sent); nothing else
        // touches it now.
        let context = unsafe { &*context };
        let (original, information) = (context.original, context.information);
        // Deleted first: it was formatted with the original's output memory, which completing the
        // original releases. SAFETY: the driver created this request and deletes it once, here; a
        // reference the cancel path holds keeps its handle valid until that path dereferences it.
        unsafe { call_unsafe_wdf_function_binding!(WdfObjectDelete, request.cast()) };
        // SAFETY: the original was delivered to the driver and is completed exactly once, here
        // (the core completes each tracked request once); it is not used afterwards.
        unsafe {
            call_unsafe_wdf_function_binding!(
                WdfRequestCompleteWithInformation,
                original,
                status.as_i32(),
                information
            );
        }
    }

    fn reference(&self, request: WDFREQUEST) {
        // SAFETY: the core calls this under its lock while the request is tracked, i.e. before
        // the completion routine untracked it, so the handle is live. The tag and file name are
        // 'static.
        unsafe {
            call_unsafe_wdf_function_binding!(
                WdfObjectReferenceActual,
                request.cast(),
                reference_tag(),
                source_line(line!()),
                SOURCE_FILE.as_ptr()
            );
        }
    }

    fn dereference(&self, request: WDFREQUEST) {
        // SAFETY: drops the reference `reference` took (same tag), which kept the handle live.
        unsafe {
            call_unsafe_wdf_function_binding!(
                WdfObjectDereferenceActual,
                request.cast(),
                reference_tag(),
                source_line(line!()),
                SOURCE_FILE.as_ptr()
            );
        }
    }

    fn cancel_sent(&self, request: WDFREQUEST) -> bool {
        // SAFETY: the caller holds a reference taken under the lock, so the handle is valid even
        // if the request completed since; cancelling a completed request is a no-op.
        let attempted =
            unsafe { call_unsafe_wdf_function_binding!(WdfRequestCancelSentRequest, request) };
        attempted != 0
    }
}

/// `EVT_WDF_REQUEST_COMPLETION_ROUTINE` of every sent request: records the bytes the target
/// transferred and hands the request back to the core, which untracks it and completes the
/// original (`complete`).
///
/// # Safety
/// Called by the framework with a live request it returns to the driver, the target it was
/// sent to, and valid completion parameters.
unsafe extern "C" fn on_send_complete(
    request: WDFREQUEST,
    target: WDFIOTARGET,
    params: PWDF_REQUEST_COMPLETION_PARAMS,
    _context: WDFCONTEXT,
) {
    // SAFETY: the framework passes parameters valid for the duration of this callback.
    let information = unsafe { (*params).IoStatus.Information };
    // SAFETY: every sent request was created by `control.rs` with a SentContext.
    let context = unsafe { SentContext::of(request) };
    // SAFETY: the request is back with the driver; only this routine touches its context now.
    unsafe { (*context).information = information };
    // SAFETY: as above.
    let id = RequestId(unsafe { (*context).id });
    // SAFETY: the request is live; this reads the status the target completed it with.
    let status = unsafe { call_unsafe_wdf_function_binding!(WdfRequestGetStatus, request) };
    let status = NtStatus::from_i32(status);
    // SAFETY: the target was created for the control device and is live during its completions.
    let device = unsafe { call_unsafe_wdf_function_binding!(WdfIoTargetGetDevice, target) };
    // SAFETY: `device` is the live control device: it outlives every request sent for it
    // (unload drains them before deleting it).
    let context = unsafe { ControlContext::of(device.cast()) };
    // SAFETY: the device is initialized: requests are only forwarded after `init`.
    let control = unsafe { ControlContext::state(context) };
    match control.forwarder.on_send_complete(id, status) {
        Ok(completion) if completion.drained => control.signal_drained(),
        Ok(_) => {}
        Err(error) => log!(
            Error,
            "completion of untracked {id:?} ({status:?}): {error:?}"
        ),
    }
}
